package plugins

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

func TestNodeName_Filter(t *testing.T) {
	nodes := infos(node("a", "1", "1Gi", nil), node("b", "1", "1Gi", nil))
	p := pod("p", "", "")
	p.Spec.NodeName = "b"
	got := filter(t, NodeName{}, p, nodes...)
	if !equal(got, []string{ReasonNodeName, ""}) {
		t.Fatalf("got %q", got)
	}
}

func TestNodeUnschedulable_Filter(t *testing.T) {
	cordoned := node("c", "1", "1Gi", nil)
	cordoned.Spec.Unschedulable = true
	nodes := infos(node("ok", "1", "1Gi", nil), cordoned)
	if got := filter(t, NodeUnschedulable{}, pod("p", "", ""), nodes...); !equal(got, []string{"", ReasonNodeUnschedulable}) {
		t.Fatalf("got %q", got)
	}
	tol := pod("ds", "", "")
	tol.Spec.Tolerations = []v1.Toleration{{Key: v1.TaintNodeUnschedulable, Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoSchedule}}
	if got := filter(t, NodeUnschedulable{}, tol, nodes...); !equal(got, []string{"", ""}) {
		t.Fatalf("tolerating pod: %q", got)
	}
}

func TestNodePorts_Filter(t *testing.T) {
	withPort := func(name, ip string, port int32) *v1.Pod {
		p := pod(name, "", "")
		p.Spec.Containers[0].Ports = []v1.ContainerPort{{HostIP: ip, HostPort: port, ContainerPort: 80}}
		return p
	}
	busyAll := framework.NewNodeInfo(node("all", "1", "1Gi", nil), framework.NewPodInfo(withPort("x", "", 8080)))
	busyOne := framework.NewNodeInfo(node("one", "1", "1Gi", nil), framework.NewPodInfo(withPort("y", "10.0.0.1", 8080)))
	free := framework.NewNodeInfo(node("free", "1", "1Gi", nil))
	cases := []struct {
		name string
		p    *v1.Pod
		want []string
	}{
		{"any ip clashes everywhere used", withPort("p", "", 8080), []string{ReasonNodePorts, ReasonNodePorts, ""}},
		{"other ip only clashes with 0.0.0.0", withPort("p", "10.0.0.2", 8080), []string{ReasonNodePorts, "", ""}},
		{"same ip clashes", withPort("p", "10.0.0.1", 8080), []string{ReasonNodePorts, ReasonNodePorts, ""}},
		{"other port is free", withPort("p", "", 9090), []string{"", "", ""}},
		{"no host ports", pod("p", "", ""), []string{"", "", ""}},
	}
	for _, tc := range cases {
		if got := filter(t, NodePorts{}, tc.p, busyAll, busyOne, free); !equal(got, tc.want) {
			t.Errorf("%s: got %q want %q", tc.name, got, tc.want)
		}
	}
}

func TestNodeResourcesFit_Filter(t *testing.T) {
	gpuNode := node("gpu", "4", "4Gi", nil)
	gpuNode.Status.Allocatable["example.com/gpu"] = resource.MustParse("1")
	full := node("full", "4", "4Gi", nil)
	full.Status.Allocatable[v1.ResourcePods] = resource.MustParse("1")
	nodes := []*framework.NodeInfo{
		framework.NewNodeInfo(node("small", "1", "1Gi", nil), framework.NewPodInfo(onNode(pod("x", "500m", "512Mi"), "small"))),
		framework.NewNodeInfo(gpuNode),
		framework.NewNodeInfo(full, framework.NewPodInfo(onNode(pod("y", "", ""), "full"))),
	}
	gpuPod := pod("g", "100m", "")
	gpuPod.Spec.Containers[0].Resources.Requests["example.com/gpu"] = resource.MustParse("1")
	cases := []struct {
		name string
		p    *v1.Pod
		want []string
	}{
		{"fits", pod("p", "500m", "512Mi"), []string{"", "", ReasonTooManyPods}},
		{"cpu and memory", pod("p", "600m", "600Mi"), []string{"Insufficient cpu, Insufficient memory", "", ReasonTooManyPods}},
		{"extended resource", gpuPod, []string{"Insufficient example.com/gpu", "", "Too many pods, Insufficient example.com/gpu"}},
	}
	pl := mustPlugin(t, NewNodeResourcesFit, "", nil)
	for _, tc := range cases {
		if got := filter(t, pl, tc.p, nodes...); !equal(got, tc.want) {
			t.Errorf("%s: got %q want %q", tc.name, got, tc.want)
		}
	}
	ignoring := mustPlugin(t, NewNodeResourcesFit, `{"ignoredResourceGroups":["example.com"]}`, nil)
	if got := filter(t, ignoring, gpuPod, nodes[0]); got[0] != "" {
		t.Errorf("ignored group still checked: %q", got)
	}
}

func TestNodeAffinity_Filter(t *testing.T) {
	nodes := infos(node("ssd", "1", "1Gi", map[string]string{"disk": "ssd", "zone": "a"}), node("hdd", "1", "1Gi", map[string]string{"disk": "hdd", "zone": "b"}))
	sel := pod("sel", "", "")
	sel.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	aff := pod("aff", "", "")
	aff.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{
		NodeSelectorTerms: []v1.NodeSelectorTerm{{MatchExpressions: []v1.NodeSelectorRequirement{{Key: "zone", Operator: v1.NodeSelectorOpNotIn, Values: []string{"a"}}}}}}}}
	if got := filter(t, NodeAffinity{}, sel, nodes...); !equal(got, []string{"", ReasonNodeAffinity}) {
		t.Errorf("selector: %q", got)
	}
	if got := filter(t, NodeAffinity{}, aff, nodes...); !equal(got, []string{ReasonNodeAffinity, ""}) {
		t.Errorf("affinity: %q", got)
	}
}

