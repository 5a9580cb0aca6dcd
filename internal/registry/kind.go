package registry

import (
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/apis/defaults"
	"github.com/skiff-sh/skiff/internal/apis/validation"
	"github.com/skiff-sh/skiff/internal/printers"
)

// kind describes one resource with functions typed for its Go type T; build turns
// it into a Strategy. Only group and resource are required: a kind with no spec,
// no status and no selectable fields gets the generic behaviour.
type kind[T runtime.Object] struct {
	group, resource string

	// defaults fills unset fields; nil uses defaults.Default (kinds without a typed defaulter).
	defaults func(T)
	// spec returns the desired state; a change of it bumps metadata.generation.
	// Nil for kinds without a spec (no generation).
	spec func(T) any
	// prepareCreate sets kind-specific server-owned fields on create (after the
	// status reset and defaulting).
	prepareCreate func(T)
	// prepareUpdate carries kind-specific server-owned fields over an update.
	prepareUpdate func(obj, old T)
	// status is set iff the catalog serves a status subresource.
	status *status[T]
	// scale is set iff the catalog serves a scale subresource.
	scale *scale[T]
	// finalize copies src's spec.finalizers into dst; set iff the catalog serves /finalize.
	finalize func(dst, src T)
	// fields are the kind's selectable fields beyond metadata.name/namespace.
	fields func(T) fields.Set
	// gracePeriod, prepareForDelete and finalizing: see DeleteStrategy.
	gracePeriod      func(T, *metav1.DeleteOptions) int64
	prepareForDelete func(T)
	finalizing       func(T) bool
}

// status describes a kind's status subresource.
type status[T runtime.Object] struct {
	// set copies src's status into dst.
	set func(dst, src T)
	// keepOnCreate: the creator reports the status (nodes, namespaces).
	keepOnCreate bool
	// prepare adjusts a /status write (obj) against the stored object (old).
	prepare func(obj, old T)
}

// scale describes a kind's scale subresource.
type scale[T runtime.Object] struct {
	get func(T) (spec, status int32, selector string)
	set func(T, int32)
}

func (k kind[T]) groupResource() schema.GroupResource {
	return schema.GroupResource{Group: k.group, Resource: k.resource}
}

func (k kind[T]) build(res *catalog.Resource, _ Options) (*Strategy, error) {
	empty := func() T { return res.New().(T) }
	st := &Strategy{
		Default:          k.defaulter(),
		Validate:         validation.Validate,
		ValidateUpdate:   validation.ValidateUpdate,
		Printer:          printers.For(res.Group, res.Kind),
		SelectableFields: k.selectable(),
	}
	st.PrepareForCreate = func(obj runtime.Object) {
		o := obj.(T)
		if k.spec != nil {
			meta(o).Generation = 1
		}
		if k.status != nil && !k.status.keepOnCreate {
			k.status.set(o, empty())
		}
		if k.prepareCreate != nil {
			k.prepareCreate(o)
		}
	}
	st.PrepareForUpdate = func(obj, old runtime.Object) {
		o, p := obj.(T), old.(T)
		if k.status != nil {
			k.status.set(o, p) // status changes only through /status
		}
		if k.spec != nil && !apiequality.Semantic.DeepEqual(k.spec(o), k.spec(p)) {
			meta(o).Generation = meta(p).Generation + 1
		}
		if k.prepareUpdate != nil {
			k.prepareUpdate(o, p)
		}
	}
	if k.status != nil {
		st.Status = k.statusStrategy()
	}
	if k.scale != nil {
		sc := k.scale
		st.Scale = &ScaleStrategy{
			Replicas:    func(obj runtime.Object) (int32, int32, string) { return sc.get(obj.(T)) },
			SetReplicas: func(obj runtime.Object, n int32) { sc.set(obj.(T), n) },
		}
	}
	if k.finalize != nil {
		st.PrepareForFinalize = func(obj, old runtime.Object) runtime.Object {
			out := old.DeepCopyObject().(T)
			k.finalize(out, obj.(T))
			meta(out).ResourceVersion = meta(obj).ResourceVersion
			return out
		}
	}
	st.Delete = k.deleteStrategy()
	return st, nil
}

func (k kind[T]) defaulter() func(runtime.Object) {
	if k.defaults == nil {
		return defaults.Default
	}
	return func(obj runtime.Object) { k.defaults(obj.(T)) }
}

func (k kind[T]) selectable() func(runtime.Object) fields.Set {
	if k.fields == nil {
		return func(runtime.Object) fields.Set { return fields.Set{} }
	}
	return func(obj runtime.Object) fields.Set { return k.fields(obj.(T)) }
}

func (k kind[T]) statusStrategy() *StatusStrategy {
	s := k.status
	return &StatusStrategy{
		ResetOnCreate: !s.keepOnCreate,
		PrepareForUpdate: func(obj, old runtime.Object) runtime.Object {
			out := old.DeepCopyObject().(T)
			in := obj.(T)
			s.set(out, in)
			om, nm := meta(out), meta(in)
			om.ResourceVersion = nm.ResourceVersion
			om.Labels, om.Annotations = nm.Labels, nm.Annotations
			if s.prepare != nil {
				s.prepare(out, old.(T))
			}
			return out
		},
		ValidateUpdate: validation.ValidateStatusUpdate,
	}
}

func (k kind[T]) deleteStrategy() DeleteStrategy {
	var d DeleteStrategy
	if k.gracePeriod != nil {
		d.GracePeriod = func(obj runtime.Object, opts *metav1.DeleteOptions) int64 { return k.gracePeriod(obj.(T), opts) }
	}
	if k.prepareForDelete != nil {
		d.PrepareForDelete = func(obj runtime.Object) { k.prepareForDelete(obj.(T)) }
	}
	if k.finalizing != nil {
		d.Finalizing = func(obj runtime.Object) bool { return k.finalizing(obj.(T)) }
	}
	return d
}

// meta is the ObjectMeta of a built-in object (every served kind embeds one).
func meta(obj runtime.Object) *metav1.ObjectMeta {
	return obj.(metav1.ObjectMetaAccessor).GetObjectMeta().(*metav1.ObjectMeta)
}
