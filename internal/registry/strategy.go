// Package registry holds one Strategy per served resource: every decision the API
// server makes about a kind (server-owned fields on create and update, defaults,
// validation, which fields a /status write may change, scale, printing, field
// selectors, deletion rules and storage side effects) is made by that kind's
// strategy, so the request path has no per-kind branches. It is upstream's
// RESTCreateStrategy/RESTUpdateStrategy idea, kept small.
//
// Each kind (or small API group) has one file here that registers its strategy in
// init; a test checks that every stored resource of the catalog has a complete one.
// See CONTRIBUTING.md ("Adding a built-in resource").
package registry

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/printers"
	"github.com/skiff-sh/skiff/internal/storage"
)

// Strategy is the behaviour of one served resource. The API server calls, on create:
// Default, admission (mutating), PrepareForCreate, Validate, admission (validating),
// then stores (with Allocate's side effects in the same transaction); on update of the
// main resource: PrepareForUpdate, Default, admission, ValidateUpdate; on a /status
// write: Status.PrepareForUpdate, Default, admission, Status.ValidateUpdate.
type Strategy struct {
	// Resource is the catalog row the strategy serves.
	Resource *catalog.Resource

	// PrepareForCreate sets what the server owns on a new object: generation 1,
	// the status reset (or the kind's initial status), kind-specific fields.
	PrepareForCreate func(obj runtime.Object)
	// PrepareForUpdate carries over from old what a write of the main resource may
	// not change (status, server-allocated values) and bumps the generation when the
	// spec changed. obj's metadata has already been reconciled with old's.
	PrepareForUpdate func(obj, old runtime.Object)
	// Default fills unset fields (internal/apis/defaults).
	Default func(obj runtime.Object)
	// Validate checks a new object; ValidateUpdate an update of the main resource
	// (internal/apis/validation).
	Validate       func(obj runtime.Object) field.ErrorList
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList

	// Status is set iff the catalog serves a status subresource.
	Status *StatusStrategy
	// Scale is set iff the catalog serves a scale subresource.
	Scale *ScaleStrategy
	// Subresources says how each other subresource that writes part of the object
	// is written (a CSR's approval), like Status does for /status.
	Subresources map[string]*StatusStrategy
	// SetRequester, when set, records who creates the object (a CSR's
	// spec.username, uid, groups and extra), replacing whatever the client sent.
	SetRequester func(obj runtime.Object, u *auth.User)
	// PrepareForFinalize is set iff the catalog serves a finalize subresource
	// (namespaces): it returns what a /finalize write stores, old with obj's
	// spec.finalizers and nothing else changed.
	PrepareForFinalize func(obj, old runtime.Object) runtime.Object

	// Printer renders Tables for kubectl get.
	Printer printers.Printer
	// SelectableFields are the fields a field selector can match, beyond
	// metadata.name and metadata.namespace (which the server adds).
	SelectableFields func(obj runtime.Object) fields.Set

	// Delete holds the kind's deletion rules; the zero value deletes at once.
	Delete DeleteStrategy
	// Allocate, when set, returns the extra etcd keys (allocations) a write takes
	// or frees, committed in the same transaction as the object (storage.Config.Effects).
	Allocate storage.EffectsFunc

	fieldLabels map[string]bool
	services    *ServiceAllocator // set on the Service strategy, for the repair loop
}

// StatusStrategy says how the status subresource is written.
type StatusStrategy struct {
	// ResetOnCreate drops the status a client sends on create: it is the controllers'
	// and kubelets' to write (false for nodes and namespaces, whose creators report it).
	ResetOnCreate bool
	// PrepareForUpdate returns what a /status write stores: old with obj's status
	// (and labels and annotations, as upstream allows); nothing else changes.
	PrepareForUpdate func(obj, old runtime.Object) runtime.Object
	// ValidateUpdate checks the new status.
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList
}

// ScaleStrategy reads and writes the replica count behind /scale.
type ScaleStrategy struct {
	// Replicas returns spec.replicas, status.replicas and the label selector as a string.
	Replicas func(obj runtime.Object) (spec, status int32, selector string)
	// SetReplicas sets spec.replicas.
	SetReplicas func(obj runtime.Object, n int32)
}

