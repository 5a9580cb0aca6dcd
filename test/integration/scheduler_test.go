// Package integration runs the control-plane components against a real in-process
// API server (embedded etcd, TLS, client-go), as they run inside `skiff server`.
package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/scheduler"
	"github.com/skiff-sh/skiff/internal/testserver"
)

func startScheduler(t *testing.T, s *testserver.Server, opts scheduler.Options) {
	t.Helper()
	// As system:kube-scheduler, like `skiff server`'s scheduler.
	cfg := *s.Scheduler
	cfg.QPS, cfg.Burst = 5000, 10000
	client := kubernetes.NewForConfigOrDie(&cfg)
	sched, err := scheduler.New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = sched.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func node(name, cpu string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	rl := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Allocatable: rl, Capacity: rl,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
}

func podWithCPU(name, cpu string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "skiff.local/pause:1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}}}
}

func mustCreateNodes(t *testing.T, c kubernetes.Interface, nodes ...*corev1.Node) {
	for _, n := range nodes {
		if _, err := c.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSchedulerNeverOvercommits: 300 pods of 500m race for 3 nodes of 10 CPUs (60 fit).
func TestSchedulerNeverOvercommits(t *testing.T) {
	s := testserver.Start(t)
	c := s.Client
	mustCreateNodes(t, c, node("n1", "10", nil), node("n2", "10", nil), node("n3", "10", nil))
	startScheduler(t, s, scheduler.Options{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < 300; i += 8 {
				if _, err := c.CoreV1().Pods("default").Create(context.Background(), podWithCPU(fmt.Sprintf("p%03d", i), "500m"), metav1.CreateOptions{}); err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	var bound map[string]int
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		bound = map[string]int{}
		total := 0
		for _, p := range l.Items {
			if p.Spec.NodeName != "" {
				bound[p.Spec.NodeName]++
				total++
			}
		}
		return total >= 60, nil
	})
	if err != nil {
		t.Fatalf("only %v bound: %v", bound, err)
	}
	time.Sleep(2 * time.Second) // anything over-committing would bind now
	l, _ := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{FieldSelector: "spec.nodeName!="})
	per := map[string]int{}
	for _, p := range l.Items {
		per[p.Spec.NodeName]++
	}
	for n, k := range per {
		if k > 20 {
			t.Fatalf("node %s has %d pods of 500m on 10 CPUs", n, k)
		}
	}
	if len(l.Items) != 60 {
		t.Fatalf("%d pods bound, want exactly 60", len(l.Items))
	}
	// The rest report why, as kubectl describe shows it.
	pending, _ := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{FieldSelector: "spec.nodeName="})
	p := pending.Items[0]
	var msg string
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
			msg = cond.Message
		}
	}
	if !strings.Contains(msg, "0/3 nodes are available: 3 Insufficient cpu") {
		t.Fatalf("PodScheduled message %q", msg)
	}
}

// TestSchedulerHonorsSelectorsAndTaints: nodeSelector and an untolerated taint steer pods.
func TestSchedulerHonorsSelectorsAndTaints(t *testing.T) {
	s := testserver.Start(t)
	c := s.Client
	mustCreateNodes(t, c,
		node("ssd", "4", map[string]string{"disk": "ssd"}),
		node("hdd", "4", map[string]string{"disk": "hdd"}),
		node("gpu", "4", map[string]string{"disk": "ssd"}, corev1.Taint{Key: "gpu", Value: "true", Effect: corev1.TaintEffectNoSchedule}))
	startScheduler(t, s, scheduler.Options{})
	for i := 0; i < 6; i++ {
		p := podWithCPU(fmt.Sprintf("s%d", i), "100m")
		p.Spec.NodeSelector = map[string]string{"disk": "ssd"}
		if _, err := c.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, p := range l.Items {
			if p.Spec.NodeName == "" {
				return false, nil
			}
			if p.Spec.NodeName != "ssd" {
				return false, fmt.Errorf("pod %s on %s: selector wants disk=ssd and gpu is tainted", p.Name, p.Spec.NodeName)
			}
		}
		return len(l.Items) == 6, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := c.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{FieldSelector: "reason=Scheduled"})
	if err != nil || len(evs.Items) == 0 || !strings.Contains(evs.Items[0].Message, "Successfully assigned default/") {
		t.Fatalf("Scheduled events: %v %v", evs, err)
	}
}
