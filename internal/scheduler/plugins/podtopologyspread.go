package plugins

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// PodTopologySpreadName is the plugin's name.
const PodTopologySpreadName = "PodTopologySpread"

// Reasons shown by PodTopologySpread.
const (
	ReasonTopologySpread        = "node(s) didn't match pod topology spread constraints"
	ReasonTopologySpreadMissing = "node(s) didn't match pod topology spread constraints (missing required label)"
)

// PodTopologySpreadArgs mirrors upstream's args. Only "List" defaulting is
// supported: defaultConstraints apply to pods that declare none.
type PodTopologySpreadArgs struct {
	DefaultConstraints []v1.TopologySpreadConstraint `json:"defaultConstraints,omitempty"`
	DefaultingType     string                        `json:"defaultingType,omitempty"`
}

// PodTopologySpread enforces topologySpreadConstraints: DoNotSchedule ones
// filter nodes whose domain would exceed maxSkew; ScheduleAnyway ones score
// nodes in emptier domains higher.
type PodTopologySpread struct {
	h        framework.Handle
	defaults []v1.TopologySpreadConstraint
}

// NewPodTopologySpread is the plugin factory.
func NewPodTopologySpread(raw json.RawMessage, h framework.Handle) (framework.Plugin, error) {
	var args PodTopologySpreadArgs
	if err := framework.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	switch args.DefaultingType {
	case "", "System", "List":
	default:
		return nil, fmt.Errorf("defaultingType: unsupported value %q (want System or List)", args.DefaultingType)
	}
	for i, c := range args.DefaultConstraints {
		if c.LabelSelector != nil {
			return nil, fmt.Errorf("defaultConstraints[%d].labelSelector: must not be set", i)
		}
	}
	return &PodTopologySpread{h: h, defaults: args.DefaultConstraints}, nil
}

func (*PodTopologySpread) Name() string { return PodTopologySpreadName }

type spreadConstraint struct {
	maxSkew     int32
	key         string
	minDomains  int32
	selector    labels.Selector
	honorTaints bool
}

// spreadState holds, per constraint, matching pod counts per domain value.
type spreadState struct {
	constraints []spreadConstraint
	counts      []map[string]int
	mins        []int
	affinity    nodeaffinity.RequiredNodeAffinity
	honorAff    []bool
}

func (s *spreadState) Clone() framework.StateData {
	c := *s
	c.counts = make([]map[string]int, len(s.counts))
	for i, m := range s.counts {
		c.counts[i] = make(map[string]int, len(m))
		for k, v := range m {
			c.counts[i][k] = v
		}
	}
	c.mins = append([]int(nil), s.mins...)
	return &c
}

const (
	spreadFilterKey framework.StateKey = "PreFilter" + PodTopologySpreadName
	spreadScoreKey  framework.StateKey = "PreScore" + PodTopologySpreadName
)

func (p *PodTopologySpread) constraints(pod *v1.Pod, when v1.UnsatisfiableConstraintAction) ([]spreadConstraint, []bool, error) {
	src := pod.Spec.TopologySpreadConstraints
	fromDefaults := false
	if len(src) == 0 {
		src, fromDefaults = p.defaults, true
	}
	var out []spreadConstraint
	var honorAff []bool
	for i := range src {
		c := &src[i]
		if c.WhenUnsatisfiable != when {
			continue
		}
		var sel labels.Selector
		if fromDefaults {
			// Defaults select the pod's own siblings: same labels.
			sel = labels.SelectorFromSet(pod.Labels)
		} else {
			var err error
			if sel, err = metav1.LabelSelectorAsSelector(c.LabelSelector); err != nil {
				return nil, nil, err
			}
		}
		for _, k := range c.MatchLabelKeys {
			if v, ok := pod.Labels[k]; ok {
				if r, err := labels.NewRequirement(k, "=", []string{v}); err == nil {
					sel = sel.Add(*r)
				}
			}
		}
		sc := spreadConstraint{maxSkew: c.MaxSkew, key: c.TopologyKey, minDomains: 1, selector: sel,
			honorTaints: c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy == v1.NodeInclusionPolicyHonor}
		if c.MinDomains != nil {
			sc.minDomains = *c.MinDomains
		}
		out = append(out, sc)
		honorAff = append(honorAff, c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy == v1.NodeInclusionPolicyHonor)
	}
	return out, honorAff, nil
}

// build counts matching pods per domain over every eligible node.
func (p *PodTopologySpread) build(pod *v1.Pod, cs []spreadConstraint, honorAff []bool) *spreadState {
	s := &spreadState{constraints: cs, counts: make([]map[string]int, len(cs)), mins: make([]int, len(cs)),
		affinity: nodeaffinity.GetRequiredNodeAffinity(pod), honorAff: honorAff}
	for i := range cs {
		s.counts[i] = map[string]int{}
	}
	for _, ni := range p.h.SnapshotSharedLister().List() {
		node := ni.Node()
		for i := range cs {
			val, ok := s.domain(pod, i, node)
			if !ok {
				continue
			}
			s.counts[i][val] += countMatching(ni.Pods, pod.Namespace, cs[i].selector)
		}
	}
	s.recomputeMins()
	return s
}

// domain returns the node's value for constraint i if the node counts.
func (s *spreadState) domain(pod *v1.Pod, i int, node *v1.Node) (string, bool) {
	for _, c := range s.constraints { // a node must carry every key
		if _, ok := node.Labels[c.key]; !ok {
			return "", false
		}
	}
	if s.honorAff[i] {
		if ok, _ := s.affinity.Match(node); !ok {
			return "", false
		}
	}
	if s.constraints[i].honorTaints {
		if _, untolerated := firstUntoleratedTaint(node, pod); untolerated {
			return "", false
		}
	}
	return node.Labels[s.constraints[i].key], true
}

