package registry_test

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/registry"
)

var testOptions = registry.Options{ServiceCIDR: "10.43.0.0/16", NodePortMin: 30000, NodePortMax: 32767}

func newRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	reg, err := registry.New(catalog.Resources, testOptions)
	if err != nil {
		t.Fatalf("registry.New: %v", err)
	}
	return reg
}

// sample is an empty object of the resource's kind with a name (and namespace).
func sample(r *catalog.Resource) runtime.Object {
	obj := r.New()
	m := obj.(metav1.ObjectMetaAccessor).GetObjectMeta()
	m.SetName("sample")
	if r.Namespaced {
		m.SetNamespace("default")
	}
	return obj
}

// TestEveryStoredResourceHasACompleteStrategy walks the catalog: every stored
// resource has every function of its strategy, a printer whose rows fit its
// columns, a status strategy iff the catalog serves /status and a scale strategy
// iff it serves /scale. Each function runs once on an object of the kind, so a
// strategy registered for the wrong Go type fails here, not on a request.
func TestEveryStoredResourceHasACompleteStrategy(t *testing.T) {
	reg := newRegistry(t)
	for i := range catalog.Resources {
		r := &catalog.Resources[i]
		if !r.HasVerb("list") {
			if reg.For(r.GroupResource()) != nil {
				t.Errorf("%s: create-only resource has a strategy", r.GroupResource())
			}
			continue
		}
		t.Run(r.GroupResource().String(), func(t *testing.T) { checkStrategy(t, reg, r) })
	}
}

func checkStrategy(t *testing.T, reg *registry.Registry, r *catalog.Resource) {
	st := reg.For(r.GroupResource())
	if st == nil {
		t.Fatal("no strategy")
	}
	if st.Resource != r {
		t.Errorf("strategy serves %v, want the catalog row", st.Resource.GroupVersionResource)
	}
	if st.PrepareForCreate == nil || st.PrepareForUpdate == nil || st.Default == nil || st.Validate == nil ||
		st.ValidateUpdate == nil || st.SelectableFields == nil || st.Printer == nil {
		t.Fatalf("incomplete strategy: %+v", st)
	}
	obj := sample(r)
	st.Default(obj)
	st.PrepareForCreate(obj)
	_ = st.Validate(obj)
	next := obj.DeepCopyObject()
	st.PrepareForUpdate(next, obj)
	_ = st.ValidateUpdate(next, obj)
	if f := st.FieldLabels(); !f["metadata.name"] || !f["metadata.namespace"] {
		t.Errorf("field labels %v lack metadata.name/namespace", f)
	}
	for k := range st.SelectableFields(obj) {
		if !st.FieldLabels()[k] {
			t.Errorf("selectable field %s is not a field label", k)
		}
	}
	table, err := st.Printer.Table([]runtime.Object{obj}, metav1.IncludeNone, time.Now())
	if err != nil || len(table.Rows) != 1 || len(table.Rows[0].Cells) != len(st.Printer.Columns()) {
		t.Errorf("printer: %v %+v", err, table)
	}

	if hasStatus := r.HasSubresource("status"); hasStatus != (st.Status != nil) {
		t.Errorf("catalog status subresource %v, status strategy %v", hasStatus, st.Status != nil)
	} else if hasStatus {
		if st.Status.PrepareForUpdate == nil || st.Status.ValidateUpdate == nil {
			t.Fatalf("incomplete status strategy: %+v", st.Status)
		}
		out := st.Status.PrepareForUpdate(obj.DeepCopyObject(), obj)
		_ = st.Status.ValidateUpdate(out, obj)
	}

	if hasFinalize := r.HasSubresource("finalize"); hasFinalize != (st.PrepareForFinalize != nil) {
		t.Errorf("catalog finalize subresource %v, finalize strategy %v", hasFinalize, st.PrepareForFinalize != nil)
	} else if hasFinalize {
		_ = st.PrepareForFinalize(obj.DeepCopyObject(), obj)
	}

	if hasScale := r.HasSubresource("scale"); hasScale != (st.Scale != nil) {
		t.Errorf("catalog scale subresource %v, scale strategy %v", hasScale, st.Scale != nil)
	} else if hasScale {
		if st.Scale.Replicas == nil || st.Scale.SetReplicas == nil {
			t.Fatalf("incomplete scale strategy: %+v", st.Scale)
		}
		st.Scale.SetReplicas(obj, 3)
		if spec, _, _ := st.Scale.Replicas(obj); spec != 3 {
			t.Errorf("scale: set 3, read %d", spec)
		}
	}
}

func TestLookupByKind(t *testing.T) {
	reg := newRegistry(t)
	if st := reg.ForKind(appsv1.SchemeGroupVersion.WithKind("Deployment").GroupKind()); st == nil || st.Resource.Resource != "deployments" {
		t.Fatalf("ForKind(Deployment) = %+v", st)
	}
	if reg.Services() == nil || reg.Services().FirstIP() != "10.43.0.1" {
		t.Fatalf("service allocator: %+v", reg.Services())
	}
}

// TestStatusOnCreateAndUpdate: controllers own status (reset on create, kept on a
// main-resource update) except where the creator reports it (nodes).
func TestStatusOnCreateAndUpdate(t *testing.T) {
	reg := newRegistry(t)
	deploy := reg.For(appsv1.Resource("deployments"))
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Status: appsv1.DeploymentStatus{Replicas: 7}}
	deploy.PrepareForCreate(d)
	if d.Status.Replicas != 0 || d.Generation != 1 {
		t.Fatalf("create: status %+v generation %d", d.Status, d.Generation)
	}
	old := d.DeepCopy()
	old.Status.Replicas = 2
	n := int32(5)
	d.Spec.Replicas = &n
	deploy.PrepareForUpdate(d, old)
	if d.Status.Replicas != 2 || d.Generation != 2 {
		t.Fatalf("update: status %+v generation %d", d.Status, d.Generation)
	}

	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"},
		Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourcePods: *resourcePods()}}}
	reg.For(corev1.Resource("nodes")).PrepareForCreate(node)
	if len(node.Status.Capacity) == 0 {
		t.Fatal("node status dropped on create")
	}

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	reg.For(corev1.Resource("pods")).PrepareForCreate(pod)
	if pod.Status.Phase != corev1.PodPending || pod.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Fatalf("pod initial status %+v", pod.Status)
	}
}

func resourcePods() *resource.Quantity { q := resource.MustParse("110"); return &q }
