package scheduler

import (
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

func TestCache_AssumeConfirmForgetExpire(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Unix(1_700_000_000, 0))
	c := NewCache(clk, 30*time.Second)
	c.AddNode(makeNode("n", "2", "2Gi", 110, nil))
	snap := NewSnapshot()

	p := makePod("ns", "a", "500m", "")
	p.Spec.NodeName = "n"
	if err := c.AssumePod(framework.NewPodInfo(p)); err != nil {
		t.Fatal(err)
	}
	c.UpdateSnapshot(snap)
	if got := snap.Get("n").Requested.MilliCPU; got != 500 {
		t.Fatalf("assumed pod not charged: %dm", got)
	}
	// Forget (bind failed) frees the capacity.
	c.ForgetPod(p)
	c.UpdateSnapshot(snap)
	if got := snap.Get("n").Requested.MilliCPU; got != 0 {
		t.Fatalf("forgotten pod still charged: %dm", got)
	}
	// Assume, finish binding, never confirmed: expires after the ttl.
	_ = c.AssumePod(framework.NewPodInfo(p))
	c.FinishBinding(p)
	clk.Step(29 * time.Second)
	if n := c.CleanupExpired(); n != 0 {
		t.Fatal("expired early")
	}
	clk.Step(2 * time.Second)
	if n := c.CleanupExpired(); n != 1 {
		t.Fatal("assumed pod did not expire")
	}
	// Assume then confirm: never expires.
	_ = c.AssumePod(framework.NewPodInfo(p))
	c.FinishBinding(p)
	c.AddPod(p)
	clk.Step(time.Hour)
	if n := c.CleanupExpired(); n != 0 || c.IsAssumed(p) {
		t.Fatal("confirmed pod expired")
	}
	c.RemovePod(p)
	c.UpdateSnapshot(snap)
	if got := len(snap.Get("n").Pods); got != 0 {
		t.Fatalf("%d pods after removal", got)
	}
}

func TestCache_SnapshotCopiesOnlyChangedNodes(t *testing.T) {
	c := NewCache(testingclock.NewFakeClock(time.Now()), time.Minute)
	c.AddNode(makeNode("a", "1", "1Gi", 110, nil))
	c.AddNode(makeNode("b", "1", "1Gi", 110, nil))
	snap := NewSnapshot()
	c.UpdateSnapshot(snap)
	a0, b0 := snap.Get("a"), snap.Get("b")
	p := makePod("ns", "p", "100m", "")
	p.Spec.NodeName = "a"
	c.AddPod(p)
	c.UpdateSnapshot(snap)
	if snap.Get("b") != b0 {
		t.Error("unchanged node b was copied")
	}
	if snap.Get("a") == a0 || len(a0.Pods) != 0 {
		t.Error("node a not refreshed, or the old snapshot entry was mutated")
	}
	if len(snap.List()) != 2 {
		t.Fatalf("list has %d nodes", len(snap.List()))
	}
	c.RemoveNode("b")
	c.UpdateSnapshot(snap)
	if len(snap.List()) != 1 || snap.Get("b") != nil {
		t.Fatal("removed node still listed")
	}
}
