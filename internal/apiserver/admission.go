package apiserver

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/admission"
	"github.com/skiff-sh/skiff/internal/apis/defaults"
)

var (
	namespacesGR      = schema.GroupResource{Resource: "namespaces"}
	podsGR            = schema.GroupResource{Resource: "pods"}
	servicesGR        = schema.GroupResource{Resource: "services"}
	priorityClassesGR = schema.GroupResource{Group: "scheduling.k8s.io", Resource: "priorityclasses"}
)

// admitCreate is the built-in admission chain on create (after defaulting,
// before validation): what upstream's default admission plugins do.
func (s *Server) admitCreate(ctx context.Context, obj runtime.Object) error {
	switch o := obj.(type) {
	case *corev1.Pod:
		return s.admitPod(ctx, o)
	case *corev1.Namespace:
		o.Status.Phase = corev1.NamespaceActive
		if len(o.Spec.Finalizers) == 0 {
			o.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
		}
	}
	return nil
}

// admitUpdate keeps server-assigned values a client may omit on update.
func (s *Server) admitUpdate(ctx context.Context, obj, current runtime.Object) error {
	switch o := obj.(type) {
	case *corev1.Service:
		keepServiceAllocations(o, current.(*corev1.Service))
	case *corev1.Namespace:
		if o.Status.Phase == "" {
			o.Status.Phase = current.(*corev1.Namespace).Status.Phase
		}
	}
	return nil
}

// admitPod: service account default, default NoExecute tolerations, priority from
// the PriorityClass, and the initial status.
func (s *Server) admitPod(ctx context.Context, pod *corev1.Pod) error {
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = "default"
	}
	// ServiceAccount admission (internal/admission/serviceaccount.go): refuses a
	// missing account, mounts the token volume. To move into the admission chain.
	if s.cfg.ServiceAccountAdmission {
		sa := &admission.ServiceAccount{Get: s.serviceAccount}
		a := &admission.Attributes{Operation: admission.Create, Resource: corev1.SchemeGroupVersion.WithResource("pods"),
			Namespace: pod.Namespace, Name: pod.Name, Object: pod}
		if err := sa.Admit(ctx, a); err != nil {
			return err
		}
	}
	pod.Spec.DeprecatedServiceAccount = pod.Spec.ServiceAccountName
	defaults.DefaultTolerations(pod)
	if err := s.resolvePriority(ctx, pod); err != nil {
		return err
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: qosClass(pod)}
	return nil
}

func (s *Server) resolvePriority(ctx context.Context, pod *corev1.Pod) error {
	name := pod.Spec.PriorityClassName
	if name == "" {
		if pc := s.globalDefaultPriorityClass(ctx); pc != nil {
			pod.Spec.PriorityClassName, pod.Spec.Priority = pc.Name, &pc.Value
			pod.Spec.PreemptionPolicy = pc.PreemptionPolicy
		} else {
			zero := int32(0)
			pod.Spec.Priority = &zero
		}
		return nil
	}
	obj, err := s.getCached(ctx, priorityClassesGR, s.cfg.Prefix+"/priorityclasses/"+name)
	if apierrors.IsNotFound(err) {
		return apierrors.NewForbidden(podsGR, pod.Name, errorf("no PriorityClass with name %s was found", name))
	}
	if err != nil {
		return err
	}
	pc := obj.(*schedulingv1.PriorityClass)
	pod.Spec.Priority = &pc.Value
	if pc.PreemptionPolicy != nil {
		pod.Spec.PreemptionPolicy = pc.PreemptionPolicy
	}
	return nil
}

func (s *Server) globalDefaultPriorityClass(ctx context.Context) *schedulingv1.PriorityClass {
	res, err := s.stores[priorityClassesGR].List(ctx, s.cfg.Prefix+"/priorityclasses/", storageAny())
	if err != nil {
		return nil
	}
	for _, o := range res.Items {
		if pc := o.(*schedulingv1.PriorityClass); pc.GlobalDefault {
			return pc
		}
	}
	return nil
}

// qosClass computes the pod's QoS class the way Kubernetes documents it.
func qosClass(pod *corev1.Pod) corev1.PodQOSClass {
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	guaranteed, any := true, false
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, rn := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[rn]
			lim, hasLim := c.Resources.Limits[rn]
			if hasReq && !req.IsZero() {
				any = true
				requests[rn] = req
			}
			if hasLim && !lim.IsZero() {
				any = true
				limits[rn] = lim
			}
			if !hasLim || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// getCached reads an object the admission chain depends on from the watch cache,
// falling back to a quorum read when the cache has not seen it yet: a client that
// creates a namespace (or PriorityClass) and then uses it must never get a 404.
func (s *Server) getCached(ctx context.Context, gr schema.GroupResource, key string) (runtime.Object, error) {
	obj, err := s.stores[gr].Get(ctx, key, "0")
	if apierrors.IsNotFound(err) {
		return s.stores[gr].Get(ctx, key, "")
	}
	return obj, err
}
