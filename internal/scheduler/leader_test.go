package scheduler

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestScheduler_LeaderElectionTakesLeaseThenSchedules(t *testing.T) {
	fc := newFakeCluster(t, makeNode("n", "1", "1Gi", 110, nil))
	startScheduler(t, fc, Options{LeaderElect: true, Identity: "me"})
	createPod(t, fc, makePod("default", "p", "100m", ""))
	eventually(t, 10*time.Second, "binding under leadership", func() bool { return fc.bindings()["default/p"] == "n" })
	lease, err := fc.client.CoordinationV1().Leases("kube-system").Get(context.Background(), "skiff-scheduler", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("lease: %v", err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "me" {
		t.Fatalf("holder %v", lease.Spec.HolderIdentity)
	}
}

func TestScheduler_HandlerServesHealthAndMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	fc := newFakeCluster(t, makeNode("n", "1", "1Gi", 110, nil))
	s := startScheduler(t, fc, Options{Registerer: reg})
	createPod(t, fc, makePod("default", "ok", "100m", ""))
	createPod(t, fc, makePod("default", "too-big", "2", ""))
	eventually(t, 5*time.Second, "binding", func() bool { return fc.bindings()["default/ok"] == "n" })
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	get := func(path string) string {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if h := get("/healthz"); h != "ok" {
		t.Fatalf("healthz %q", h)
	}
	eventually(t, 5*time.Second, "attempt metrics", func() bool {
		m := get("/metrics")
		return strings.Contains(m, `scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"} 1`) &&
			strings.Contains(m, `scheduler_schedule_attempts_total{profile="default-scheduler",result="unschedulable"}`) &&
			strings.Contains(m, "scheduler_pod_scheduling_duration_seconds_count")
	})
	eventually(t, 3*time.Second, "pending gauge", func() bool {
		return strings.Contains(get("/metrics"), `scheduler_pending_pods{queue="unschedulable"} 1`)
	})
}
