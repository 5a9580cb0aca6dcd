package plugins

import (
	"context"
	"encoding/json"

	v1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// NodeAffinityName is the plugin's name.
const NodeAffinityName = "NodeAffinity"

// ReasonNodeAffinity is shown when nodeSelector or required node affinity
// does not match.
const ReasonNodeAffinity = "node(s) didn't match Pod's node affinity/selector"

// NodeAffinity enforces spec.nodeSelector and required node affinity, and
// scores preferred node affinity terms by summed weight.
type NodeAffinity struct{}

// NewNodeAffinity is the plugin factory.
func NewNodeAffinity(json.RawMessage, framework.Handle) (framework.Plugin, error) {
	return NodeAffinity{}, nil
}

func (NodeAffinity) Name() string { return NodeAffinityName }

type requiredAffinity struct {
	nodeaffinity.RequiredNodeAffinity
}

func (r *requiredAffinity) Clone() framework.StateData { return r }

const (
	affinityFilterKey framework.StateKey = "PreFilter" + NodeAffinityName
	affinityScoreKey  framework.StateKey = "PreScore" + NodeAffinityName
)

// PreFilter parses the selectors once per cycle instead of once per node.
func (NodeAffinity) PreFilter(_ context.Context, state *framework.CycleState, pod *v1.Pod) (*framework.PreFilterResult, *framework.Status) {
	a := pod.Spec.Affinity
	hasRequired := a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil
	if len(pod.Spec.NodeSelector) == 0 && !hasRequired {
		return nil, framework.NewStatus(framework.Skip)
	}
	state.Write(affinityFilterKey, &requiredAffinity{nodeaffinity.GetRequiredNodeAffinity(pod)})
	return nil, nil
}

func (NodeAffinity) Filter(_ context.Context, state *framework.CycleState, pod *v1.Pod, ni *framework.NodeInfo) *framework.Status {
	r, ok := readState[*requiredAffinity](state, affinityFilterKey)
	if !ok {
		r = &requiredAffinity{nodeaffinity.GetRequiredNodeAffinity(pod)}
	}
	match, err := r.Match(ni.Node())
	if err != nil {
		return framework.AsStatus(err)
	}
	if !match {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonNodeAffinity)
	}
	return nil
}

type preferredAffinity struct {
	*nodeaffinity.PreferredSchedulingTerms
}

func (p preferredAffinity) Clone() framework.StateData { return p }

// PreScore parses preferred terms once; pods without them skip Score.
func (NodeAffinity) PreScore(_ context.Context, state *framework.CycleState, pod *v1.Pod, _ []*framework.NodeInfo) *framework.Status {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	terms, err := nodeaffinity.NewPreferredSchedulingTerms(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	if err != nil {
		return framework.AsStatus(err)
	}
	state.Write(affinityScoreKey, preferredAffinity{terms})
	return nil
}

func (NodeAffinity) Score(_ context.Context, state *framework.CycleState, _ *v1.Pod, ni *framework.NodeInfo) (int64, *framework.Status) {
	p, ok := readState[preferredAffinity](state, affinityScoreKey)
	if !ok {
		return 0, nil
	}
	return p.Score(ni.Node()), nil
}

func (NodeAffinity) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *v1.Pod, scores []framework.NodeScore) *framework.Status {
	normalize(scores, false)
	return nil
}
