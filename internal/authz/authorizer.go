// Package authz decides whether an authenticated user may make a request: the
// authorization step of the API server's request path (authenticate → authorize →
// admit → validate). Each mode (RBAC, Node, AlwaysAllow, AlwaysDeny) is an
// Authorizer; the server asks them in --authorization-mode order and the first
// that allows or denies decides, as upstream's union authorizer does.
package authz

import (
	"context"
	"strings"

	"github.com/skiff-sh/skiff/internal/auth"
)

// Decision is an authorizer's answer.
type Decision int

const (
	// NoOpinion lets the next authorizer in the chain decide; if none allows,
	// the request is forbidden.
	NoOpinion Decision = iota
	Allow
	Deny
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	}
	return "no-opinion"
}

// Attributes describe one request in authorization's terms (upstream's
// authorizer.Attributes, reduced to what Skiff uses).
type Attributes struct {
	User *auth.User
	// Verb is the API verb for resource requests (get, list, watch, create,
	// update, patch, delete, deletecollection, plus impersonate, bind, escalate,
	// approve, sign, use) or the lower-case HTTP method for non-resource requests.
	Verb string

	ResourceRequest bool
	// Resource request fields.
	APIGroup    string
	APIVersion  string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
	// Path is the URL path of non-resource requests (/healthz, /api, /openapi/v2 ...).
	Path string
}

// ResourceWithSub is "pods" or "pods/log": the form RBAC rules name.
func (a Attributes) ResourceWithSub() string {
	if a.Subresource == "" {
		return a.Resource
	}
	return a.Resource + "/" + a.Subresource
}

// Authorizer answers one request. reason explains an Allow or a Deny in the
// words `kubectl auth can-i` and the 403 message show.
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (d Decision, reason string, err error)
}

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(ctx context.Context, a Attributes) (Decision, string, error)

// Authorize calls f.
func (f AuthorizerFunc) Authorize(ctx context.Context, a Attributes) (Decision, string, error) {
	return f(ctx, a)
}

// Union asks each authorizer in order; the first Allow or Deny wins. Errors
// from one authorizer are remembered but do not stop the others.
type Union []Authorizer

// Authorize implements Authorizer.
func (u Union) Authorize(ctx context.Context, a Attributes) (Decision, string, error) {
	var reasons []string
	var firstErr error
	for _, z := range u {
		d, reason, err := z.Authorize(ctx, a)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if d != NoOpinion {
			return d, reason, nil
		}
		if reason != "" {
			reasons = append(reasons, reason)
		}
	}
	return NoOpinion, strings.Join(reasons, "\n"), firstErr
}

// AlwaysAllow allows everything (--authorization-mode=AlwaysAllow, only by explicit flag).
var AlwaysAllow = AuthorizerFunc(func(context.Context, Attributes) (Decision, string, error) {
	return Allow, "", nil
})

// AlwaysDeny denies everything (--authorization-mode=AlwaysDeny).
var AlwaysDeny = AuthorizerFunc(func(context.Context, Attributes) (Decision, string, error) {
	return Deny, "Everything is forbidden.", nil
})

// SystemMastersGroup bypasses authorization entirely, as upstream's privileged group.
const SystemMastersGroup = "system:masters"

// Node identities: a kubelet authenticates as NodeUserPrefix+<node name> in NodesGroup.
const (
	NodesGroup     = "system:nodes"
	NodeUserPrefix = "system:node:"
)

// NodeName returns the node a user is a kubelet of, or "" if it is not a node identity.
func NodeName(u *auth.User) string {
	if u == nil || !strings.HasPrefix(u.Name, NodeUserPrefix) {
		return ""
	}
	for _, g := range u.Groups {
		if g == NodesGroup {
			return strings.TrimPrefix(u.Name, NodeUserPrefix)
		}
	}
	return ""
}
