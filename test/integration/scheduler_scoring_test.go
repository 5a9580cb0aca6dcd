package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/scheduler"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// placements creates n pods of 100m and returns how many landed on each node.
func placements(t *testing.T, c kubernetes.Interface, prefix string, n int) map[string]int {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := c.CoreV1().Pods("default").Create(context.Background(), podWithCPU(fmt.Sprintf("%s%d", prefix, i), "100m"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// One at a time, so every choice sees the previous ones.
		waitBound(t, c, fmt.Sprintf("%s%d", prefix, i))
	}
	l, _ := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	per := map[string]int{}
	for _, p := range l.Items {
		per[p.Spec.NodeName]++
	}
	return per
}

func waitBound(t *testing.T, c kubernetes.Interface, name string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := c.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		pod = p
		return err == nil && p.Spec.NodeName != "", nil
	})
	if err != nil {
		t.Fatalf("pod %s not bound: %v", name, err)
	}
	return pod
}

// TestConfigFileChangesPlacement: the default profile (LeastAllocated) spreads pods over
// two equal nodes; a config file switching NodeResourcesFit to MostAllocated packs them.
func TestConfigFileChangesPlacement(t *testing.T) {
	spread := func(cfgFile string) map[string]int {
		s := testserver.Start(t)
		mustCreateNodes(t, s.Client, node("a", "4", nil), node("b", "4", nil))
		startScheduler(t, s, scheduler.Options{ConfigFile: cfgFile})
		return placements(t, s.Client, "p", 6)
	}
	def := spread("")
	if def["a"] != 3 || def["b"] != 3 {
		t.Fatalf("LeastAllocated placed %v, want 3 and 3", def)
	}
	cfg := filepath.Join(t.TempDir(), "sched.yaml")
	err := os.WriteFile(cfg, []byte(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources:
        - name: cpu
          weight: 1
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	packed := spread(cfg)
	if packed["a"] != 6 && packed["b"] != 6 {
		t.Fatalf("MostAllocated placed %v, want all 6 on one node", packed)
	}
}

// TestPreemption: a high-priority pod that fits nowhere evicts the low-priority pod
// and is nominated to its node.
func TestPreemption(t *testing.T) {
	s := testserver.Start(t)
	c := s.Client
	ctx := context.Background()
	mustCreateNodes(t, c, node("only", "1", nil))
	for name, v := range map[string]int32{"low": 10, "high": 1000} {
		if _, err := c.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: v}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	startScheduler(t, s, scheduler.Options{})
	low := podWithCPU("victim", "800m")
	low.Spec.PriorityClassName = "low"
	if _, err := c.CoreV1().Pods("default").Create(ctx, low, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitBound(t, c, "victim")
	high := podWithCPU("vip", "800m")
	high.Spec.PriorityClassName = "high"
	if _, err := c.CoreV1().Pods("default").Create(ctx, high, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		v, err := c.CoreV1().Pods("default").Get(ctx, "vip", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return v.Status.NominatedNodeName == "only" || v.Spec.NodeName == "only", nil
	})
	if err != nil {
		t.Fatalf("preemptor not nominated: %v", err)
	}
	v, err := c.CoreV1().Pods("default").Get(ctx, "victim", metav1.GetOptions{})
	if err == nil && v.DeletionTimestamp == nil {
		t.Fatalf("victim neither deleted nor terminating")
	}
}
