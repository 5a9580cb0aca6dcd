package replicaset

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// kindAdapter lets one controller drive both ReplicaSets and
// ReplicationControllers: the RC is viewed as a ReplicaSet with a
// matchLabels selector, as the two kinds have the same semantics.
type kindAdapter interface {
	gvk() schema.GroupVersionKind
	informer() cache.SharedIndexInformer
	get(namespace, name string) (*appsv1.ReplicaSet, error)
	list(namespace string) ([]*appsv1.ReplicaSet, error)
	// getLive reads the object from the API server (used before adoption).
	getLive(ctx context.Context, namespace, name string) (metav1.Object, error)
	updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) error
}

type rsAdapter struct {
	client kubernetes.Interface
	inf    cache.SharedIndexInformer
	f      informers.SharedInformerFactory
}

func (a *rsAdapter) gvk() schema.GroupVersionKind {
	return appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
}

func (a *rsAdapter) informer() cache.SharedIndexInformer { return a.inf }

func (a *rsAdapter) get(ns, name string) (*appsv1.ReplicaSet, error) {
	return a.f.Apps().V1().ReplicaSets().Lister().ReplicaSets(ns).Get(name)
}

func (a *rsAdapter) list(ns string) ([]*appsv1.ReplicaSet, error) {
	return a.f.Apps().V1().ReplicaSets().Lister().ReplicaSets(ns).List(labels.Everything())
}

func (a *rsAdapter) getLive(ctx context.Context, ns, name string) (metav1.Object, error) {
	return a.client.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
}

func (a *rsAdapter) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) error {
	_, err := a.client.AppsV1().ReplicaSets(rs.Namespace).UpdateStatus(ctx, rs, metav1.UpdateOptions{})
	return err
}

type rcAdapter struct {
	client kubernetes.Interface
	inf    cache.SharedIndexInformer
	f      informers.SharedInformerFactory
}

func (a *rcAdapter) gvk() schema.GroupVersionKind {
	return corev1.SchemeGroupVersion.WithKind("ReplicationController")
}

func (a *rcAdapter) informer() cache.SharedIndexInformer { return a.inf }

func (a *rcAdapter) get(ns, name string) (*appsv1.ReplicaSet, error) {
	rc, err := a.f.Core().V1().ReplicationControllers().Lister().ReplicationControllers(ns).Get(name)
	if err != nil {
		return nil, err
	}
	return rcToRS(rc), nil
}

func (a *rcAdapter) list(ns string) ([]*appsv1.ReplicaSet, error) {
	rcs, err := a.f.Core().V1().ReplicationControllers().Lister().ReplicationControllers(ns).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	out := make([]*appsv1.ReplicaSet, 0, len(rcs))
	for _, rc := range rcs {
		out = append(out, rcToRS(rc))
	}
	return out, nil
}

func (a *rcAdapter) getLive(ctx context.Context, ns, name string) (metav1.Object, error) {
	return a.client.CoreV1().ReplicationControllers(ns).Get(ctx, name, metav1.GetOptions{})
}

func (a *rcAdapter) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) error {
	rc, err := a.f.Core().V1().ReplicationControllers().Lister().ReplicationControllers(rs.Namespace).Get(rs.Name)
	if err != nil {
		return err
	}
	rc = rc.DeepCopy()
	s := rs.Status
	rc.Status.Replicas = s.Replicas
	rc.Status.FullyLabeledReplicas = s.FullyLabeledReplicas
	rc.Status.ReadyReplicas = s.ReadyReplicas
	rc.Status.AvailableReplicas = s.AvailableReplicas
	rc.Status.ObservedGeneration = s.ObservedGeneration
	rc.Status.Conditions = nil
	for _, c := range s.Conditions {
		rc.Status.Conditions = append(rc.Status.Conditions, corev1.ReplicationControllerCondition{
			Type: corev1.ReplicationControllerConditionType(c.Type), Status: c.Status,
			LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message})
	}
	_, err = a.client.CoreV1().ReplicationControllers(rs.Namespace).UpdateStatus(ctx, rc, metav1.UpdateOptions{})
	return err
}

// rcToRS views an RC as a ReplicaSet. The result shares no memory that the
// controller mutates (status is rebuilt, never written in place).
func rcToRS(rc *corev1.ReplicationController) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{ObjectMeta: *rc.ObjectMeta.DeepCopy()}
	rs.Spec.Replicas = rc.Spec.Replicas
	rs.Spec.MinReadySeconds = rc.Spec.MinReadySeconds
	sel := rc.Spec.Selector
	if rc.Spec.Template != nil {
		rs.Spec.Template = *rc.Spec.Template.DeepCopy()
		if len(sel) == 0 { // the API defaults an empty RC selector to the template labels
			sel = rc.Spec.Template.Labels
		}
	}
	rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: sel}
	rs.Status = appsv1.ReplicaSetStatus{
		Replicas: rc.Status.Replicas, FullyLabeledReplicas: rc.Status.FullyLabeledReplicas,
		ReadyReplicas: rc.Status.ReadyReplicas, AvailableReplicas: rc.Status.AvailableReplicas,
		ObservedGeneration: rc.Status.ObservedGeneration,
	}
	for _, c := range rc.Status.Conditions {
		rs.Status.Conditions = append(rs.Status.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetConditionType(c.Type), Status: c.Status,
			LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message})
	}
	return rs
}
