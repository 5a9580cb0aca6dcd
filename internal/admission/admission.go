// Package admission is the API server's admission chain: small plugins that run
// after an object is decoded and defaulted and before it is validated and stored.
// Mutating plugins run first, in order, and may change the object; validating
// plugins run after them and may only refuse. Plugins are upstream's admission
// controllers (NamespaceLifecycle, ServiceAccount, Priority, LimitRanger,
// ResourceQuota, PodSecurity, NodeRestriction, ...), one file each.
package admission

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/auth"
)

// Operation is what a request does to an object.
type Operation string

const (
	Create  Operation = "CREATE"
	Update  Operation = "UPDATE"
	Delete  Operation = "DELETE"
	Connect Operation = "CONNECT" // exec, attach, portforward, proxy
)

// Attributes describe the request being admitted.
type Attributes struct {
	Operation   Operation
	Resource    schema.GroupVersionResource
	Subresource string
	Kind        schema.GroupVersionKind
	Namespace   string
	Name        string
	// Object is the object to store (nil for Delete and Connect); mutating
	// plugins change it in place. OldObject is the stored object on Update
	// and Delete.
	Object    runtime.Object
	OldObject runtime.Object
	User      *auth.User
	DryRun    bool
}

// Mutator is a plugin that may change the object.
type Mutator interface {
	Admit(ctx context.Context, a *Attributes) error
}

// Validator is a plugin that may only accept or refuse.
type Validator interface {
	Validate(ctx context.Context, a *Attributes) error
}

// Plugin names a plugin for --enable-admission-plugins / --disable-admission-plugins
// and for error messages; it implements Mutator, Validator or both.
type Plugin interface {
	Name() string
}

// Chain runs its plugins: every Mutator in order, then every Validator in order.
// The first error stops the chain and is returned as it is (plugins return
// Kubernetes API errors, usually Forbidden or Invalid).
type Chain []Plugin

// Admit runs the mutating half of the chain.
func (c Chain) Admit(ctx context.Context, a *Attributes) error {
	for _, p := range c {
		if m, ok := p.(Mutator); ok {
			if err := m.Admit(ctx, a); err != nil {
				return err
			}
		}
	}
	return nil
}

// Validate runs the validating half of the chain.
func (c Chain) Validate(ctx context.Context, a *Attributes) error {
	for _, p := range c {
		if v, ok := p.(Validator); ok {
			if err := v.Validate(ctx, a); err != nil {
				return err
			}
		}
	}
	return nil
}
