package scheduler

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
)

func TestScheduler_PlacesPodsOnFittingNodes(t *testing.T) {
	nodes := []runtime.Object{
		makeNode("small", "1", "1Gi", 110, map[string]string{"size": "small"}),
		makeNode("big", "8", "16Gi", 110, map[string]string{"size": "big"}),
		makeNode("tainted", "8", "16Gi", 110, nil, v1.Taint{Key: "node-role", Value: "x", Effect: v1.TaintEffectNoSchedule}),
	}
	fc := newFakeCluster(t, nodes...)
	startScheduler(t, fc, Options{})

	needsBig := makePod("default", "needs-big", "4", "1Gi")
	selector := makePod("default", "selector", "100m", "")
	selector.Spec.NodeSelector = map[string]string{"size": "small"}
	tolerates := makePod("default", "tolerates", "100m", "")
	tolerates.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "tainted"}
	// No hostname labels on our fake nodes: use required affinity on name.
	tolerates.Spec.NodeSelector = nil
	tolerates.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{
		NodeSelectorTerms: []v1.NodeSelectorTerm{{MatchFields: []v1.NodeSelectorRequirement{{Key: "metadata.name", Operator: v1.NodeSelectorOpIn, Values: []string{"tainted"}}}}}}}}
	tolerates.Spec.Tolerations = []v1.Toleration{{Key: "node-role", Operator: v1.TolerationOpExists}}
	for _, p := range []*v1.Pod{needsBig, selector, tolerates} {
		createPod(t, fc, p)
	}
	want := map[string]string{"default/needs-big": "big", "default/selector": "small", "default/tolerates": "tainted"}
	eventually(t, 5*time.Second, "3 bindings", func() bool { return len(fc.bindings()) == 3 })
	for k, v := range want {
		if got := fc.bindings()[k]; got != v {
			t.Errorf("%s bound to %q, want %q", k, got, v)
		}
	}
	// Users see a Scheduled event per pod.
	eventually(t, 5*time.Second, "Scheduled events", func() bool {
		evs, _ := fc.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		n := 0
		for _, e := range evs.Items {
			if e.Reason == "Scheduled" && e.Type == v1.EventTypeNormal && e.ReportingController == DefaultSchedulerName &&
				strings.HasPrefix(e.Message, "Successfully assigned default/") {
				n++
			}
		}
		return n == 3
	})
}

func TestScheduler_UnschedulablePodGetsEventAndCondition(t *testing.T) {
	fc := newFakeCluster(t,
		makeNode("n1", "1", "1Gi", 110, nil),
		makeNode("n2", "1", "1Gi", 110, nil),
		makeNode("n3", "8", "8Gi", 110, nil, v1.Taint{Key: "node-role", Value: "x", Effect: v1.TaintEffectNoSchedule}),
	)
	startScheduler(t, fc, Options{})
	p := makePod("default", "huge", "2", "")
	createPod(t, fc, p)
	want := "0/3 nodes are available: 1 node(s) had untolerated taint {node-role: x}, 2 Insufficient cpu. " +
		"preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.."
	eventually(t, 5*time.Second, "PodScheduled=False condition", func() bool {
		got, _ := fc.client.CoreV1().Pods("default").Get(context.Background(), "huge", metav1.GetOptions{})
		for _, c := range got.Status.Conditions {
			if c.Type == v1.PodScheduled && c.Status == v1.ConditionFalse && c.Reason == "Unschedulable" {
				if c.Message != want {
					t.Fatalf("condition message\n got: %s\nwant: %s", c.Message, want)
				}
				return true
			}
		}
		return false
	})
	eventually(t, 5*time.Second, "FailedScheduling event", func() bool {
		evs, _ := fc.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		for _, e := range evs.Items {
			if e.Reason == "FailedScheduling" && e.Type == v1.EventTypeWarning && e.Message == want {
				return true
			}
		}
		return false
	})
	// A new node that fits moves the pod out of the unschedulable set.
	if _, err := fc.client.CoreV1().Nodes().Create(context.Background(), makeNode("n4", "4", "4Gi", 110, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "binding to the new node", func() bool { return fc.bindings()["default/huge"] == "n4" })
}

func TestScheduler_NeverOvercommitsUnderContention(t *testing.T) {
	var objs []runtime.Object
	for i := 0; i < 10; i++ {
		objs = append(objs, makeNode(fmt.Sprintf("n%d", i), "2", "4Gi", 110, nil))
	}
	fc := newFakeCluster(t, objs...)
	s := startScheduler(t, fc, Options{})
	// 1,000 pods of 150m: room for 13 per node = 130 in total.
	for i := 0; i < 1000; i++ {
		createPod(t, fc, makePod("default", fmt.Sprintf("p%04d", i), "150m", "64Mi"))
	}
	eventually(t, 20*time.Second, "130 bindings", func() bool { return len(fc.bindings()) == 130 })
	time.Sleep(200 * time.Millisecond) // any over-commit would surface as extra binds
	perNode := map[string]int64{}
	for _, node := range fc.bindings() {
		perNode[node] += 150
	}
	if len(fc.bindings()) != 130 {
		t.Fatalf("got %d bindings, want exactly 130", len(fc.bindings()))
	}
	for node, milli := range perNode {
		if milli > 2000 {
			t.Errorf("node %s over-committed: %dm cpu requested of 2000m", node, milli)
		}
	}
	_ = s
}

func TestScheduler_BindFailureRequeuesAndForgets(t *testing.T) {
	fc := newFakeCluster(t, makeNode("only", "1", "1Gi", 110, nil))
	fc.failBind = 1
	s := startScheduler(t, fc, Options{})
	createPod(t, fc, makePod("default", "p", "600m", ""))
	// First bind fails; the assumption must be forgotten (else the retry
	// would not fit: 600m + 600m > 1) and the pod retried after backoff.
	eventually(t, 5*time.Second, "binding after retry", func() bool { return fc.bindings()["default/p"] == "only" })
	eventually(t, 2*time.Second, "cache confirms one pod", func() bool {
		ni := s.Cache().Dump()["only"]
		return ni != nil && len(ni.Pods) == 1 && ni.Requested.MilliCPU == 600
	})
}

func TestScheduler_PreemptsLowerPriorityPod(t *testing.T) {
	low := makePod("default", "low", "800m", "")
	low.Spec.NodeName = "only"
	low.Spec.Priority = ptr(int32(1))
	fc := newFakeCluster(t, makeNode("only", "1", "1Gi", 110, nil), low)
	startScheduler(t, fc, Options{})
	high := makePod("default", "high", "500m", "")
	high.Spec.Priority = ptr(int32(1000))
	createPod(t, fc, high)
	eventually(t, 5*time.Second, "victim deleted", func() bool {
		_, err := fc.client.CoreV1().Pods("default").Get(context.Background(), "low", metav1.GetOptions{})
		return err != nil
	})
	eventually(t, 5*time.Second, "nominatedNodeName or binding", func() bool {
		if fc.bindings()["default/high"] == "only" {
			return true
		}
		p, _ := fc.client.CoreV1().Pods("default").Get(context.Background(), "high", metav1.GetOptions{})
		return p.Status.NominatedNodeName == "only"
	})
	eventually(t, 15*time.Second, "preemptor bound", func() bool { return fc.bindings()["default/high"] == "only" })
	if got := corev1helpers.PodPriority(high); got != 1000 {
		t.Fatalf("priority %d", got)
	}
}

func ptr[T any](v T) *T { return &v }
