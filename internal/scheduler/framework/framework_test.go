package framework

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodRequests_InitContainersAndSidecars(t *testing.T) {
	c := func(cpu string) v1.Container {
		return v1.Container{Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)}}}
	}
	always := v1.ContainerRestartPolicyAlways
	sidecar := func(cpu string) v1.Container { x := c(cpu); x.RestartPolicy = &always; return x }
	cases := []struct {
		name string
		spec v1.PodSpec
		want int64
	}{
		{"sum of containers", v1.PodSpec{Containers: []v1.Container{c("100m"), c("200m")}}, 300},
		{"big init container wins", v1.PodSpec{InitContainers: []v1.Container{c("1")}, Containers: []v1.Container{c("100m")}}, 1000},
		{"sidecar adds to steady state", v1.PodSpec{InitContainers: []v1.Container{sidecar("200m")}, Containers: []v1.Container{c("100m")}}, 300},
		// init after a sidecar runs alongside it: 200m + 500m = 700m > 300m.
		{"init after sidecar", v1.PodSpec{InitContainers: []v1.Container{sidecar("200m"), c("500m")}, Containers: []v1.Container{c("100m")}}, 700},
		{"overhead added", v1.PodSpec{Containers: []v1.Container{c("100m")}, Overhead: v1.ResourceList{v1.ResourceCPU: resource.MustParse("50m")}}, 150},
	}
	for _, tc := range cases {
		p := &v1.Pod{Spec: tc.spec}
		if got := PodRequests(p, false).MilliCPU; got != tc.want {
			t.Errorf("%s: %dm, want %dm", tc.name, got, tc.want)
		}
	}
	empty := &v1.Pod{Spec: v1.PodSpec{Containers: []v1.Container{{}}}}
	if r := PodRequests(empty, true); r.MilliCPU != DefaultMilliCPURequest || r.Memory != DefaultMemoryRequest {
		t.Errorf("non-zero defaults: %+v", r)
	}
}

// stub plugins for runtime tests.
type filterFn struct {
	name string
	fn   func(*NodeInfo) *Status
}

func (f filterFn) Name() string { return f.name }
func (f filterFn) Filter(_ context.Context, _ *CycleState, _ *v1.Pod, ni *NodeInfo) *Status {
	return f.fn(ni)
}

type scoreFn struct {
	name string
	fn   func(*NodeInfo) int64
	norm bool
}

func (s scoreFn) Name() string { return s.name }
func (s scoreFn) Score(_ context.Context, _ *CycleState, _ *v1.Pod, ni *NodeInfo) (int64, *Status) {
	return s.fn(ni), nil
}

type normScore struct{ scoreFn }

func (normScore) NormalizeScore(_ context.Context, _ *CycleState, _ *v1.Pod, scores []NodeScore) *Status {
	var hi int64
	for _, s := range scores {
		hi = max(hi, s.Score)
	}
	for i := range scores {
		scores[i].Score = scores[i].Score * MaxNodeScore / hi
	}
	return nil
}

func registryOf(ps ...Plugin) Registry {
	r := Registry{}
	for _, p := range ps {
		r[p.Name()] = func(json.RawMessage, Handle) (Plugin, error) { return p, nil }
	}
	return r
}

func nodeNamed(name string) *NodeInfo {
	return NewNodeInfo(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}})
}

