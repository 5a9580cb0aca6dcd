package plugins

import (
	"context"
	"encoding/json"
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// InterPodAffinityName is the plugin's name.
const InterPodAffinityName = "InterPodAffinity"

// Reasons shown by InterPodAffinity.
const (
	ReasonAffinityRules         = "node(s) didn't match pod affinity rules"
	ReasonAntiAffinityRules     = "node(s) didn't match pod anti-affinity rules"
	ReasonExistingAntiAffinity  = "node(s) didn't satisfy existing pods anti-affinity rules"
	defaultHardPodAffinityWeigh = 1
)

// InterPodAffinityArgs mirrors upstream's args.
type InterPodAffinityArgs struct {
	HardPodAffinityWeight *int32 `json:"hardPodAffinityWeight,omitempty"`
}

// InterPodAffinity enforces required pod affinity / anti-affinity (both the
// incoming pod's and the existing pods' anti-affinity) and scores preferred
// terms per topology domain.
type InterPodAffinity struct {
	h          framework.Handle
	nsLister   corelisters.NamespaceLister
	hardWeight int64
}

// NewInterPodAffinity is the plugin factory.
func NewInterPodAffinity(raw json.RawMessage, h framework.Handle) (framework.Plugin, error) {
	args := InterPodAffinityArgs{}
	if err := framework.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	p := &InterPodAffinity{h: h, hardWeight: defaultHardPodAffinityWeigh}
	if w := args.HardPodAffinityWeight; w != nil {
		if *w < 0 || *w > 100 {
			return nil, fmt.Errorf("hardPodAffinityWeight: must be in [0, 100], got %d", *w)
		}
		p.hardWeight = int64(*w)
	}
	if f := h.SharedInformerFactory(); f != nil {
		p.nsLister = f.Core().V1().Namespaces().Lister()
	}
	return p, nil
}

func (*InterPodAffinity) Name() string { return InterPodAffinityName }

type topoPair struct{ key, value string }

// affinityState holds the counts Filter needs:
//   - existingAnti: domains where an existing pod's required anti-affinity
//     matches the incoming pod;
//   - affinity / anti: domains holding pods that match the incoming pod's
//     required affinity (all terms) / anti-affinity (any term).
type affinityState struct {
	pi           *framework.PodInfo
	affTerms     []framework.AffinityTerm
	antiTerms    []framework.AffinityTerm
	nsLabels     labels.Set
	existingAnti map[topoPair]int
	affinity     map[topoPair]int
	anti         map[topoPair]int
}

func cloneCounts(m map[topoPair]int) map[topoPair]int {
	c := make(map[topoPair]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (s *affinityState) Clone() framework.StateData {
	c := *s
	c.existingAnti, c.affinity, c.anti = cloneCounts(s.existingAnti), cloneCounts(s.affinity), cloneCounts(s.anti)
	return &c
}

const (
	ipaFilterKey framework.StateKey = "PreFilter" + InterPodAffinityName
	ipaScoreKey  framework.StateKey = "PreScore" + InterPodAffinityName
)

// resolve turns namespace selectors into namespace sets once per cycle so
// matching is a set lookup.
func (p *InterPodAffinity) resolve(terms []framework.AffinityTerm) []framework.AffinityTerm {
	if len(terms) == 0 {
		return nil
	}
	out := make([]framework.AffinityTerm, len(terms))
	copy(out, terms)
	for i := range out {
		t := &out[i]
		if t.NamespaceSelector == nil {
			continue
		}
		ns := t.Namespaces.Clone()
		if t.NamespaceSelector.Empty() {
			// {} selects every namespace: keep the selector, it matches all.
			continue
		}
		if p.nsLister != nil {
			if list, err := p.nsLister.List(t.NamespaceSelector); err == nil {
				for _, n := range list {
					ns.Insert(n.Name)
				}
			}
		}
		t.Namespaces, t.NamespaceSelector = ns, nil
	}
	return out
}

func (p *InterPodAffinity) namespaceLabels(ns string) labels.Set {
	if p.nsLister == nil {
		return nil
	}
	n, err := p.nsLister.Get(ns)
	if err != nil {
		return nil
	}
	return n.Labels
}

func (p *InterPodAffinity) PreFilter(_ context.Context, state *framework.CycleState, pod *v1.Pod) (*framework.PreFilterResult, *framework.Status) {
	pi := state.PodInfo(pod)
	if pi.ParseError != nil {
		return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, pi.ParseError.Error())
	}
	lister := p.h.SnapshotSharedLister()
	withAnti := lister.HavePodsWithRequiredAntiAffinity()
	if len(pi.RequiredAffinityTerms) == 0 && len(pi.RequiredAntiAffinityTerms) == 0 && len(withAnti) == 0 {
		return nil, framework.NewStatus(framework.Skip)
	}
	s := &affinityState{pi: pi, affTerms: p.resolve(pi.RequiredAffinityTerms), antiTerms: p.resolve(pi.RequiredAntiAffinityTerms),
		nsLabels:     p.namespaceLabels(pod.Namespace),
		existingAnti: map[topoPair]int{}, affinity: map[topoPair]int{}, anti: map[topoPair]int{}}
	for _, ni := range withAnti {
		for _, existing := range ni.PodsWithRequiredAntiAffinity {
			s.addExisting(existing, ni.Node(), 1)
		}
	}
	if len(s.affTerms)+len(s.antiTerms) > 0 {
		for _, ni := range lister.List() {
			for _, existing := range ni.Pods {
				s.addIncoming(existing.Pod, ni.Node(), 1)
			}
		}
	}
	state.Write(ipaFilterKey, s)
	return nil, nil
}

// addExisting counts domains where existing's anti-affinity rejects the
// incoming pod.
func (s *affinityState) addExisting(existing *framework.PodInfo, node *v1.Node, delta int) {
	for i := range existing.RequiredAntiAffinityTerms {
		t := &existing.RequiredAntiAffinityTerms[i]
		if v, ok := node.Labels[t.TopologyKey]; ok && t.Matches(s.pi.Pod, s.nsLabels) {
			s.existingAnti[topoPair{t.TopologyKey, v}] += delta
		}
	}
}

// addIncoming counts domains with pods matching the incoming pod's terms.
func (s *affinityState) addIncoming(existing *v1.Pod, node *v1.Node, delta int) {
	if len(s.affTerms) > 0 && matchesAll(s.affTerms, existing) {
		for _, t := range s.affTerms {
			if v, ok := node.Labels[t.TopologyKey]; ok {
				s.affinity[topoPair{t.TopologyKey, v}] += delta
			}
		}
	}
	for _, t := range s.antiTerms {
		if v, ok := node.Labels[t.TopologyKey]; ok && t.Matches(existing, nil) {
			s.anti[topoPair{t.TopologyKey, v}] += delta
		}
	}
}

func matchesAll(terms []framework.AffinityTerm, pod *v1.Pod) bool {
	for i := range terms {
		if !terms[i].Matches(pod, nil) {
			return false
		}
	}
	return true
}

func (p *InterPodAffinity) Filter(_ context.Context, state *framework.CycleState, pod *v1.Pod, ni *framework.NodeInfo) *framework.Status {
	s, ok := readState[*affinityState](state, ipaFilterKey)
	if !ok {
		return framework.AsStatus(fmt.Errorf("%s: missing PreFilter state", InterPodAffinityName))
	}
	node := ni.Node()
	for pair, n := range s.existingAnti {
		if n > 0 && node.Labels[pair.key] == pair.value {
			if _, has := node.Labels[pair.key]; has {
				return framework.NewStatus(framework.Unschedulable, ReasonExistingAntiAffinity)
			}
		}
	}
	if !s.affinityOK(node) {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonAffinityRules)
	}
	for _, t := range s.antiTerms {
		if v, ok := node.Labels[t.TopologyKey]; ok && s.anti[topoPair{t.TopologyKey, v}] > 0 {
			return framework.NewStatus(framework.Unschedulable, ReasonAntiAffinityRules)
		}
	}
	return nil
}

// affinityOK: every term must find a matching pod in the node's domain.
// When no pod anywhere matches, a pod that matches its own terms may go
// anywhere with the keys: otherwise the first pod of a group could never
// schedule.
func (s *affinityState) affinityOK(node *v1.Node) bool {
	if len(s.affTerms) == 0 {
		return true
	}
	all := true
	for _, t := range s.affTerms {
		v, ok := node.Labels[t.TopologyKey]
		if !ok {
			return false
		}
		if s.affinity[topoPair{t.TopologyKey, v}] <= 0 {
			all = false
		}
	}
	if all {
		return true
	}
	empty := true
	for _, n := range s.affinity {
		if n > 0 {
			empty = false
			break
		}
	}
	return empty && matchesAll(s.affTerms, s.pi.Pod)
}

func (p *InterPodAffinity) AddPod(_ context.Context, state *framework.CycleState, _ *v1.Pod, add *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	if s, ok := readState[*affinityState](state, ipaFilterKey); ok {
		s.addExisting(add, ni.Node(), 1)
		s.addIncoming(add.Pod, ni.Node(), 1)
	}
	return nil
}

func (p *InterPodAffinity) RemovePod(_ context.Context, state *framework.CycleState, _ *v1.Pod, rm *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	if s, ok := readState[*affinityState](state, ipaFilterKey); ok {
		s.addExisting(rm, ni.Node(), -1)
		s.addIncoming(rm.Pod, ni.Node(), -1)
	}
	return nil
}

// scoreState maps topology domains to accumulated preference.
type scoreState map[topoPair]int64

func (s scoreState) Clone() framework.StateData { return s }

// PreScore accumulates, per domain, the weights of preferred terms that
// hold between the incoming pod and the pods already there, in both
// directions (plus existing pods' required affinity at hardPodAffinityWeight).
func (p *InterPodAffinity) PreScore(_ context.Context, state *framework.CycleState, pod *v1.Pod, _ []*framework.NodeInfo) *framework.Status {
	pi := state.PodInfo(pod)
	lister := p.h.SnapshotSharedLister()
	hasOwn := len(pi.PreferredAffinityTerms)+len(pi.PreferredAntiAffinityTerms) > 0
	nodes := lister.HavePodsWithAffinity()
	if hasOwn {
		nodes = lister.List()
	}
	if len(nodes) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	aff, anti := p.resolveWeighted(pi.PreferredAffinityTerms), p.resolveWeighted(pi.PreferredAntiAffinityTerms)
	nsLabels := p.namespaceLabels(pod.Namespace)
	scores := scoreState{}
	add := func(t *framework.AffinityTerm, node *v1.Node, w int64) {
		if v, ok := node.Labels[t.TopologyKey]; ok {
			scores[topoPair{t.TopologyKey, v}] += w
		}
	}
	for _, ni := range nodes {
		node := ni.Node()
		existing := ni.PodsWithAffinity
		if hasOwn {
			existing = ni.Pods
		}
		for _, e := range existing {
			for i := range aff {
				if aff[i].Matches(e.Pod, nil) {
					add(&aff[i].AffinityTerm, node, int64(aff[i].Weight))
				}
			}
			for i := range anti {
				if anti[i].Matches(e.Pod, nil) {
					add(&anti[i].AffinityTerm, node, -int64(anti[i].Weight))
				}
			}
			for i := range e.PreferredAffinityTerms {
				if t := &e.PreferredAffinityTerms[i]; t.Matches(pod, nsLabels) {
					add(&t.AffinityTerm, node, int64(t.Weight))
				}
			}
			for i := range e.PreferredAntiAffinityTerms {
				if t := &e.PreferredAntiAffinityTerms[i]; t.Matches(pod, nsLabels) {
					add(&t.AffinityTerm, node, -int64(t.Weight))
				}
			}
			if p.hardWeight > 0 {
				for i := range e.RequiredAffinityTerms {
					if t := &e.RequiredAffinityTerms[i]; t.Matches(pod, nsLabels) {
						add(t, node, p.hardWeight)
					}
				}
			}
		}
	}
	if len(scores) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	state.Write(ipaScoreKey, scores)
	return nil
}

func (p *InterPodAffinity) resolveWeighted(in []framework.WeightedAffinityTerm) []framework.WeightedAffinityTerm {
	if len(in) == 0 {
		return nil
	}
	terms := make([]framework.AffinityTerm, len(in))
	for i := range in {
		terms[i] = in[i].AffinityTerm
	}
	terms = p.resolve(terms)
	out := make([]framework.WeightedAffinityTerm, len(in))
	for i := range in {
		out[i] = framework.WeightedAffinityTerm{AffinityTerm: terms[i], Weight: in[i].Weight}
	}
	return out
}

func (p *InterPodAffinity) Score(_ context.Context, state *framework.CycleState, _ *v1.Pod, ni *framework.NodeInfo) (int64, *framework.Status) {
	s, ok := readState[scoreState](state, ipaScoreKey)
	if !ok {
		return 0, nil
	}
	var total int64
	for pair, w := range s {
		if v, ok := ni.Node().Labels[pair.key]; ok && v == pair.value {
			total += w
		}
	}
	return total, nil
}

// NormalizeScore maps [min, max] to [0, 100]; scores can be negative.
func (p *InterPodAffinity) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *v1.Pod, scores []framework.NodeScore) *framework.Status {
	if len(scores) == 0 {
		return nil
	}
	lo, hi := scores[0].Score, scores[0].Score
	for _, s := range scores {
		lo, hi = min(lo, s.Score), max(hi, s.Score)
	}
	for i := range scores {
		if hi == lo {
			scores[i].Score = 0
			continue
		}
		scores[i].Score = framework.MaxNodeScore * (scores[i].Score - lo) / (hi - lo)
	}
	return nil
}
