package plugins

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// NodeResourcesFitName is the plugin's name.
const NodeResourcesFitName = "NodeResourcesFit"

// ReasonTooManyPods is shown when a node is at its pod capacity.
const ReasonTooManyPods = "Too many pods"

// Scoring strategies for NodeResourcesFit.
const (
	LeastAllocated           = "LeastAllocated"
	MostAllocated            = "MostAllocated"
	RequestedToCapacityRatio = "RequestedToCapacityRatio"
)

// NodeResourcesFitArgs mirrors upstream's args.
type NodeResourcesFitArgs struct {
	IgnoredResources      []string         `json:"ignoredResources,omitempty"`
	IgnoredResourceGroups []string         `json:"ignoredResourceGroups,omitempty"`
	ScoringStrategy       *ScoringStrategy `json:"scoringStrategy,omitempty"`
}

// ScoringStrategy picks how requested/allocatable turns into a score.
type ScoringStrategy struct {
	Type                     string                        `json:"type,omitempty"`
	Resources                []ResourceSpec                `json:"resources,omitempty"`
	RequestedToCapacityRatio *RequestedToCapacityRatioArgs `json:"requestedToCapacityRatio,omitempty"`
}

// ResourceSpec is a resource and its weight in the score.
type ResourceSpec struct {
	Name   string `json:"name"`
	Weight int64  `json:"weight,omitempty"`
}

// RequestedToCapacityRatioArgs is the piecewise-linear shape.
type RequestedToCapacityRatioArgs struct {
	Shape []UtilizationShapePoint `json:"shape"`
}

// UtilizationShapePoint maps a utilization (0–100) to a score (0–10).
type UtilizationShapePoint struct {
	Utilization int32 `json:"utilization"`
	Score       int32 `json:"score"`
}

var defaultScoringResources = []ResourceSpec{{Name: "cpu", Weight: 1}, {Name: "memory", Weight: 1}}

// NodeResourcesFit rejects nodes without room for the pod's requests and
// scores the rest with the configured strategy (LeastAllocated by default:
// spread load).
type NodeResourcesFit struct {
	ignored      map[v1.ResourceName]bool
	ignoredGroup []string
	scorer       resourceScorer
}

// NewNodeResourcesFit is the plugin factory.
func NewNodeResourcesFit(raw json.RawMessage, _ framework.Handle) (framework.Plugin, error) {
	var args NodeResourcesFitArgs
	if err := framework.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	p := &NodeResourcesFit{ignored: map[v1.ResourceName]bool{}, ignoredGroup: args.IgnoredResourceGroups}
	for _, r := range args.IgnoredResources {
		p.ignored[v1.ResourceName(r)] = true
	}
	s := args.ScoringStrategy
	if s == nil {
		s = &ScoringStrategy{Type: LeastAllocated}
	}
	scorer, err := newResourceScorer(s)
	if err != nil {
		return nil, err
	}
	p.scorer = scorer
	return p, nil
}

func newResourceScorer(s *ScoringStrategy) (resourceScorer, error) {
	res := s.Resources
	if len(res) == 0 {
		res = defaultScoringResources
	}
	for i, r := range res {
		if r.Weight < 0 || r.Weight > 100 {
			return resourceScorer{}, fmt.Errorf("scoringStrategy.resources[%d].weight: must be in [1, 100], got %d", i, r.Weight)
		}
		if r.Weight == 0 {
			res[i].Weight = 1
		}
	}
	rs := resourceScorer{resources: res}
	switch s.Type {
	case "", LeastAllocated:
		rs.fn = leastAllocated
	case MostAllocated:
		rs.fn = mostAllocated
	case RequestedToCapacityRatio:
		if s.RequestedToCapacityRatio == nil || len(s.RequestedToCapacityRatio.Shape) == 0 {
			return resourceScorer{}, fmt.Errorf("scoringStrategy.requestedToCapacityRatio.shape: required for type %s", RequestedToCapacityRatio)
		}
		fn, err := ratioScorer(s.RequestedToCapacityRatio.Shape)
		if err != nil {
			return resourceScorer{}, err
		}
		rs.fn = fn
	default:
		return resourceScorer{}, fmt.Errorf("scoringStrategy.type: unsupported value %q (want %s, %s or %s)",
			s.Type, LeastAllocated, MostAllocated, RequestedToCapacityRatio)
	}
	return rs, nil
}

func (*NodeResourcesFit) Name() string { return NodeResourcesFitName }

