package plugins

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// BalancedAllocationName is the plugin's name.
const BalancedAllocationName = "NodeResourcesBalancedAllocation"

// BalancedAllocationArgs lists the resources to balance (cpu, memory by
// default).
type BalancedAllocationArgs struct {
	Resources []ResourceSpec `json:"resources,omitempty"`
}

// BalancedAllocation prefers nodes whose resource usage fractions stay
// close to each other after placing the pod, so no resource is exhausted
// while others sit idle: score = (1 - stddev(fractions)) * 100.
type BalancedAllocation struct {
	resources []v1.ResourceName
}

// NewBalancedAllocation is the plugin factory.
func NewBalancedAllocation(raw json.RawMessage, _ framework.Handle) (framework.Plugin, error) {
	var args BalancedAllocationArgs
	if err := framework.DecodeArgs(raw, &args); err != nil {
		return nil, err
	}
	res := args.Resources
	if len(res) == 0 {
		res = defaultScoringResources
	}
	p := &BalancedAllocation{}
	for i, r := range res {
		if r.Name == "" {
			return nil, fmt.Errorf("resources[%d].name: required", i)
		}
		p.resources = append(p.resources, v1.ResourceName(r.Name))
	}
	return p, nil
}

func (*BalancedAllocation) Name() string { return BalancedAllocationName }

func (p *BalancedAllocation) Score(_ context.Context, state *framework.CycleState, pod *v1.Pod, ni *framework.NodeInfo) (int64, *framework.Status) {
	pi := state.PodInfo(pod)
	var fr [8]float64
	fractions := fr[:0]
	for _, name := range p.resources {
		req, alloc := requestedAndAllocatable(pi, ni, name)
		if alloc == 0 {
			continue
		}
		fractions = append(fractions, math.Min(float64(req)/float64(alloc), 1))
	}
	return int64((1 - stddev(fractions)) * float64(framework.MaxNodeScore)), nil
}

func stddev(xs []float64) float64 {
	switch len(xs) {
	case 0, 1:
		return 0
	case 2:
		return math.Abs(xs[0]-xs[1]) / 2
	}
	var mean float64
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	var v float64
	for _, x := range xs {
		v += (x - mean) * (x - mean)
	}
	return math.Sqrt(v / float64(len(xs)))
}
