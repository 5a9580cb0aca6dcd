package admission_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/admission"
)

// objects is a Reader over a fixed set of objects keyed by resource and name.
type objects map[schema.GroupResource]map[string]runtime.Object

func (o objects) Get(_ context.Context, gr schema.GroupResource, _, name string) (runtime.Object, error) {
	if obj, ok := o[gr][name]; ok {
		return obj, nil
	}
	return nil, apierrors.NewNotFound(gr, name)
}

func (o objects) List(_ context.Context, gr schema.GroupResource, _ string) ([]runtime.Object, error) {
	var out []runtime.Object
	for _, obj := range o[gr] {
		out = append(out, obj)
	}
	return out, nil
}

var (
	podsGVR = corev1.SchemeGroupVersion.WithResource("pods")
	nsGR    = schema.GroupResource{Resource: "namespaces"}
	pcGR    = schema.GroupResource{Group: "scheduling.k8s.io", Resource: "priorityclasses"}
)

func podCreate(pod *corev1.Pod) *admission.Attributes {
	return &admission.Attributes{Operation: admission.Create, Resource: podsGVR, Namespace: "team", Name: pod.Name, Object: pod}
}

func TestNamespaceLifecycle(t *testing.T) {
	now := metav1.NewTime(time.Now())
	r := objects{nsGR: {
		"team": &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
		"old":  &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "old", DeletionTimestamp: &now}},
	}}
	chain := admission.Default(r)
	ctx := context.Background()
	if err := chain.Admit(ctx, podCreate(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}})); err != nil {
		t.Fatalf("live namespace: %v", err)
	}
	a := podCreate(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}})
	a.Namespace = "missing"
	if err := chain.Admit(ctx, a); !apierrors.IsNotFound(err) {
		t.Fatalf("missing namespace: want NotFound, got %v", err)
	}
	a.Namespace = "old"
	err := chain.Admit(ctx, a)
	if !apierrors.IsForbidden(err) || !hasCause(err, corev1.NamespaceTerminatingCause) {
		t.Fatalf("terminating namespace: want Forbidden with NamespaceTerminating cause, got %v", err)
	}
	// Only creates are refused: updates and deletes in a terminating namespace go on.
	a.Operation = admission.Update
	if err := chain.Admit(ctx, a); err != nil {
		t.Fatalf("update in terminating namespace: %v", err)
	}
}

func hasCause(err error, cause metav1.CauseType) bool {
	st, ok := err.(apierrors.APIStatus)
	if !ok || st.Status().Details == nil {
		return false
	}
	for _, c := range st.Status().Details.Causes {
		if c.Type == cause {
			return true
		}
	}
	return false
}

func TestPodPluginsOnCreate(t *testing.T) {
	never := corev1.PreemptNever
	r := objects{
		nsGR: {"team": &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}},
		pcGR: {
			"high":    &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000, PreemptionPolicy: &never},
			"default": &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Value: 7, GlobalDefault: true},
		},
	}
	chain, ctx := admission.Default(r), context.Background()

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{PriorityClassName: "high"}}
	if err := chain.Admit(ctx, podCreate(pod)); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.ServiceAccountName != "default" || pod.Spec.DeprecatedServiceAccount != "default" {
		t.Errorf("service account %q/%q", pod.Spec.ServiceAccountName, pod.Spec.DeprecatedServiceAccount)
	}
	if len(pod.Spec.Tolerations) != 2 {
		t.Errorf("default tolerations: %+v", pod.Spec.Tolerations)
	}
	if pod.Spec.Priority == nil || *pod.Spec.Priority != 1000 || pod.Spec.PreemptionPolicy == nil || *pod.Spec.PreemptionPolicy != never {
		t.Errorf("priority from class: %v %v", pod.Spec.Priority, pod.Spec.PreemptionPolicy)
	}

	unnamed := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "q"}}
	if err := chain.Admit(ctx, podCreate(unnamed)); err != nil {
		t.Fatal(err)
	}
	if unnamed.Spec.PriorityClassName != "default" || *unnamed.Spec.Priority != 7 {
		t.Errorf("global default class: %q %v", unnamed.Spec.PriorityClassName, unnamed.Spec.Priority)
	}

	bad := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "r"}, Spec: corev1.PodSpec{PriorityClassName: "nope"}}
	if err := chain.Admit(ctx, podCreate(bad)); !apierrors.IsForbidden(err) {
		t.Fatalf("unknown class: want Forbidden, got %v", err)
	}

	// A pod's other writes (status, updates) are not touched.
	status := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "s"}}
	a := podCreate(status)
	a.Operation = admission.Update
	if err := chain.Admit(ctx, a); err != nil || status.Spec.ServiceAccountName != "" || status.Spec.Priority != nil {
		t.Fatalf("update admitted as a create: %v %+v", err, status.Spec)
	}
}
