package apiserver

import (
	"context"
	"reflect"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/admission"
	"github.com/skiff-sh/skiff/internal/apis/defaults"
	"github.com/skiff-sh/skiff/internal/apis/validation"
)

// prepareCreate fills server-owned metadata, defaults the object, runs the
// kind's admission step and validates. The object is then ready to store.
func (s *Server) prepareCreate(ctx context.Context, ri requestInfo, obj runtime.Object) error {
	m, err := metaAccessor(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	if err := s.checkNamespace(ctx, ri, m); err != nil {
		return err
	}
	if m.Name == "" && m.GenerateName != "" {
		m.Name = m.GenerateName + utilrand.String(5)
	}
	m.UID = types.UID(uuid.NewString())
	m.CreationTimestamp = metav1.Now()
	m.ResourceVersion, m.SelfLink = "", ""
	m.DeletionTimestamp, m.DeletionGracePeriodSeconds = nil, nil
	if hasField(obj, "Spec") {
		m.Generation = 1
	}
	if ri.res.HasSubresource("status") && resetsStatusOnCreate(obj) {
		clearField(obj, "Status")
	}
	defaults.Default(obj)
	setCSRRequester(ctx, obj) // CSRs record who asked (csr.go)
	if err := s.admitCreate(ctx, obj); err != nil {
		return err
	}
	// The admission chain (admissionchain.go) runs after the built-in admission steps.
	if err := s.admit(ctx, admission.Create, ri, obj, nil); err != nil {
		return err
	}
	return invalid(obj, m.Name, validation.Validate(obj))
}

// checkNamespace enforces that namespaced objects name an existing, live namespace
// that matches the URL.
func (s *Server) checkNamespace(ctx context.Context, ri requestInfo, m *metav1.ObjectMeta) error {
	if !ri.res.Namespaced {
		m.Namespace = ""
		return nil
	}
	if m.Namespace == "" {
		m.Namespace = ri.namespace
	}
	if m.Namespace != ri.namespace {
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	nsObj, err := s.getCached(ctx, namespacesGR, s.cfg.Prefix+"/namespaces/"+m.Namespace)
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound(corev1.Resource("namespaces"), m.Namespace)
	}
	if err != nil {
		return err
	}
	if ns := nsObj.(*corev1.Namespace); ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
		err := apierrors.NewForbidden(ri.res.GroupResource(), m.Name,
			errorf("unable to create new content in namespace %s because it is being terminated", m.Namespace))
		// Controllers recognise this refusal by its cause (and then stop
		// retrying or recording failure events), as with upstream's admission.
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
			Type: corev1.NamespaceTerminatingCause, Field: "metadata.namespace",
			Message: "namespace " + m.Namespace + " is being terminated"})
		return err
	}
	return nil
}

// prepareUpdate builds the object to store from the current one and the client's.
// sub is "" for the main resource or "status".
func (s *Server) prepareUpdate(ctx context.Context, ri requestInfo, obj, current runtime.Object) (runtime.Object, error) {
	m, err := metaAccessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	cm, _ := metaAccessor(current)
	if m.Name != cm.Name {
		return nil, apierrors.NewBadRequest("the name of the object (" + m.Name + ") does not match the name on the URL (" + cm.Name + ")")
	}
	if m.ResourceVersion == "" {
		m.ResourceVersion = cm.ResourceVersion // empty resourceVersion: unconditional update
	} else if m.ResourceVersion != cm.ResourceVersion {
		return nil, conflict(ri, cm.Name)
	}
	if ri.subresource == "status" || ri.subresource == "approval" {
		obj = withStatusOnly(current, obj)
		restrictCSRSubresource(ri.subresource, obj, current) // CSR approval vs status (csr.go)
		m, _ = metaAccessor(obj)
	} else if ri.res.HasSubresource("status") && ri.subresource != "finalize" {
		copyField(obj, current, "Status")
	}
	if ri.subresource == "finalize" {
		obj = withFinalizersOnly(current, obj)
		m, _ = metaAccessor(obj)
	}
	keepServerMetadata(m, cm)
	if cm.DeletionTimestamp != nil && addsFinalizer(m.Finalizers, cm.Finalizers) {
		return nil, invalid(obj, m.Name, field.ErrorList{field.Forbidden(field.NewPath("metadata", "finalizers"),
			"no new finalizers can be added if the object is being deleted")})
	}
	if hasField(obj, "Spec") && !apiequality.Semantic.DeepEqual(fieldOf(obj, "Spec"), fieldOf(current, "Spec")) {
		m.Generation = cm.Generation + 1
	}
	defaults.Default(obj)
	if err := s.admitUpdate(ctx, obj, current); err != nil {
		return nil, err
	}
	// The admission chain (admissionchain.go) runs after the built-in admission steps.
	if err := s.admit(ctx, admission.Update, ri, obj, current); err != nil {
		return nil, err
	}
	if ri.subresource == "status" || ri.subresource == "approval" {
		return obj, invalid(obj, m.Name, validation.ValidateStatusUpdate(obj, current))
	}
	return obj, invalid(obj, m.Name, validation.ValidateUpdate(obj, current))
}

