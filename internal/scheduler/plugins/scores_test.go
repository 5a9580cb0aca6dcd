package plugins

import (
	"context"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

func TestNodeResourcesFit_ScoringStrategies(t *testing.T) {
	nodes := infos(node("wide", "4", "8Gi", nil), node("narrow", "2", "8Gi", nil))
	p := pod("p", "1", "2Gi")
	cases := []struct {
		name, args string
		want       []int64
	}{
		{"LeastAllocated (default)", "", []int64{75, 62}},
		{"MostAllocated", `{"scoringStrategy":{"type":"MostAllocated"}}`, []int64{25, 37}},
		{"RequestedToCapacityRatio", `{"scoringStrategy":{"type":"RequestedToCapacityRatio","requestedToCapacityRatio":{"shape":[{"utilization":0,"score":0},{"utilization":100,"score":10}]}}}`, []int64{25, 37}},
		{"cpu only, weighted", `{"scoringStrategy":{"type":"LeastAllocated","resources":[{"name":"cpu","weight":3}]}}`, []int64{75, 50}},
	}
	for _, tc := range cases {
		pl := mustPlugin(t, NewNodeResourcesFit, tc.args, nil)
		if got := scores(t, pl, p, nodes...); !equal(got, tc.want) {
			t.Errorf("%s: got %v want %v", tc.name, got, tc.want)
		}
	}
}

func TestBalancedAllocation_Score(t *testing.T) {
	nodes := infos(node("even", "4", "8Gi", nil), node("skewed", "2", "8Gi", nil))
	pl := mustPlugin(t, NewBalancedAllocation, "", nil)
	if got := scores(t, pl, pod("p", "1", "2Gi"), nodes...); !equal(got, []int64{100, 87}) {
		t.Fatalf("got %v", got)
	}
}

func TestNodeAffinity_PreferredScore(t *testing.T) {
	nodes := infos(
		node("a-ssd", "1", "1Gi", map[string]string{"zone": "a", "disk": "ssd"}),
		node("a-hdd", "1", "1Gi", map[string]string{"zone": "a", "disk": "hdd"}),
		node("b-hdd", "1", "1Gi", map[string]string{"zone": "b", "disk": "hdd"}),
	)
	term := func(w int32, k, v string) v1.PreferredSchedulingTerm {
		return v1.PreferredSchedulingTerm{Weight: w, Preference: v1.NodeSelectorTerm{MatchExpressions: []v1.NodeSelectorRequirement{
			{Key: k, Operator: v1.NodeSelectorOpIn, Values: []string{v}}}}}
	}
	p := pod("p", "", "")
	p.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []v1.PreferredSchedulingTerm{
		term(10, "zone", "a"), term(5, "disk", "ssd")}}}
	if got := scores(t, NodeAffinity{}, p, nodes...); !equal(got, []int64{100, 66, 0}) {
		t.Fatalf("got %v", got)
	}
}

func TestTaintToleration_PreferNoScheduleScore(t *testing.T) {
	soft := func(name string, keys ...string) *v1.Node {
		n := node(name, "1", "1Gi", nil)
		for _, k := range keys {
			n.Spec.Taints = append(n.Spec.Taints, v1.Taint{Key: k, Effect: v1.TaintEffectPreferNoSchedule})
		}
		return n
	}
	nodes := infos(soft("two", "a", "b"), soft("one", "a"), soft("none"))
	if got := scores(t, TaintToleration{}, pod("p", "", ""), nodes...); !equal(got, []int64{0, 50, 100}) {
		t.Fatalf("got %v", got)
	}
	tol := pod("p", "", "")
	tol.Spec.Tolerations = []v1.Toleration{{Key: "a", Operator: v1.TolerationOpExists}}
	if got := scores(t, TaintToleration{}, tol, nodes...); !equal(got, []int64{0, 100, 100}) {
		t.Fatalf("tolerating a: got %v", got)
	}
}

func TestImageLocality_Score(t *testing.T) {
	const mb = 1024 * 1024
	withImage := node("has", "1", "1Gi", nil)
	withImage.Status.Images = []v1.ContainerImage{{Names: []string{"registry.local/app:v1"}, SizeBytes: 500 * mb}}
	nodes := infos(withImage, node("empty", "1", "1Gi", nil))
	l := &lister{nodes: nodes}
	pl := mustPlugin(t, NewImageLocality, "", newFramework(t, l))
	p := pod("p", "", "")
	p.Spec.Containers[0].Image = "registry.local/app:v1"
	// 500 MB on 1 of 2 nodes → 250 MB effective → (250-23)/(1000-23).
	if got := scores(t, pl, p, nodes...); !equal(got, []int64{23, 0}) {
		t.Fatalf("got %v", got)
	}
}

