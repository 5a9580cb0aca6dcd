package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/registry"
)

var (
	scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")
	podsGR   = schema.GroupResource{Resource: "pods"}
)

// scaleOf reads spec.replicas, status.replicas and the selector of a scalable object.
func scaleOf(st *registry.Strategy, obj runtime.Object) *autoscalingv1.Scale {
	m := mustMeta(obj)
	sc := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID,
		ResourceVersion: m.ResourceVersion, CreationTimestamp: m.CreationTimestamp}}
	sc.SetGroupVersionKind(scaleGVK)
	sc.Spec.Replicas, sc.Status.Replicas, sc.Status.Selector = st.Scale.Replicas(obj)
	return sc
}

// serveScale implements GET/PUT/PATCH of the autoscaling/v1 Scale subresource.
func (s *Server) serveScale(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	ctx, st := r.Context(), s.strategy(ri)
	if ri.verb == "get" {
		obj, err := s.store(ri).Get(ctx, s.key(ri, ri.name), "")
		if err != nil {
			writeError(w, err)
			return
		}
		writeObject(w, negotiate(r, nil), 200, scaleOf(st, obj))
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	mainRI := ri
	mainRI.subresource = ""
	out, err := s.updateObject(ctx, mainRI, isDryRun(r), func(current runtime.Object) (runtime.Object, error) {
		sc, err := s.scaleFromRequest(w, r, ri, body, scaleOf(st, current))
		if err != nil {
			return nil, err
		}
		if sc.ResourceVersion != "" && sc.ResourceVersion != mustMeta(current).ResourceVersion {
			return nil, conflict(ri, ri.name)
		}
		if sc.Spec.Replicas < 0 {
			return nil, apierrors.NewInvalid(scaleGVK.GroupKind(), ri.name, field.ErrorList{
				field.Invalid(field.NewPath("spec", "replicas"), sc.Spec.Replicas, "must be greater than or equal to 0")})
		}
		next := current.DeepCopyObject()
		st.Scale.SetReplicas(next, sc.Spec.Replicas)
		mustMeta(next).ResourceVersion = ""
		return s.prepareUpdate(ctx, mainRI, next, current, isDryRun(r))
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, negotiate(r, nil), 200, scaleOf(st, out))
}

func (s *Server) scaleFromRequest(w http.ResponseWriter, r *http.Request, ri requestInfo, body []byte, current *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
	if ri.verb == "update" {
		obj, err := decodeBody(w, r, scaleGVK, body)
		if err != nil {
			return nil, err
		}
		return obj.(*autoscalingv1.Scale), nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	cur, _ := json.Marshal(current)
	patched, err := applyPatch(types.PatchType(mt), cur, body, current)
	if err != nil {
		return nil, err
	}
	obj, err := decodeWith(w, r, jsonInfo, scaleGVK, patched)
	if err != nil {
		return nil, err
	}
	sc := obj.(*autoscalingv1.Scale)
	if sc.ResourceVersion == current.ResourceVersion {
		sc.ResourceVersion = "" // a patch without a resourceVersion is unconditional
	}
	return sc, nil
}

// serveBinding assigns a pod to a node (pods/binding or the bindings resource).
func (s *Server) serveBinding(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	obj, err := readObject(w, r, corev1.SchemeGroupVersion.WithKind("Binding"))
	if err != nil {
		writeError(w, err)
		return
	}
	b := obj.(*corev1.Binding)
	name := ri.name
	if name == "" {
		name = b.Name
	}
	if b.Target.Name == "" {
		writeError(w, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Binding").GroupKind(), name,
			field.ErrorList{field.Required(field.NewPath("target", "name"), "")}))
		return
	}
	podRI := requestInfo{namespace: ri.namespace, name: name, res: catalogPods(), verb: "update"}
	_, err = s.updateObject(r.Context(), podRI, isDryRun(r), func(current runtime.Object) (runtime.Object, error) {
		return bindPod(current.(*corev1.Pod), b)
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, negotiate(r, nil), http.StatusCreated, successStatus(http.StatusCreated))
}

func bindPod(current *corev1.Pod, b *corev1.Binding) (runtime.Object, error) {
	if current.DeletionTimestamp != nil {
		return nil, apierrors.NewConflict(podsGR, current.Name, errorf("pod %s is being deleted, cannot be assigned to a host", current.Name))
	}
	if current.Spec.NodeName != "" {
		return nil, apierrors.NewConflict(podsGR, current.Name, errorf("pod %s is already assigned to node %q", current.Name, current.Spec.NodeName))
	}
	if b.UID != "" && b.UID != current.UID {
		return nil, apierrors.NewConflict(podsGR, current.Name, errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", b.UID, current.UID))
	}
	pod := current.DeepCopy()
	pod.Spec.NodeName = b.Target.Name
	for k, v := range b.Annotations {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[k] = v
	}
	setPodCondition(pod, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
	return pod, nil
}

func setPodCondition(pod *corev1.Pod, c corev1.PodCondition) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == c.Type {
			pod.Status.Conditions[i] = c
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
}

func successStatus(code int32) *metav1.Status {
	return &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: code}
}

// serveEviction deletes a pod unless a PodDisruptionBudget forbids it (429).
func (s *Server) serveEviction(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	obj, err := readObject(w, r, policyv1.SchemeGroupVersion.WithKind("Eviction"))
	if err != nil {
		writeError(w, err)
		return
	}
	ev := obj.(*policyv1.Eviction)
	ctx := r.Context()
	podRI := requestInfo{namespace: ri.namespace, name: ri.name, res: catalogPods(), verb: "delete"}
	podObj, err := s.store(podRI).Get(ctx, s.key(podRI, ri.name), "")
	if err != nil {
		writeError(w, err)
		return
	}
	pod := podObj.(*corev1.Pod)
	if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed && pod.DeletionTimestamp == nil {
		if err := s.takeDisruption(ctx, pod); err != nil {
			writeError(w, err)
			return
		}
	}
	opts := ev.DeleteOptions
	if opts == nil {
		opts = &metav1.DeleteOptions{}
	}
	if _, err := s.deleteObject(ctx, podRI, ri.name, opts); err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, negotiate(r, nil), http.StatusCreated, successStatus(http.StatusCreated))
}

// takeDisruption checks the pod's PodDisruptionBudgets and spends one allowed disruption.
func (s *Server) takeDisruption(ctx context.Context, pod *corev1.Pod) error {
	pdbRI := requestInfo{namespace: pod.Namespace, res: catalogPDBs(), verb: "update"}
	res, err := s.store(pdbRI).List(ctx, s.collectionPrefix(pdbRI), storageAny())
	if err != nil {
		return err
	}
	for _, o := range res.Items {
		pdb := o.(*policyv1.PodDisruptionBudget)
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		_, err = s.updateObject(ctx, withName(pdbRI, pdb.Name), false, func(cur runtime.Object) (runtime.Object, error) {
			p := cur.(*policyv1.PodDisruptionBudget).DeepCopy()
			if p.Status.ObservedGeneration < p.Generation {
				msg := "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget " + p.Name + " is still being processed by the server."
				return nil, tooManyRequests(msg, msg)
			}
			if p.Status.DisruptionsAllowed < 1 {
				return nil, tooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.",
					fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", p.Name, p.Status.DesiredHealthy, p.Status.CurrentHealthy))
			}
			p.Status.DisruptionsAllowed--
			if p.Status.DisruptedPods == nil {
				p.Status.DisruptedPods = map[string]metav1.Time{}
			}
			p.Status.DisruptedPods[pod.Name] = metav1.Now()
			return p, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// tooManyRequests is the eviction's 429. It carries no Retry-After: client-go would
// sleep and retry inside one request (up to 10 times), so `kubectl drain` could not
// report the budget or honour its --timeout; drain retries by itself every 5s.
func tooManyRequests(msg, cause string) error {
	err := apierrors.NewTooManyRequests(msg, 0)
	err.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: policyv1.DisruptionBudgetCause, Message: cause}}
	return err
}