// keepServerMetadata restores the fields clients cannot change.
func keepServerMetadata(m, cm *metav1.ObjectMeta) {
	m.UID, m.CreationTimestamp, m.Namespace = cm.UID, cm.CreationTimestamp, cm.Namespace
	m.DeletionTimestamp, m.DeletionGracePeriodSeconds = cm.DeletionTimestamp, cm.DeletionGracePeriodSeconds
	m.Generation, m.SelfLink, m.GenerateName = cm.Generation, "", cm.GenerateName
}

func addsFinalizer(now, before []string) bool {
	had := map[string]bool{}
	for _, f := range before {
		had[f] = true
	}
	for _, f := range now {
		if !had[f] {
			return true
		}
	}
	return false
}

// withStatusOnly is current with the client's status: a /status write changes nothing else
// but labels and annotations (as upstream allows).
func withStatusOnly(current, obj runtime.Object) runtime.Object {
	out := current.DeepCopyObject()
	copyField(out, obj, "Status")
	om, _ := metaAccessor(out)
	nm, _ := metaAccessor(obj)
	om.ResourceVersion = nm.ResourceVersion
	om.Labels, om.Annotations = nm.Labels, nm.Annotations
	return out
}

// withFinalizersOnly applies a namespace /finalize write: only spec.finalizers change.
func withFinalizersOnly(current, obj runtime.Object) runtime.Object {
	out := current.DeepCopyObject().(*corev1.Namespace)
	in, ok := obj.(*corev1.Namespace)
	if ok {
		out.Spec.Finalizers = in.Spec.Finalizers
		out.ResourceVersion = in.ResourceVersion
	}
	return out
}

// resetsStatusOnCreate: status is the controllers' and kubelets' to write, except for
// nodes and namespaces whose creators report it.
func resetsStatusOnCreate(obj runtime.Object) bool {
	switch obj.(type) {
	case *corev1.Node, *corev1.Namespace:
		return false
	}
	return true
}

func invalid(obj runtime.Object, name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	return apierrors.NewInvalid(gvk.GroupKind(), name, errs)
}

func conflict(ri requestInfo, name string) error {
	return apierrors.NewConflict(ri.res.GroupResource(), name,
		errorf("the object has been modified; please apply your changes to the latest version and try again"))
}

// shouldDelete reports whether an object marked for deletion can go now: no
// finalizers left and no grace period running (namespaces also wait for spec.finalizers).
func shouldDelete(obj runtime.Object) bool {
	m, err := metaAccessor(obj)
	if err != nil || m.DeletionTimestamp == nil || len(m.Finalizers) > 0 {
		return false
	}
	if ns, ok := obj.(*corev1.Namespace); ok {
		return len(ns.Spec.Finalizers) == 0
	}
	// A running grace period ends with the kubelet's delete (gracePeriodSeconds=0).
	return m.DeletionGracePeriodSeconds == nil || *m.DeletionGracePeriodSeconds == 0
}

// Reflection helpers over the Spec/Status fields every built-in kind shares.

func hasField(obj runtime.Object, name string) bool {
	return reflect.ValueOf(obj).Elem().FieldByName(name).IsValid()
}

func fieldOf(obj runtime.Object, name string) any {
	return reflect.ValueOf(obj).Elem().FieldByName(name).Interface()
}

func copyField(dst, src runtime.Object, name string) {
	d := reflect.ValueOf(dst).Elem().FieldByName(name)
	s := reflect.ValueOf(src).Elem().FieldByName(name)
	if d.IsValid() && s.IsValid() && d.CanSet() {
		d.Set(s)
	}
}

func clearField(obj runtime.Object, name string) {
	f := reflect.ValueOf(obj).Elem().FieldByName(name)
	if f.IsValid() && f.CanSet() {
		f.Set(reflect.Zero(f.Type()))
	}
}