// Filter checks pod count and every requested resource; like upstream it
// reports all insufficient resources, not just the first.
func (p *NodeResourcesFit) Filter(_ context.Context, state *framework.CycleState, pod *v1.Pod, ni *framework.NodeInfo) *framework.Status {
	req := &state.PodInfo(pod).Requests
	var reasons []string
	if int64(len(ni.Pods))+1 > ni.Allocatable.AllowedPodNumber {
		reasons = append(reasons, ReasonTooManyPods)
	}
	free := func(name v1.ResourceName, want, alloc, used int64) {
		if want > 0 && want > alloc-used && !p.ignored[name] {
			reasons = append(reasons, "Insufficient "+string(name))
		}
	}
	free(v1.ResourceCPU, req.MilliCPU, ni.Allocatable.MilliCPU, ni.Requested.MilliCPU)
	free(v1.ResourceMemory, req.Memory, ni.Allocatable.Memory, ni.Requested.Memory)
	free(v1.ResourceEphemeralStorage, req.EphemeralStorage, ni.Allocatable.EphemeralStorage, ni.Requested.EphemeralStorage)
	for name, want := range req.Scalar {
		if p.ignoredByGroup(name) {
			continue
		}
		free(name, want, ni.Allocatable.Scalar[name], ni.Requested.Scalar[name])
	}
	if len(reasons) == 0 {
		return nil
	}
	return framework.NewStatus(framework.Unschedulable, reasons...)
}

func (p *NodeResourcesFit) ignoredByGroup(name v1.ResourceName) bool {
	if len(p.ignoredGroup) == 0 {
		return false
	}
	group, _, ok := strings.Cut(string(name), "/")
	if !ok {
		return false
	}
	for _, g := range p.ignoredGroup {
		if g == group {
			return true
		}
	}
	return false
}

func (p *NodeResourcesFit) Score(_ context.Context, state *framework.CycleState, pod *v1.Pod, ni *framework.NodeInfo) (int64, *framework.Status) {
	return p.scorer.score(state.PodInfo(pod), ni), nil
}

// resourceScorer turns (requested, allocatable) per resource into a
// weighted average score.
type resourceScorer struct {
	resources []ResourceSpec
	fn        func(requested, allocatable int64) int64
}

func (s resourceScorer) score(pi *framework.PodInfo, ni *framework.NodeInfo) int64 {
	var sum, weights int64
	for _, r := range s.resources {
		req, alloc := requestedAndAllocatable(pi, ni, v1.ResourceName(r.Name))
		if alloc == 0 {
			continue // the node does not offer it: not part of the score
		}
		sum += s.fn(req, alloc) * r.Weight
		weights += r.Weight
	}
	if weights == 0 {
		return 0
	}
	return sum / weights
}

// requestedAndAllocatable returns what the node would have requested with
// the pod added. cpu and memory use the non-zero defaults so best-effort
// pods still spread.
func requestedAndAllocatable(pi *framework.PodInfo, ni *framework.NodeInfo, name v1.ResourceName) (int64, int64) {
	switch name {
	case v1.ResourceCPU:
		return ni.NonZeroRequested.MilliCPU + pi.NonZeroRequests.MilliCPU, ni.Allocatable.MilliCPU
	case v1.ResourceMemory:
		return ni.NonZeroRequested.Memory + pi.NonZeroRequests.Memory, ni.Allocatable.Memory
	default:
		return ni.Requested.Get(name) + pi.Requests.Get(name), ni.Allocatable.Get(name)
	}
}

func leastAllocated(requested, allocatable int64) int64 {
	if requested > allocatable {
		return 0
	}
	return (allocatable - requested) * framework.MaxNodeScore / allocatable
}

func mostAllocated(requested, allocatable int64) int64 {
	requested = min(requested, allocatable)
	return requested * framework.MaxNodeScore / allocatable
}

// maxShapeScore is the top of the user-facing 0–10 shape scale.
const maxShapeScore = 10

func ratioScorer(shape []UtilizationShapePoint) (func(int64, int64) int64, error) {
	for i, p := range shape {
		if p.Utilization < 0 || p.Utilization > 100 {
			return nil, fmt.Errorf("scoringStrategy.requestedToCapacityRatio.shape[%d].utilization: must be in [0, 100]", i)
		}
		if p.Score < 0 || p.Score > maxShapeScore {
			return nil, fmt.Errorf("scoringStrategy.requestedToCapacityRatio.shape[%d].score: must be in [0, %d]", i, maxShapeScore)
		}
		if i > 0 && p.Utilization <= shape[i-1].Utilization {
			return nil, fmt.Errorf("scoringStrategy.requestedToCapacityRatio.shape[%d].utilization: values must be increasing", i)
		}
	}
	pts := append([]UtilizationShapePoint(nil), shape...)
	scale := framework.MaxNodeScore / maxShapeScore
	return func(requested, allocatable int64) int64 {
		u := min(requested*100/allocatable, 100)
		if u <= int64(pts[0].Utilization) {
			return int64(pts[0].Score) * scale
		}
		for i := 1; i < len(pts); i++ {
			if u <= int64(pts[i].Utilization) {
				a, b := pts[i-1], pts[i]
				s := int64(a.Score)*scale + (int64(b.Score-a.Score)*scale)*(u-int64(a.Utilization))/int64(b.Utilization-a.Utilization)
				return s
			}
		}
		return int64(pts[len(pts)-1].Score) * scale
	}, nil
}