func TestTaintToleration_Filter(t *testing.T) {
	tainted := node("t", "1", "1Gi", nil)
	tainted.Spec.Taints = []v1.Taint{{Key: "node-role", Value: "x", Effect: v1.TaintEffectNoSchedule}}
	soft := node("s", "1", "1Gi", nil)
	soft.Spec.Taints = []v1.Taint{{Key: "k", Value: "v", Effect: v1.TaintEffectPreferNoSchedule}}
	nodes := infos(tainted, soft)
	if got := filter(t, TaintToleration{}, pod("p", "", ""), nodes...); !equal(got, []string{"node(s) had untolerated taint {node-role: x}", ""}) {
		t.Errorf("got %q", got)
	}
	tol := pod("p", "", "")
	tol.Spec.Tolerations = []v1.Toleration{{Key: "node-role", Operator: v1.TolerationOpEqual, Value: "x", Effect: v1.TaintEffectNoSchedule}}
	if got := filter(t, TaintToleration{}, tol, nodes...); !equal(got, []string{"", ""}) {
		t.Errorf("tolerated: %q", got)
	}
}

func TestPodTopologySpread_Filter(t *testing.T) {
	zone := func(name, z string) *v1.Node { return node(name, "4", "4Gi", map[string]string{"zone": z}) }
	app := map[string]string{"app": "web"}
	nodes := []*framework.NodeInfo{
		framework.NewNodeInfo(zone("a1", "a"), framework.NewPodInfo(withLabels(onNode(pod("w1", "", ""), "a1"), app))),
		framework.NewNodeInfo(zone("b1", "b")),
		framework.NewNodeInfo(node("nolabel", "4", "4Gi", nil)),
	}
	nodes[0].AddPod(framework.NewPodInfo(withLabels(onNode(pod("w2", "", ""), "a1"), app)))
	l := &lister{nodes: nodes}
	f := newFramework(t, l)
	pl := mustPlugin(t, NewPodTopologySpread, "", f)
	p := withLabels(pod("new", "", ""), app)
	p.Spec.TopologySpreadConstraints = []v1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone",
		WhenUnsatisfiable: v1.DoNotSchedule, LabelSelector: metaSelector(app)}}
	got := filter(t, pl, p, nodes...)
	want := []string{ReasonTopologySpread, "", ReasonTopologySpreadMissing}
	if !equal(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
	p.Spec.TopologySpreadConstraints[0].MaxSkew = 3
	if got := filter(t, pl, p, nodes...); got[0] != "" {
		t.Fatalf("maxSkew 3 should allow zone a: %q", got)
	}
}

func TestInterPodAffinity_Filter(t *testing.T) {
	host := func(name, zone string) *v1.Node {
		return node(name, "4", "4Gi", map[string]string{"kubernetes.io/hostname": name, "zone": zone})
	}
	db := withLabels(onNode(pod("db", "", ""), "n1"), map[string]string{"app": "db"})
	loner := withLabels(onNode(pod("loner", "", ""), "n3"), map[string]string{"app": "loner"})
	loner.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{
		{TopologyKey: "kubernetes.io/hostname", LabelSelector: metaSelector(map[string]string{"app": "web"})}}}}
	nodes := []*framework.NodeInfo{
		framework.NewNodeInfo(host("n1", "a"), framework.NewPodInfo(db)),
		framework.NewNodeInfo(host("n2", "a")),
		framework.NewNodeInfo(host("n3", "b"), framework.NewPodInfo(loner)),
	}
	l := &lister{nodes: nodes}
	f := newFramework(t, l)
	pl := mustPlugin(t, NewInterPodAffinity, "", f)

	nearDB := withLabels(pod("web", "", ""), map[string]string{"app": "web"})
	nearDB.Spec.Affinity = &v1.Affinity{PodAffinity: &v1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{
		{TopologyKey: "zone", LabelSelector: metaSelector(map[string]string{"app": "db"})}}}}
	if got := filter(t, pl, nearDB, nodes...); !equal(got, []string{"", "", ReasonExistingAntiAffinity}) {
		t.Errorf("affinity to db zone + loner's anti-affinity: %q", got)
	}
	awayFromDB := pod("cache", "", "")
	awayFromDB.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{
		{TopologyKey: "zone", LabelSelector: metaSelector(map[string]string{"app": "db"})}}}}
	if got := filter(t, pl, awayFromDB, nodes...); !equal(got, []string{ReasonAntiAffinityRules, ReasonAntiAffinityRules, ""}) {
		t.Errorf("anti-affinity: %q", got)
	}
	noMatch := pod("x", "", "")
	noMatch.Spec.Affinity = &v1.Affinity{PodAffinity: &v1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{
		{TopologyKey: "zone", LabelSelector: metaSelector(map[string]string{"app": "ghost"})}}}}
	if got := filter(t, pl, noMatch, nodes...); !equal(got, []string{ReasonAffinityRules, ReasonAffinityRules, ReasonAffinityRules}) {
		t.Errorf("affinity to nothing: %q", got)
	}
	// The first pod of a self-affine group may go anywhere.
	first := withLabels(pod("first", "", ""), map[string]string{"app": "ghost"})
	first.Spec.Affinity = noMatch.Spec.Affinity
	if got := filter(t, pl, first, nodes...); !equal(got, []string{"", "", ""}) {
		t.Errorf("self-affinity bootstrap: %q", got)
	}
}
