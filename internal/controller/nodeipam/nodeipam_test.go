package nodeipam

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"

	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
)

func TestCIDRSet(t *testing.T) {
	s, err := newCIDRSet("10.42.0.0/16", 24)
	if err != nil {
		t.Fatal(err)
	}
	if !s.occupy("10.42.0.0/24") {
		t.Fatal("occupy own block failed")
	}
	if s.occupy("10.43.0.0/24") {
		t.Fatal("foreign block accepted")
	}
	got, _ := s.allocate()
	if got != "10.42.1.0/24" {
		t.Fatalf("allocate = %s, want 10.42.1.0/24", got)
	}
	small, _ := newCIDRSet("10.0.0.0/30", 31)
	a, _ := small.allocate()
	b, _ := small.allocate()
	if _, err := small.allocate(); err != ErrFull || a == b {
		t.Fatalf("exhaustion: %s %s %v", a, b, err)
	}
	small.release(a)
	if c, err := small.allocate(); err != nil || c != a {
		t.Fatalf("released block not reused: %s %v", c, err)
	}
}

func TestAllocateRebuildRelease(t *testing.T) {
	existing := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "old"}, Spec: corev1.NodeSpec{PodCIDR: "10.42.0.0/24", PodCIDRs: []string{"10.42.0.0/24"}}}
	client := ctrltest.NewClientset(existing, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}})
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := New(client, f, Options{ClusterCIDR: "10.42.0.0/16", NodeCIDRMaskSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(f.Shutdown)
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	go c.Run(ctx, 1)
	cidrOf := func(name string) string {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "gone"
		}
		if len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
			return "inconsistent"
		}
		return n.Spec.PodCIDR
	}
	ctrltest.Eventually(t, 5*time.Second, "n1 gets the block after the existing one", func() bool { return cidrOf("n1") == "10.42.1.0/24" })
	if _, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, "n2 allocated", func() bool { return cidrOf("n2") == "10.42.2.0/24" })

	// Delete n1: its block is released and reused once the cursor wraps.
	if err := client.CoreV1().Nodes().Delete(ctx, "n1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrltest.Eventually(t, 5*time.Second, "release", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		i, _ := c.set.index("10.42.1.0/24")
		return !c.set.used[i]
	})
	if cidrOf("old") != "10.42.0.0/24" {
		t.Fatal("existing CIDR changed")
	}
}
