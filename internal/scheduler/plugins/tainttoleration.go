package plugins

import (
	"context"
	"encoding/json"
	"fmt"

	v1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// TaintTolerationName is the plugin's name.
const TaintTolerationName = "TaintToleration"

// TaintToleration filters nodes with NoSchedule/NoExecute taints the pod
// does not tolerate, and scores down nodes with untolerated PreferNoSchedule
// taints.
type TaintToleration struct{}

// NewTaintToleration is the plugin factory.
func NewTaintToleration(json.RawMessage, framework.Handle) (framework.Plugin, error) {
	return TaintToleration{}, nil
}

func (TaintToleration) Name() string { return TaintTolerationName }

func hardTaint(t *v1.Taint) bool {
	return t.Effect == v1.TaintEffectNoSchedule || t.Effect == v1.TaintEffectNoExecute
}

func (TaintToleration) Filter(_ context.Context, _ *framework.CycleState, pod *v1.Pod, ni *framework.NodeInfo) *framework.Status {
	taints := ni.Node().Spec.Taints
	if len(taints) == 0 {
		return nil
	}
	taint, found := corev1helpers.FindMatchingUntoleratedTaint(logger, taints, pod.Spec.Tolerations, hardTaint, false)
	if !found {
		return nil
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable,
		fmt.Sprintf("node(s) had untolerated taint {%s: %s}", taint.Key, taint.Value))
}

type preferTolerations []v1.Toleration

func (p preferTolerations) Clone() framework.StateData { return p }

const taintStateKey framework.StateKey = "PreScore" + TaintTolerationName

// PreScore keeps only the tolerations that can matter for PreferNoSchedule.
func (TaintToleration) PreScore(_ context.Context, state *framework.CycleState, pod *v1.Pod, _ []*framework.NodeInfo) *framework.Status {
	var tol preferTolerations
	for _, t := range pod.Spec.Tolerations {
		if t.Effect == "" || t.Effect == v1.TaintEffectPreferNoSchedule {
			tol = append(tol, t)
		}
	}
	state.Write(taintStateKey, tol)
	return nil
}

// Score counts untolerated PreferNoSchedule taints (normalized in reverse:
// more taints, lower score).
func (TaintToleration) Score(_ context.Context, state *framework.CycleState, _ *v1.Pod, ni *framework.NodeInfo) (int64, *framework.Status) {
	tol, _ := readState[preferTolerations](state, taintStateKey)
	var n int64
	for i := range ni.Node().Spec.Taints {
		t := &ni.Node().Spec.Taints[i]
		if t.Effect != v1.TaintEffectPreferNoSchedule {
			continue
		}
		if !corev1helpers.TolerationsTolerateTaint(logger, tol, t, false) {
			n++
		}
	}
	return n, nil
}

func (TaintToleration) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *v1.Pod, scores []framework.NodeScore) *framework.Status {
	normalize(scores, true)
	return nil
}
