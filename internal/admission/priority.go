package admission

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Priority resolves a new pod's priority from its PriorityClass, or from the
// cluster's global default class, or 0 (upstream's Priority plugin).
type Priority struct{ Reader Reader }

func (Priority) Name() string { return "Priority" }

func (p Priority) Admit(ctx context.Context, a *Attributes) error {
	pod, ok := a.Object.(*corev1.Pod)
	if !ok || !isPodCreate(a) {
		return nil
	}
	name := pod.Spec.PriorityClassName
	if name == "" {
		if pc := p.globalDefault(ctx); pc != nil {
			pod.Spec.PriorityClassName, pod.Spec.Priority = pc.Name, &pc.Value
			pod.Spec.PreemptionPolicy = pc.PreemptionPolicy
		} else {
			zero := int32(0)
			pod.Spec.Priority = &zero
		}
		return nil
	}
	obj, err := p.Reader.Get(ctx, priorityClassesGR, "", name)
	if apierrors.IsNotFound(err) {
		return apierrors.NewForbidden(podsGR, pod.Name, fmt.Errorf("no PriorityClass with name %s was found", name))
	}
	if err != nil {
		return err
	}
	pc, ok := obj.(*schedulingv1.PriorityClass)
	if !ok {
		return apierrors.NewInternalError(fmt.Errorf("priorityclass %s: unexpected %T", name, obj))
	}
	pod.Spec.Priority = &pc.Value
	if pc.PreemptionPolicy != nil {
		pod.Spec.PreemptionPolicy = pc.PreemptionPolicy
	}
	return nil
}

// globalDefault is the class marked globalDefault, if any (a read error means none,
// as a pod must not fail to be created because the default could not be read).
func (p Priority) globalDefault(ctx context.Context) *schedulingv1.PriorityClass {
	items, err := p.Reader.List(ctx, priorityClassesGR, "")
	if err != nil {
		return nil
	}
	for _, o := range items {
		if pc, ok := o.(*schedulingv1.PriorityClass); ok && pc.GlobalDefault {
			return pc
		}
	}
	return nil
}
