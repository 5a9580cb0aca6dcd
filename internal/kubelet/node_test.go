package kubelet

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// versionOnly is a runtime that only answers Version (all the heartbeat asks).
type versionOnly struct{ Runtime }

func (versionOnly) Version(context.Context) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{RuntimeName: "fake", RuntimeVersion: "1"}, nil
}

// verbs lists "verb resource[/sub]" of the client's recorded calls and forgets them.
func verbs(c *fake.Clientset) []string {
	var out []string
	for _, a := range c.Actions() {
		r := a.GetResource().Resource
		if a.GetSubresource() != "" {
			r += "/" + a.GetSubresource()
		}
		out = append(out, a.GetVerb()+" "+r)
	}
	c.ClearActions()
	return out
}

func TestLeaseRenewedWithoutReads(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	h := &heartbeat{cfg: Config{NodeName: "n1", Client: client, LeaseDuration: 40 * time.Second}}
	for range 3 {
		h.renewLease(ctx)
	}
	if got, want := strings.Join(verbs(client), ","), "get leases,create leases,update leases,update leases"; got != want {
		t.Fatalf("three renewals made %s, want %s", got, want)
	}
	// The Lease deleted behind the kubelet's back: the blind update fails, and
	// the kubelet reads and recreates it.
	if err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(ctx, "n1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	client.ClearActions()
	h.renewLease(ctx)
	if got, want := strings.Join(verbs(client), ","), "update leases,get leases,create leases"; got != want {
		t.Fatalf("renewal after deletion made %s, want %s", got, want)
	}
	l, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "n1", metav1.GetOptions{})
	if err != nil || l.Spec.RenewTime == nil || *l.Spec.HolderIdentity != "n1" {
		t.Fatalf("lease after recreation: %+v, %v", l, err)
	}
}

func TestNodeStatusWrittenWhenChangedOrDue(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	nodes := cache.NewSharedIndexInformer(&cache.ListWatch{}, &corev1.Node{}, 0, cache.Indexers{})
	h := &heartbeat{
		cfg: Config{NodeName: "n1", Client: client, Runtime: versionOnly{}, NodeIP: net.ParseIP("10.0.0.1"),
			Port: 10250, StatusReportPeriod: time.Hour},
		machine: &MachineInfo{CPUs: 2, MemoryBytes: 1 << 30, OperatingSystem: "linux", Architecture: "amd64"},
		network: newNetworkState("", ""),
		nodes:   nodes,
	}
	// refresh puts the API's current node in the informer, as its watch would.
	refresh := func() *corev1.Node {
		n, err := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := nodes.GetStore().Update(n); err != nil {
			t.Fatal(err)
		}
		client.ClearActions()
		return n
	}
	refresh()

	h.syncStatus(ctx, true)
	if got := verbs(client); len(got) != 1 || got[0] != "patch nodes/status" {
		t.Fatalf("first sync made %v, want one status patch", got)
	}
	n := refresh()
	if c := readyCondition(n); c == nil || c.Status != corev1.ConditionTrue {
		t.Fatalf("after the first patch Ready is %+v", c)
	}
	h.syncStatus(ctx, true)
	h.syncStatus(ctx, false)
	if got := verbs(client); len(got) != 0 {
		t.Fatalf("unchanged status before the report period made %v, want no calls", got)
	}

	// The report period passed: the status is written again, and the patch
	// carries only what changed (heartbeat times), not capacity or node info.
	n = refresh()
	for i := range n.Status.Conditions {
		n.Status.Conditions[i].LastHeartbeatTime = metav1.NewTime(time.Now().Add(-2 * time.Hour))
	}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	refresh()
	h.lastReport = time.Now().Add(-2 * time.Hour)
	h.syncStatus(ctx, true)
	acts := client.Actions()
	if len(acts) != 1 {
		t.Fatalf("due report made %v, want one patch", verbs(client))
	}
	patch := string(acts[0].(k8stesting.PatchAction).GetPatch())
	if strings.Contains(patch, "capacity") || strings.Contains(patch, "nodeInfo") || !strings.Contains(patch, "lastHeartbeatTime") {
		t.Errorf("periodic patch should carry only heartbeat times: %s", patch)
	}
	refresh()

	// The node controller marks the node Unknown: the kubelet sets it back at once.
	n = refresh()
	readyCondition(n).Status = corev1.ConditionUnknown
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	refresh()
	h.syncStatus(ctx, false)
	if c := readyCondition(refresh()); c.Status != corev1.ConditionTrue {
		t.Fatalf("Ready after the kubelet's correction: %s", c.Status)
	}
}

func readyCondition(n *corev1.Node) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}
