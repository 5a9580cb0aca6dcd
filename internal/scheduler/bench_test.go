package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// noopBinder binds instantly, so the benchmark measures the scheduling
// algorithm, queue and cache without an API server.
type noopBinder struct{}

func (noopBinder) Name() string { return "NoopBinder" }
func (noopBinder) Bind(context.Context, *framework.CycleState, *v1.Pod, string) *framework.Status {
	return nil
}

func newBenchScheduler(tb testing.TB, nodes int) *Scheduler {
	tb.Helper()
	cfg, err := ParseConfig([]byte(header + `profiles:
- plugins:
    bind:
      disabled: [{name: DefaultBinder}]
      enabled: [{name: NoopBinder}]
`))
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(fake.NewClientset(), Options{Config: cfg, Registerer: prometheus.NewRegistry(),
		Registry: framework.Registry{"NoopBinder": func(json.RawMessage, framework.Handle) (framework.Plugin, error) { return noopBinder{}, nil }}})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range nodes {
		s.cache.AddNode(makeNode(fmt.Sprintf("node-%03d", i), "32", "128Gi", 110, map[string]string{"zone": fmt.Sprintf("z%d", i%3)}))
	}
	return s
}

// scheduleAll drains the queue on this goroutine, like Run's loop.
func scheduleAll(s *Scheduler, n int) {
	ctx := context.Background()
	for range n {
		qpi, cycle := s.queue.Pop()
		s.scheduleOne(ctx, qpi, cycle)
	}
	s.bindWG.Wait()
}

// TestThroughput_5000PodsOn500Nodes reports the algorithm's pods/s (the
// API server is not part of this number) and checks nothing over-commits.
func TestThroughput_5000PodsOn500Nodes(t *testing.T) {
	if testing.Short() {
		t.Skip("throughput check")
	}
	s := newBenchScheduler(t, 500)
	const pods = 5000
	for i := range pods {
		s.queue.Add(makePod("default", fmt.Sprintf("p%05d", i), "100m", "128Mi"))
	}
	start := time.Now()
	scheduleAll(s, pods)
	el := time.Since(start)
	t.Logf("scheduled %d pods on 500 nodes in %v: %.0f pods/s (algorithm only)", pods, el, pods/el.Seconds())
	total := 0
	for name, ni := range s.cache.Dump() {
		total += len(ni.Pods)
		if ni.Requested.MilliCPU > ni.Allocatable.MilliCPU || int64(len(ni.Pods)) > ni.Allocatable.AllowedPodNumber {
			t.Errorf("node %s over-committed", name)
		}
	}
	if total != pods {
		t.Fatalf("%d pods placed, want %d", total, pods)
	}
}

func BenchmarkScheduleOne_500Nodes(b *testing.B) {
	s := newBenchScheduler(b, 500)
	for i := range b.N {
		s.queue.Add(makePod("default", fmt.Sprintf("p%07d", i), "1m", "1Mi"))
	}
	b.ResetTimer()
	scheduleAll(s, b.N)
}
