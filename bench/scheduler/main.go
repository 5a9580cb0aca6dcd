// Command scheduler-bench measures pods bound per second, the way ../../ANCHORS.md
// measured kube-scheduler: N pods (100m cpu, tolerate all) onto M Node objects.
//
//	go run ./bench/scheduler -skiff bin/skiff -nodes 500 -pods 5000
//
// Two figures: "with creates" (pods created by 16 workers while the in-process
// scheduler binds them; first create → last bound) and "scheduler alone" (all pods
// waiting, then a separate `skiff scheduler` process starts; start → last bound).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/skiff-sh/skiff/bench/benchutil"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

func main() {
	bin := flag.String("skiff", "bin/skiff", "skiff binary")
	nodes := flag.Int("nodes", 500, "Node objects")
	pods := flag.Int("pods", 5000, "pods to schedule")
	flag.Parse()
	fmt.Printf("# Skiff scheduler benchmark: %d pods onto %d nodes (%s)\n\n", *pods, *nodes, time.Now().UTC().Format(time.RFC3339))
	withCreates(*bin, *nodes, *pods)
	alone(*bin, *nodes, *pods)
}

func withCreates(bin string, nodes, pods int) {
	dir := benchutil.TempDir("skiff-sched-bench-")
	defer os.RemoveAll(dir)
	srv := benchutil.Start(bin, "server", "--data-dir", dir, "--https-port", "0", "--bind-address", "127.0.0.1", "--disable-agent", "--disable-controller-manager")
	defer benchutil.Kill(srv)
	c := benchutil.Client(dir, 100000, 100000)
	makeNodes(c, nodes)
	w := newBindWatch(c, pods)
	start := time.Now()
	createPods(c, pods)
	created := time.Since(start)
	lat := w.wait()
	total := time.Since(start)
	fmt.Printf("with creates (16 workers, in-process scheduler): created in %v; first create → last bound %v = %.0f pods/s; create→bound p50 %v p99 %v\n",
		created.Round(time.Millisecond), total.Round(time.Millisecond), float64(pods)/total.Seconds(), benchutil.Percentile(lat, 50), benchutil.Percentile(lat, 99))
	checkNoOvercommit(c)
}

func alone(bin string, nodes, pods int) {
	dir := benchutil.TempDir("skiff-sched-bench-")
	defer os.RemoveAll(dir)
	srv := benchutil.Start(bin, "apiserver", "--data-dir", dir, "--https-port", "0", "--bind-address", "127.0.0.1")
	defer benchutil.Kill(srv)
	c := benchutil.Client(dir, 100000, 100000)
	makeNodes(c, nodes)
	createPods(c, pods)
	w := newBindWatch(c, pods)
	begin := time.Now()
	sched := exec.Command(bin, "scheduler", "--kubeconfig", filepath.Join(dir, "kubeconfig"), "--bind-address", "")
	benchutil.Must(sched.Start())
	defer benchutil.Kill(sched)
	lat := w.wait()
	total := time.Since(begin)
	_ = lat
	fmt.Printf("scheduler alone (%d pods waiting, separate process incl. its start-up and informer sync): %v = %.0f pods/s\n",
		pods, total.Round(time.Millisecond), float64(pods)/total.Seconds())
	checkNoOvercommit(c)
}

type bindWatch struct {
	done chan []time.Duration
}

// newBindWatch counts pods whose spec.nodeName becomes set; latency is bound-seen − creationTimestamp.
func newBindWatch(c *kubernetes.Clientset, want int) *bindWatch {
	w, err := c.CoreV1().Pods("default").Watch(context.Background(), metav1.ListOptions{})
	benchutil.Must(err)
	b := &bindWatch{done: make(chan []time.Duration, 1)}
	go func() {
		bound := map[string]bool{}
		var lat []time.Duration
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				continue
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || p.Spec.NodeName == "" || bound[p.Name] {
				continue
			}
			bound[p.Name] = true
			// creationTimestamp has one-second resolution; the create call's own
			// start time is the precise one.
			if t0, ok := createdAt.Load(p.Name); ok {
				lat = append(lat, time.Since(t0.(time.Time)))
			}
			if len(bound) == want {
				w.Stop()
				b.done <- lat
				return
			}
		}
	}()
	return b
}

func (b *bindWatch) wait() []time.Duration {
	select {
	case l := <-b.done:
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		return l
	case <-time.After(10 * time.Minute):
		panic("pods not all bound within 10 minutes")
	}
}

func makeNodes(c *kubernetes.Clientset, n int) {
	benchutil.Parallel(n, func(i int) {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%05d", i),
			Labels: map[string]string{"kubernetes.io/hostname": fmt.Sprintf("node-%05d", i)}},
			Status: corev1.NodeStatus{
				Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110")},
				Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110")},
				Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}},
			}}
		_, err := c.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{})
		benchutil.Must(err)
	})
}

// createdAt records when each pod's create request was sent.
var createdAt sync.Map

func createPods(c *kubernetes.Clientset, n int) {
	benchutil.Parallel(n, func(i int) {
		createdAt.Store(fmt.Sprintf("pod-%06d", i), time.Now())
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%06d", i)},
			Spec: corev1.PodSpec{Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
				Containers: []corev1.Container{{Name: "c", Image: "skiff.local/pause:1",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}}}
		_, err := c.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{})
		benchutil.Must(err)
	})
}

// checkNoOvercommit verifies no node got more than its 4 CPUs of 100m pods.
func checkNoOvercommit(c *kubernetes.Clientset) {
	l, err := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	benchutil.Must(err)
	per := map[string]int{}
	for _, p := range l.Items {
		per[p.Spec.NodeName]++
	}
	for n, k := range per {
		if n != "" && k > 40 {
			panic(fmt.Sprintf("node %s over-committed: %d pods of 100m on 4 CPUs", n, k))
		}
	}
}
