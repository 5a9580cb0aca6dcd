package admission

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Reader gives plugins read access to other objects (the namespace of a new object,
// PriorityClasses). The API server implements it from its watch cache, confirming
// a miss on etcd, so an object a client has just created is never reported missing.
type Reader interface {
	// Get returns one object; a missing one is an apierrors NotFound.
	Get(ctx context.Context, gr schema.GroupResource, namespace, name string) (runtime.Object, error)
	// List returns the objects of a resource in a namespace ("" for all or cluster-scoped).
	List(ctx context.Context, gr schema.GroupResource, namespace string) ([]runtime.Object, error)
}

// Default is the chain the API server runs, in upstream's recommended order. Its
// ServiceAccount plugin only names the account; WithServiceAccountTokens is the
// chain of a real cluster, where the accounts exist.
func Default(r Reader) Chain { return chain(r, &ServiceAccount{}) }

// WithServiceAccountTokens is Default whose ServiceAccount plugin refuses pods
// naming a missing account and mounts the token volume (kube-api-access-*).
func WithServiceAccountTokens(r Reader) Chain {
	return chain(r, &ServiceAccount{Get: serviceAccountGetter(r)})
}

func chain(r Reader, sa *ServiceAccount) Chain {
	return Chain{
		NamespaceLifecycle{Reader: r},
		sa,
		NewNodeRestriction(),
		DefaultTolerationSeconds{},
		Priority{Reader: r},
	}
}

var (
	namespacesGR      = schema.GroupResource{Resource: "namespaces"}
	podsGR            = schema.GroupResource{Resource: "pods"}
	priorityClassesGR = schema.GroupResource{Group: "scheduling.k8s.io", Resource: "priorityclasses"}
)

// isPodCreate is true for the creation of a pod (not one of its subresources).
func isPodCreate(a *Attributes) bool {
	return a.Operation == Create && a.Resource.GroupResource() == podsGR && a.Subresource == ""
}
