package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/storage"
)

func TestMetrics(t *testing.T) {
	ctx, cancel := context.WithCancel(storage.ContextForTest(t))
	defer cancel()
	prefix := storage.KeyRootForTest(t) + "/registry/pods/"
	s, err := storage.New(ctx, storage.Config{
		Client: storage.TestEtcdClient, Prefix: prefix,
		Resource: schema.GroupResource{Group: "metrics.test", Resource: "pods"},
		NewFunc:  func() runtime.Object { return &corev1.Pod{} }, Codec: protoCodec,
	})
	if err != nil {
		t.Fatal(err)
	}
	creates := histogramCount(t, "create", "pods.metrics.test") // counters outlive -count=N runs
	if _, err := s.Create(ctx, prefix+"d/a", newPod("d", "a"), false); err != nil {
		t.Fatal(err)
	}
	w, err := s.Watch(ctx, prefix, storage.WatchOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if got := watchers(t, "pods.metrics.test"); got != 1 {
		t.Errorf("registered watchers = %v with one open watch", got)
	}
	if n := histogramCount(t, "create", "pods.metrics.test") - creates; n != 1 {
		t.Errorf("create latency samples grew by %d, want 1", n)
	}
	w.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for watchers(t, "pods.metrics.test") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("watcher gauge not decremented after Stop")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func gather(t *testing.T, name string) []map[string]any {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			row := map[string]any{}
			for _, l := range m.GetLabel() {
				row[l.GetName()] = l.GetValue()
			}
			if g := m.GetGauge(); g != nil {
				row["value"] = g.GetValue()
			}
			if h := m.GetHistogram(); h != nil {
				row["count"] = h.GetSampleCount()
			}
			out = append(out, row)
		}
	}
	return out
}

func watchers(t *testing.T, resource string) float64 {
	for _, row := range gather(t, "skiff_apiserver_registered_watchers") {
		if row["resource"] == resource {
			return row["value"].(float64)
		}
	}
	return 0
}

func histogramCount(t *testing.T, op, typ string) uint64 {
	for _, row := range gather(t, "skiff_etcd_request_duration_seconds") {
		if row["operation"] == op && row["type"] == typ {
			return row["count"].(uint64)
		}
	}
	return 0
}
