package proxy

import (
	"context"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestKernelRunFollowsTheAPI runs the whole proxier against a real API server and
// a throwaway namespace: objects written through the API become working rules.
func TestKernelRunFollowsTheAPI(t *testing.T) {
	requireKernel(t)
	ns := testNetns(t, "10.42.0.1/24", "10.42.0.5/32", "10.42.0.6/32")
	serveName(t, ns, "10.42.0.5:8080", "a")
	serveName(t, ns, "10.42.0.6:8080", "b")
	srv := testserver.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	syncs := make(chan SyncStats, 100)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, srv.Client, Config{
			RulesConfig:     RulesConfig{NodeName: "n1", ClusterCIDR: "10.42.0.0/16", Mode: ModeNFTables, CommandPrefix: []string{"ip", "netns", "exec", ns}},
			MinSyncInterval: 50 * time.Millisecond, Logf: t.Logf,
			OnSync: func(st SyncStats, err error) {
				if err != nil {
					t.Errorf("sync: %v", err)
				}
				select {
				case syncs <- st:
				default:
				}
			},
		})
	}()

	s := svc("default", "web", "", tcpPort("http", 80, "8080"))
	created, err := srv.Client.CoreV1().Services("default").Create(ctx, s, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vip := created.Spec.ClusterIP + ":80"
	sl := slice("default", "web", "web-1", map[string]int32{"http": 8080}, readyEP("10.42.0.5", "n1"))
	if _, err := srv.Client.DiscoveryV1().EndpointSlices("default").Create(ctx, sl, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ClusterIP "+vip+" answers a", func() bool {
		got, err := ask(t, ns, vip, 3)
		return err == nil && got["a"] == 3
	})

	cur, err := srv.Client.DiscoveryV1().EndpointSlices("default").Get(ctx, "web-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Endpoints = slice("default", "web", "web-1", nil, readyEP("10.42.0.6", "n1")).Endpoints
	if _, err := srv.Client.DiscoveryV1().EndpointSlices("default").Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "endpoint change reaches the kernel", func() bool {
		got, err := ask(t, ns, vip, 3)
		return err == nil && got["b"] == 3
	})
	if err := srv.Client.DiscoveryV1().EndpointSlices("default").DeleteCollection(ctx, metav1.DeleteOptions{},
		metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "no endpoints → rejected", func() bool {
		_, err := ask(t, ns, vip, 1)
		return err != nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var full int
	for len(syncs) > 0 {
		if (<-syncs).Full {
			full++
		}
	}
	if full != 1 {
		t.Fatalf("%d full syncs, want exactly the first one", full)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