// DeleteStrategy is how a kind's deletion proceeds. Nil functions mean: no grace
// period, nothing to mark, no kind-specific finalizers.
type DeleteStrategy struct {
	// GracePeriod is how long the object stays marked before it goes (pods on a node).
	GracePeriod func(obj runtime.Object, opts *metav1.DeleteOptions) int64
	// PrepareForDelete changes the object when its deletion starts (namespace phase Terminating).
	PrepareForDelete func(obj runtime.Object)
	// Finalizing reports kind-specific finalizers still to run (a namespace's spec.finalizers).
	Finalizing func(obj runtime.Object) bool
}

// FieldLabels is the set of fields a field selector may name for this kind.
func (s *Strategy) FieldLabels() map[string]bool { return s.fieldLabels }

// Fields returns the field set a selector is matched against.
func (s *Strategy) Fields(obj runtime.Object, name, namespace string) fields.Set {
	f := s.SelectableFields(obj)
	f["metadata.name"] = name
	f["metadata.namespace"] = namespace
	return f
}

// GracePeriod is the grace period of a delete with opts (0: delete at once).
func (s *Strategy) GracePeriod(obj runtime.Object, opts *metav1.DeleteOptions) int64 {
	if s.Delete.GracePeriod == nil {
		return 0
	}
	return s.Delete.GracePeriod(obj, opts)
}

// Finalizing reports whether kind-specific finalizers still hold obj.
func (s *Strategy) Finalizing(obj runtime.Object) bool {
	return s.Delete.Finalizing != nil && s.Delete.Finalizing(obj)
}

// Options configure the strategies that depend on the cluster (Service allocation).
type Options struct {
	// Prefix of every etcd key ("/registry").
	Prefix string
	// ServiceCIDR is the range ClusterIPs come from (10.43.0.0/16).
	ServiceCIDR string
	// NodePortMin/Max bound NodePort allocation (30000-32767).
	NodePortMin, NodePortMax int
}

// builder makes one resource's strategy; each kind file registers one.
type builder interface {
	groupResource() schema.GroupResource
	build(res *catalog.Resource, opts Options) (*Strategy, error)
}

var builders = map[schema.GroupResource]builder{}

// register adds a kind's strategy builder; called from the kind files' init.
func register(b builder) {
	gr := b.groupResource()
	if _, dup := builders[gr]; dup {
		panic("registry: duplicate strategy for " + gr.String())
	}
	builders[gr] = b
}

// Registry is the strategies of every stored resource of the catalog.
type Registry struct {
	byResource map[schema.GroupResource]*Strategy
	byKind     map[schema.GroupKind]*Strategy
	services   *ServiceAllocator
}

// New builds the strategy of every resource in resources that is stored (has the
// list verb); a stored resource without a registered strategy is an error.
func New(resources []catalog.Resource, opts Options) (*Registry, error) {
	if opts.Prefix == "" {
		opts.Prefix = "/registry"
	}
	r := &Registry{byResource: map[schema.GroupResource]*Strategy{}, byKind: map[schema.GroupKind]*Strategy{}}
	for i := range resources {
		res := &resources[i]
		if !res.HasVerb("list") {
			continue // create-only resources (bindings, reviews) are never stored
		}
		b, ok := builders[res.GroupResource()]
		if !ok {
			return nil, fmt.Errorf("registry: no strategy for %s", res.GroupResource())
		}
		st, err := b.build(res, opts)
		if err != nil {
			return nil, fmt.Errorf("registry: %s: %w", res.GroupResource(), err)
		}
		st.Resource = res
		st.fieldLabels = map[string]bool{"metadata.name": true, "metadata.namespace": true}
		for k := range st.SelectableFields(res.New()) {
			st.fieldLabels[k] = true
		}
		r.byResource[res.GroupResource()] = st
		if _, taken := r.byKind[res.GVK().GroupKind()]; !taken {
			r.byKind[res.GVK().GroupKind()] = st
		}
		if st.services != nil {
			r.services = st.services
		}
	}
	return r, nil
}

// For returns the strategy of a resource, or nil when it is not stored.
func (r *Registry) For(gr schema.GroupResource) *Strategy { return r.byResource[gr] }

// ForKind returns the strategy of a kind, or nil.
func (r *Registry) ForKind(gk schema.GroupKind) *Strategy { return r.byKind[gk] }

// Services is the Service IP and NodePort allocator (nil when Services are not served).
func (r *Registry) Services() *ServiceAllocator { return r.services }