func (s *spreadState) recomputeMins() {
	for i, m := range s.counts {
		lo := math.MaxInt
		for _, n := range m {
			lo = min(lo, n)
		}
		if lo == math.MaxInt || int32(len(m)) < s.constraints[i].minDomains {
			lo = 0 // fewer domains than minDomains: the global minimum is 0
		}
		s.mins[i] = lo
	}
}

func countMatching(pods []*framework.PodInfo, ns string, sel labels.Selector) int {
	n := 0
	for _, pi := range pods {
		if pi.Pod.Namespace == ns && !podIsTerminating(pi.Pod) && sel.Matches(labels.Set(pi.Pod.Labels)) {
			n++
		}
	}
	return n
}

func (p *PodTopologySpread) PreFilter(_ context.Context, state *framework.CycleState, pod *v1.Pod) (*framework.PreFilterResult, *framework.Status) {
	cs, honor, err := p.constraints(pod, v1.DoNotSchedule)
	if err != nil {
		return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, err.Error())
	}
	if len(cs) == 0 {
		return nil, framework.NewStatus(framework.Skip)
	}
	state.Write(spreadFilterKey, p.build(pod, cs, honor))
	return nil, nil
}

func (p *PodTopologySpread) Filter(_ context.Context, state *framework.CycleState, pod *v1.Pod, ni *framework.NodeInfo) *framework.Status {
	s, ok := readState[*spreadState](state, spreadFilterKey)
	if !ok {
		return framework.AsStatus(fmt.Errorf("%s: missing PreFilter state", PodTopologySpreadName))
	}
	node := ni.Node()
	for i, c := range s.constraints {
		val, ok := node.Labels[c.key]
		if !ok {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonTopologySpreadMissing)
		}
		self := 0
		if c.selector.Matches(labels.Set(pod.Labels)) {
			self = 1
		}
		if s.counts[i][val]+self-s.mins[i] > int(c.maxSkew) {
			return framework.NewStatus(framework.Unschedulable, ReasonTopologySpread)
		}
	}
	return nil
}

// AddPod / RemovePod keep counts right while preemption simulates.
func (p *PodTopologySpread) AddPod(_ context.Context, state *framework.CycleState, pod *v1.Pod, add *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	return p.adjust(state, pod, add, ni, 1)
}

func (p *PodTopologySpread) RemovePod(_ context.Context, state *framework.CycleState, pod *v1.Pod, rm *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	return p.adjust(state, pod, rm, ni, -1)
}

func (p *PodTopologySpread) adjust(state *framework.CycleState, pod *v1.Pod, other *framework.PodInfo, ni *framework.NodeInfo, delta int) *framework.Status {
	s, ok := readState[*spreadState](state, spreadFilterKey)
	if !ok || other.Pod.Namespace != pod.Namespace {
		return nil
	}
	for i, c := range s.constraints {
		if val, ok := s.domain(pod, i, ni.Node()); ok && c.selector.Matches(labels.Set(other.Pod.Labels)) {
			s.counts[i][val] += delta
		}
	}
	s.recomputeMins()
	return nil
}

// PreScore counts pods for ScheduleAnyway constraints.
func (p *PodTopologySpread) PreScore(_ context.Context, state *framework.CycleState, pod *v1.Pod, _ []*framework.NodeInfo) *framework.Status {
	cs, honor, err := p.constraints(pod, v1.ScheduleAnyway)
	if err != nil {
		return framework.AsStatus(err)
	}
	if len(cs) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	state.Write(spreadScoreKey, p.build(pod, cs, honor))
	return nil
}

// Score sums, per constraint, the matching pods in the node's domain,
// weighted by log(domains+2) so constraints over many small domains
// (hostname) do not drown those over few big ones (zone). Lower is better;
// NormalizeScore flips it. A node missing a key scores -1 (then 0).
func (p *PodTopologySpread) Score(_ context.Context, state *framework.CycleState, _ *v1.Pod, ni *framework.NodeInfo) (int64, *framework.Status) {
	s, ok := readState[*spreadState](state, spreadScoreKey)
	if !ok {
		return 0, nil
	}
	var score float64
	for i, c := range s.constraints {
		val, ok := ni.Node().Labels[c.key]
		if !ok {
			return -1, nil
		}
		w := math.Log(float64(len(s.counts[i]) + 2))
		score += float64(s.counts[i][val])*w + float64(c.maxSkew-1)
	}
	return int64(math.Round(score)), nil
}

func (p *PodTopologySpread) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *v1.Pod, scores []framework.NodeScore) *framework.Status {
	lo, hi := int64(math.MaxInt64), int64(0)
	for _, s := range scores {
		if s.Score < 0 {
			continue
		}
		lo, hi = min(lo, s.Score), max(hi, s.Score)
	}
	for i := range scores {
		switch {
		case scores[i].Score < 0:
			scores[i].Score = 0
		case hi == 0:
			scores[i].Score = framework.MaxNodeScore
		default:
			scores[i].Score = framework.MaxNodeScore * (hi + lo - scores[i].Score) / hi
		}
	}
	return nil
}

func firstUntoleratedTaint(node *v1.Node, pod *v1.Pod) (v1.Taint, bool) {
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if !hardTaint(t) {
			continue
		}
		tolerated := false
		for j := range pod.Spec.Tolerations {
			if pod.Spec.Tolerations[j].ToleratesTaint(logger, t, false) {
				tolerated = true
				break
			}
		}
		if !tolerated {
			return *t, true
		}
	}
	return v1.Taint{}, false
}
