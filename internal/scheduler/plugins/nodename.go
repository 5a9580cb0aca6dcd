package plugins

import (
	"context"
	"encoding/json"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// NodeNameName is the NodeName plugin's name.
const NodeNameName = "NodeName"

// ReasonNodeName is shown when spec.nodeName points elsewhere.
const ReasonNodeName = "node(s) didn't match the requested node name"

// NodeName filters out every node but spec.nodeName when it is set (a pod
// can reach the scheduler with spec.nodeName only through a nomination or a
// custom client; the check keeps upstream's semantics).
type NodeName struct{}

// NewNodeName is the plugin factory.
func NewNodeName(json.RawMessage, framework.Handle) (framework.Plugin, error) { return NodeName{}, nil }

func (NodeName) Name() string { return NodeNameName }

func (NodeName) Filter(_ context.Context, _ *framework.CycleState, pod *v1.Pod, ni *framework.NodeInfo) *framework.Status {
	if pod.Spec.NodeName != "" && pod.Spec.NodeName != ni.Name() {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonNodeName)
	}
	return nil
}