func TestPodTopologySpread_ScheduleAnywayScore(t *testing.T) {
	app := map[string]string{"app": "web"}
	a := framework.NewNodeInfo(node("a1", "4", "4Gi", map[string]string{"zone": "a"}),
		framework.NewPodInfo(withLabels(onNode(pod("w1", "", ""), "a1"), app)),
		framework.NewPodInfo(withLabels(onNode(pod("w2", "", ""), "a1"), app)))
	b := framework.NewNodeInfo(node("b1", "4", "4Gi", map[string]string{"zone": "b"}))
	l := &lister{nodes: []*framework.NodeInfo{a, b}}
	pl := mustPlugin(t, NewPodTopologySpread, "", newFramework(t, l))
	p := withLabels(pod("new", "", ""), app)
	p.Spec.TopologySpreadConstraints = []v1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone",
		WhenUnsatisfiable: v1.ScheduleAnyway, LabelSelector: metaSelector(app)}}
	if got := scores(t, pl, p, a, b); !equal(got, []int64{0, 100}) {
		t.Fatalf("got %v", got)
	}
}

func TestInterPodAffinity_PreferredScore(t *testing.T) {
	host := func(name, zone string) *v1.Node { return node(name, "4", "4Gi", map[string]string{"zone": zone}) }
	db := withLabels(onNode(pod("db", "", ""), "n1"), map[string]string{"app": "db"})
	nodes := []*framework.NodeInfo{
		framework.NewNodeInfo(host("n1", "a"), framework.NewPodInfo(db)),
		framework.NewNodeInfo(host("n2", "a")),
		framework.NewNodeInfo(host("n3", "b")),
	}
	l := &lister{nodes: nodes}
	pl := mustPlugin(t, NewInterPodAffinity, "", newFramework(t, l))
	p := pod("web", "", "")
	p.Spec.Affinity = &v1.Affinity{PodAffinity: &v1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []v1.WeightedPodAffinityTerm{
		{Weight: 50, PodAffinityTerm: v1.PodAffinityTerm{TopologyKey: "zone", LabelSelector: metaSelector(map[string]string{"app": "db"})}}}}}
	if got := scores(t, pl, p, nodes...); !equal(got, []int64{100, 100, 0}) {
		t.Fatalf("got %v", got)
	}
}

type allUnschedulable struct{}

func (allUnschedulable) Get(string) *framework.Status {
	return framework.NewStatus(framework.Unschedulable, "Insufficient cpu")
}

func TestDefaultPreemption_PicksMinimalVictims(t *testing.T) {
	prio := func(p *v1.Pod, n int32) *v1.Pod { p.Spec.Priority = &n; return p }
	a := framework.NewNodeInfo(node("a", "2", "4Gi", nil),
		framework.NewPodInfo(prio(onNode(pod("a-low", "1", ""), "a"), 1)),
		framework.NewPodInfo(prio(onNode(pod("a-mid", "1", ""), "a"), 2)))
	b := framework.NewNodeInfo(node("b", "2", "4Gi", nil),
		framework.NewPodInfo(prio(onNode(pod("b1", "600m", ""), "b"), 1)),
		framework.NewPodInfo(prio(onNode(pod("b2", "600m", ""), "b"), 1)),
		framework.NewPodInfo(prio(onNode(pod("b3", "800m", ""), "b"), 1)))
	c := framework.NewNodeInfo(node("c", "2", "4Gi", nil),
		framework.NewPodInfo(prio(onNode(pod("c-high", "2", ""), "c"), 5)))
	l := &lister{nodes: []*framework.NodeInfo{a, b, c}}
	f := newFramework(t, l, framework.PluginRef{Name: NodeResourcesFitName})
	pl := mustPlugin(t, NewDefaultPreemption, "", f).(*DefaultPreemption)

	preemptor := prio(pod("vip", "1", ""), 10)
	cand, msg := pl.FindCandidate(context.Background(), stateFor(preemptor), preemptor, allUnschedulable{})
	if cand == nil {
		t.Fatalf("no candidate: %s", msg)
	}
	if cand.Node != "a" || len(cand.Victims) != 1 || cand.Victims[0].Name != "a-low" {
		names := []string{}
		for _, v := range cand.Victims {
			names = append(names, v.Name)
		}
		t.Fatalf("picked %s with victims %v, want a with [a-low]", cand.Node, names)
	}
	// Victim selection must not touch the snapshot.
	if len(a.Pods) != 2 {
		t.Fatal("snapshot node was modified")
	}

	never := prio(pod("polite", "1", ""), 10)
	pn := v1.PreemptNever
	never.Spec.PreemptionPolicy = &pn
	_, st := pl.PostFilter(context.Background(), stateFor(never), never, allUnschedulable{})
	if st.Message() != "preemption: not eligible due to preemptionPolicy=Never." {
		t.Fatalf("Never: %q", st.Message())
	}
	equalPrio := prio(pod("peer", "1", ""), 1)
	if cand, msg := pl.FindCandidate(context.Background(), stateFor(equalPrio), equalPrio, allUnschedulable{}); cand != nil ||
		msg != "0/3 nodes are available: 3 No preemption victims found for incoming pod." {
		t.Fatalf("equal priority: cand=%v msg=%q", cand, msg)
	}
}
