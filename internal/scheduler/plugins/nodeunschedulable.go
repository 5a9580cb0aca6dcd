package plugins

import (
	"context"
	"encoding/json"

	v1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// NodeUnschedulableName is the plugin's name.
const NodeUnschedulableName = "NodeUnschedulable"

// ReasonNodeUnschedulable is shown for cordoned nodes.
const ReasonNodeUnschedulable = "node(s) were unschedulable"

// unschedulableTaint is what a pod must tolerate to land on a cordoned node
// (DaemonSet pods do).
var unschedulableTaint = v1.Taint{Key: v1.TaintNodeUnschedulable, Effect: v1.TaintEffectNoSchedule}

// NodeUnschedulable rejects nodes with spec.unschedulable (kubectl cordon).
type NodeUnschedulable struct{}

// NewNodeUnschedulable is the plugin factory.
func NewNodeUnschedulable(json.RawMessage, framework.Handle) (framework.Plugin, error) {
	return NodeUnschedulable{}, nil
}

func (NodeUnschedulable) Name() string { return NodeUnschedulableName }

func (NodeUnschedulable) Filter(_ context.Context, _ *framework.CycleState, pod *v1.Pod, ni *framework.NodeInfo) *framework.Status {
	if !ni.Node().Spec.Unschedulable {
		return nil
	}
	if corev1helpers.TolerationsTolerateTaint(logger, pod.Spec.Tolerations, &unschedulableTaint, false) {
		return nil
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonNodeUnschedulable)
}