func TestFramework_FilterStopsAtFirstRejection(t *testing.T) {
	var secondCalls atomic.Int32
	first := filterFn{"First", func(ni *NodeInfo) *Status {
		if ni.Name() == "bad" {
			return NewStatus(Unschedulable, "first says no")
		}
		return nil
	}}
	second := filterFn{"Second", func(*NodeInfo) *Status { secondCalls.Add(1); return nil }}
	f, err := NewFramework(registryOf(first, second), ProfileSpec{MultiPoint: []PluginRef{{Name: "First"}, {Name: "Second"}}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	st := f.RunFilterPlugins(context.Background(), NewCycleState(), &v1.Pod{}, nodeNamed("bad"))
	if st.Code() != Unschedulable || st.Plugin() != "First" || st.Message() != "first says no" {
		t.Fatalf("status %v from %q", st, st.Plugin())
	}
	if secondCalls.Load() != 0 {
		t.Fatal("second filter ran after a rejection")
	}
}

func TestFramework_ScoresAreNormalizedAndWeighted(t *testing.T) {
	raw := normScore{scoreFn{name: "Raw", fn: func(ni *NodeInfo) int64 { return map[string]int64{"a": 5, "b": 10}[ni.Name()] }}}
	flat := scoreFn{name: "Flat", fn: func(ni *NodeInfo) int64 { return map[string]int64{"a": 100, "b": 0}[ni.Name()] }}
	spec := ProfileSpec{MultiPoint: []PluginRef{{Name: "Raw", Weight: 1}, {Name: "Flat", Weight: 2}},
		Enabled: map[string][]PluginRef{PointScore: {{Name: "Raw", Weight: 3}}}}
	f, err := NewFramework(registryOf(raw, flat), spec, Deps{Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	nodes := []*NodeInfo{nodeNamed("a"), nodeNamed("b")}
	totals := make([]int64, 2)
	if st := f.RunScorePlugins(context.Background(), NewCycleState(), &v1.Pod{}, nodes, totals); !st.IsSuccess() {
		t.Fatal(st)
	}
	// Raw normalized to 50/100 with weight 3 (explicit beats multiPoint); Flat ×2.
	if totals[0] != 50*3+100*2 || totals[1] != 100*3+0 {
		t.Fatalf("totals %v", totals)
	}
}

func TestFramework_OutOfRangeScoreIsAnError(t *testing.T) {
	bad := scoreFn{name: "Bad", fn: func(*NodeInfo) int64 { return 101 }}
	f, _ := NewFramework(registryOf(bad), ProfileSpec{MultiPoint: []PluginRef{{Name: "Bad"}}}, Deps{})
	st := f.RunScorePlugins(context.Background(), NewCycleState(), &v1.Pod{}, []*NodeInfo{nodeNamed("a")}, make([]int64, 1))
	if st.Code() != Error {
		t.Fatalf("want error, got %v", st)
	}
}

func TestFramework_DisabledAndStar(t *testing.T) {
	a := filterFn{"A", func(*NodeInfo) *Status { return nil }}
	b := filterFn{"B", func(*NodeInfo) *Status { return NewStatus(Unschedulable, "b") }}
	spec := ProfileSpec{MultiPoint: []PluginRef{{Name: "A"}, {Name: "B"}}, Disabled: map[string][]string{PointFilter: {"*"}},
		Enabled: map[string][]PluginRef{PointFilter: {{Name: "A"}}}}
	f, err := NewFramework(registryOf(a, b), spec, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if st := f.RunFilterPlugins(context.Background(), NewCycleState(), &v1.Pod{}, nodeNamed("x")); !st.IsSuccess() {
		t.Fatalf("B should be disabled by *: %v", st)
	}
	if _, err := NewFramework(registryOf(a), ProfileSpec{Enabled: map[string][]PluginRef{PointScore: {{Name: "A"}}}}, Deps{}); err == nil {
		t.Fatal("enabling a filter-only plugin at score should fail")
	}
}

type waiter struct{}

func (waiter) Name() string { return "Waiter" }
func (waiter) Permit(context.Context, *CycleState, *v1.Pod, string) (*Status, time.Duration) {
	return NewStatus(Wait), 50 * time.Millisecond
}

func TestFramework_PermitWaitAllowAndTimeout(t *testing.T) {
	f, err := NewFramework(registryOf(waiter{}), ProfileSpec{MultiPoint: []PluginRef{{Name: "Waiter"}}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "u1"}}
	if st := f.RunPermitPlugins(ctx, NewCycleState(), p, "n"); st.Code() != Wait {
		t.Fatalf("want Wait, got %v", st)
	}
	f.WaitingPod("u1").Allow("Waiter")
	if st := f.WaitOnPermit(ctx, p); !st.IsSuccess() {
		t.Fatalf("allowed pod: %v", st)
	}
	p2 := &v1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "u2"}}
	f.RunPermitPlugins(ctx, NewCycleState(), p2, "n")
	if st := f.WaitOnPermit(ctx, p2); st.Code() != Unschedulable {
		t.Fatalf("timed-out pod: %v", st)
	}
}

func TestParallelizer_VisitsEveryIndexOnce(t *testing.T) {
	seen := make([]atomic.Int32, 1000)
	NewParallelizer(16).Until(context.Background(), len(seen), func(i int) { seen[i].Add(1) })
	for i := range seen {
		if seen[i].Load() != 1 {
			t.Fatalf("index %d visited %d times", i, seen[i].Load())
		}
	}
}

func TestHostPortInfo_Conflicts(t *testing.T) {
	var h HostPortInfo
	h.Add(HostPort{IP: "10.0.0.1", Protocol: v1.ProtocolTCP, Port: 80})
	cases := []struct {
		hp   HostPort
		want bool
	}{
		{HostPort{IP: "10.0.0.1", Protocol: v1.ProtocolTCP, Port: 80}, true},
		{HostPort{IP: "0.0.0.0", Protocol: v1.ProtocolTCP, Port: 80}, true},
		{HostPort{IP: "10.0.0.2", Protocol: v1.ProtocolTCP, Port: 80}, false},
		{HostPort{IP: "10.0.0.1", Protocol: v1.ProtocolUDP, Port: 80}, false},
	}
	for _, tc := range cases {
		if got := h.Conflicts(tc.hp); got != tc.want {
			t.Errorf("%+v: %v", tc.hp, got)
		}
	}
}
