package apiserver

import (
	"context"

	"github.com/google/uuid"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/admission"
	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/registry"
)

// prepareCreate fills server-owned metadata, then runs the resource's strategy and
// the admission chain in upstream's order: defaults, mutating admission, the
// strategy's PrepareForCreate and Validate, validating admission. The object is
// then ready to store (the strategy's allocations happen in the storage transaction).
func (s *Server) prepareCreate(ctx context.Context, ri requestInfo, obj runtime.Object, dryRun bool) error {
	m, err := metaAccessor(obj)
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	if err := checkNamespace(ri, m); err != nil {
		return err
	}
	if m.Name == "" && m.GenerateName != "" {
		m.Name = m.GenerateName + utilrand.String(5)
	}
	m.UID = types.UID(uuid.NewString())
	m.CreationTimestamp = metav1.Now()
	m.ResourceVersion, m.SelfLink = "", ""
	m.DeletionTimestamp, m.DeletionGracePeriodSeconds = nil, nil
	st := s.strategy(ri)
	st.Default(obj)
	if st.SetRequester != nil {
		u, _ := auth.UserFrom(ctx)
		st.SetRequester(obj, u)
	}
	attrs := attributes(ctx, admission.Create, ri, m.Name, obj, nil, dryRun)
	if err := s.admission.Admit(ctx, attrs); err != nil {
		return err
	}
	st.PrepareForCreate(obj)
	if err := invalid(obj, m.Name, st.Validate(obj)); err != nil {
		return err
	}
	return s.admission.Validate(ctx, attrs)
}

// checkNamespace makes a namespaced object's namespace the URL's (whether that
// namespace exists and is live is the NamespaceLifecycle plugin's call).
func checkNamespace(ri requestInfo, m *metav1.ObjectMeta) error {
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
	return nil
}

// prepareUpdate builds the object to store from the current one and the client's.
// ri.subresource is "" for the main resource, "status" or "finalize".
func (s *Server) prepareUpdate(ctx context.Context, ri requestInfo, obj, current runtime.Object, dryRun bool) (runtime.Object, error) {
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
	st := s.strategy(ri)
	switch ri.subresource {
	case "status":
		obj = st.Status.PrepareForUpdate(obj, current)
	case "finalize":
		obj = st.PrepareForFinalize(obj, current)
	case "":
	default:
		if sub := st.Subresources[ri.subresource]; sub != nil {
			obj = sub.PrepareForUpdate(obj, current)
		}
	}
	m, _ = metaAccessor(obj)
	keepServerMetadata(m, cm)
	if ri.subresource == "" {
		st.PrepareForUpdate(obj, current)
	}
	if cm.DeletionTimestamp != nil && addsFinalizer(m.Finalizers, cm.Finalizers) {
		return nil, invalid(obj, m.Name, field.ErrorList{field.Forbidden(field.NewPath("metadata", "finalizers"),
			"no new finalizers can be added if the object is being deleted")})
	}
	st.Default(obj)
	attrs := attributes(ctx, admission.Update, ri, m.Name, obj, current, dryRun)
	if err := s.admission.Admit(ctx, attrs); err != nil {
		return nil, err
	}
	validate := st.ValidateUpdate
	if ri.subresource == "status" {
		validate = st.Status.ValidateUpdate
	} else if sub := st.Subresources[ri.subresource]; sub != nil {
		validate = sub.ValidateUpdate
	}
	if err := invalid(obj, m.Name, validate(obj, current)); err != nil {
		return nil, err
	}
	return obj, s.admission.Validate(ctx, attrs)
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
// finalizers left, none of the kind's own (a namespace's spec.finalizers), and no
// grace period running (a pod's ends with the kubelet's delete, gracePeriodSeconds=0).
func shouldDelete(st *registry.Strategy, obj runtime.Object) bool {
	m, err := metaAccessor(obj)
	if err != nil || m.DeletionTimestamp == nil || len(m.Finalizers) > 0 || st.Finalizing(obj) {
		return false
	}
	return m.DeletionGracePeriodSeconds == nil || *m.DeletionGracePeriodSeconds == 0
}
