package plugins

import (
	"context"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// lister is an in-memory framework.NodeInfoLister.
type lister struct{ nodes []*framework.NodeInfo }

func (l *lister) List() []*framework.NodeInfo { return l.nodes }
func (l *lister) Get(n string) *framework.NodeInfo {
	for _, ni := range l.nodes {
		if ni.Name() == n {
			return ni
		}
	}
	return nil
}
func (l *lister) HavePodsWithAffinity() []*framework.NodeInfo {
	var out []*framework.NodeInfo
	for _, ni := range l.nodes {
		if len(ni.PodsWithAffinity) > 0 {
			out = append(out, ni)
		}
	}
	return out
}
func (l *lister) HavePodsWithRequiredAntiAffinity() []*framework.NodeInfo {
	var out []*framework.NodeInfo
	for _, ni := range l.nodes {
		if len(ni.PodsWithRequiredAntiAffinity) > 0 {
			out = append(out, ni)
		}
	}
	return out
}
func (l *lister) ImageNodes(img string) int {
	n := 0
	for _, ni := range l.nodes {
		if _, ok := ni.Images[img]; ok {
			n++
		}
	}
	return n
}

// newFramework builds a framework with the given multi-point plugins over
// nodes (a fake clientset, no informers).
func newFramework(t *testing.T, l *lister, refs ...framework.PluginRef) *framework.Framework {
	t.Helper()
	f, err := framework.NewFramework(InTree(), framework.ProfileSpec{SchedulerName: "test", MultiPoint: refs},
		framework.Deps{Client: fake.NewClientset(), Snapshot: l, Parallelism: 4})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func node(name string, cpu, mem string, labels map[string]string) *v1.Node {
	rl := v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu), v1.ResourceMemory: resource.MustParse(mem),
		v1.ResourcePods: resource.MustParse("110")}
	return &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Status: v1.NodeStatus{Allocatable: rl}}
}

func pod(name string, cpu, mem string) *v1.Pod {
	req := v1.ResourceList{}
	if cpu != "" {
		req[v1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		req[v1.ResourceMemory] = resource.MustParse(mem)
	}
	return &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID(name)},
		Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "app", Resources: v1.ResourceRequirements{Requests: req}}}}}
}

func onNode(p *v1.Pod, n string) *v1.Pod { p.Spec.NodeName = n; return p }

func withLabels(p *v1.Pod, l map[string]string) *v1.Pod { p.Labels = l; return p }

func infos(nodes ...*v1.Node) []*framework.NodeInfo {
	out := make([]*framework.NodeInfo, len(nodes))
	for i, n := range nodes {
		out[i] = framework.NewNodeInfo(n)
	}
	return out
}

func stateFor(p *v1.Pod) *framework.CycleState {
	s := framework.NewCycleState()
	s.SetPodInfo(framework.NewPodInfo(p))
	return s
}

// filter runs PreFilter then Filter of plugin pl on each node and returns
// the messages ("" for pass).
func filter(t *testing.T, pl framework.Plugin, p *v1.Pod, nodes ...*framework.NodeInfo) []string {
	t.Helper()
	ctx := context.Background()
	st := stateFor(p)
	if pf, ok := pl.(framework.PreFilterPlugin); ok {
		_, s := pf.PreFilter(ctx, st, p)
		if s.IsSkip() {
			return make([]string, len(nodes))
		}
		if !s.IsSuccess() {
			out := make([]string, len(nodes))
			for i := range out {
				out[i] = "prefilter: " + s.Message()
			}
			return out
		}
	}
	out := make([]string, len(nodes))
	for i, ni := range nodes {
		out[i] = pl.(framework.FilterPlugin).Filter(ctx, st, p, ni).Message()
	}
	return out
}

// scores runs PreScore, Score and NormalizeScore of pl over nodes.
func scores(t *testing.T, pl framework.Plugin, p *v1.Pod, nodes ...*framework.NodeInfo) []int64 {
	t.Helper()
	ctx := context.Background()
	st := stateFor(p)
	if ps, ok := pl.(framework.PreScorePlugin); ok {
		if s := ps.PreScore(ctx, st, p, nodes); s.IsSkip() {
			return make([]int64, len(nodes))
		} else if !s.IsSuccess() {
			t.Fatalf("PreScore: %v", s)
		}
	}
	ns := make([]framework.NodeScore, len(nodes))
	for i, ni := range nodes {
		sc, s := pl.(framework.ScorePlugin).Score(ctx, st, p, ni)
		if !s.IsSuccess() {
			t.Fatalf("Score: %v", s)
		}
		ns[i] = framework.NodeScore{Name: ni.Name(), Score: sc}
	}
	if n, ok := pl.(framework.ScoreNormalizer); ok {
		n.NormalizeScore(ctx, st, p, ns)
	}
	out := make([]int64, len(ns))
	for i := range ns {
		out[i] = ns[i].Score
	}
	return out
}

func mustPlugin(t *testing.T, f framework.Factory, args string, h framework.Handle) framework.Plugin {
	t.Helper()
	var raw []byte
	if args != "" {
		raw = []byte(args)
	}
	p, err := f(raw, h)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func metaSelector(m map[string]string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: m}
}
