package plugins

import (
	"context"
	"encoding/json"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// NodePortsName is the plugin's name.
const NodePortsName = "NodePorts"

// ReasonNodePorts is shown when a requested host port is taken.
const ReasonNodePorts = "node(s) didn't have free ports for the requested pod ports"

// NodePorts rejects nodes where a host port the pod wants is already bound.
// The rejection is Unschedulable (not unresolvable): evicting the holder
// frees the port, so preemption may help.
type NodePorts struct{}

// NewNodePorts is the plugin factory.
func NewNodePorts(json.RawMessage, framework.Handle) (framework.Plugin, error) {
	return NodePorts{}, nil
}

func (NodePorts) Name() string { return NodePortsName }

// PreFilter skips the Filter for the (common) pods with no host ports.
func (NodePorts) PreFilter(_ context.Context, state *framework.CycleState, pod *v1.Pod) (*framework.PreFilterResult, *framework.Status) {
	if len(state.PodInfo(pod).Ports) == 0 {
		return nil, framework.NewStatus(framework.Skip)
	}
	return nil, nil
}

func (NodePorts) Filter(_ context.Context, state *framework.CycleState, pod *v1.Pod, ni *framework.NodeInfo) *framework.Status {
	for _, hp := range state.PodInfo(pod).Ports {
		if ni.UsedPorts.Conflicts(hp) {
			return framework.NewStatus(framework.Unschedulable, ReasonNodePorts)
		}
	}
	return nil
}
