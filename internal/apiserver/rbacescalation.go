package apiserver

import (
	"context"
	"errors"
	"github.com/skiff-sh/skiff/internal/admission"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/authz"
)

// checkRBACEscalation is RBAC's guard on writes of the four RBAC kinds, run on
// create and update (including patch and apply): a Role or ClusterRole may only
// hold rules its author holds, unless the author has `escalate` on that kind
// (and an aggregationRule needs full authority); a binding may only reference a
// role whose rules its author holds, unless the author has `bind` on that role.
// system:masters, and writes the server makes itself (no user), are exempt.
// Other kinds pass untouched.
func (s *Server) checkRBACEscalation(ctx context.Context, obj runtime.Object) error {
	switch obj.(type) {
	case *rbacv1.Role, *rbacv1.ClusterRole, *rbacv1.RoleBinding, *rbacv1.ClusterRoleBinding:
	default:
		return nil
	}
	u, ok := auth.UserFrom(ctx)
	if !ok || s.authz.chain == nil || isMaster(u) {
		return nil
	}
	switch o := obj.(type) {
	case *rbacv1.Role:
		return s.checkRoleRules(ctx, u, "roles", o.Namespace, o.Name, o.Rules, false)
	case *rbacv1.ClusterRole:
		return s.checkRoleRules(ctx, u, "clusterroles", "", o.Name, o.Rules, o.AggregationRule != nil && len(o.AggregationRule.ClusterRoleSelectors) > 0)
	case *rbacv1.RoleBinding:
		return s.checkBinding(ctx, u, "rolebindings", o.Namespace, o.Name, o.RoleRef)
	case *rbacv1.ClusterRoleBinding:
		return s.checkBinding(ctx, u, "clusterrolebindings", "", o.Name, o.RoleRef)
	}
	return nil
}

func isMaster(u *auth.User) bool {
	for _, g := range u.Groups {
		if g == authz.SystemMastersGroup {
			return true
		}
	}
	return false
}

func rbacGR(resource string) schema.GroupResource {
	return schema.GroupResource{Group: rbacv1.GroupName, Resource: resource}
}

func (s *Server) checkRoleRules(ctx context.Context, u *auth.User, resource, ns, name string, rules []rbacv1.PolicyRule, aggregates bool) error {
	if authz.Allowed(ctx, s.authorizer(), authz.Attributes{User: u, Verb: "escalate", ResourceRequest: true,
		APIGroup: rbacv1.GroupName, APIVersion: "*", Resource: resource, Namespace: ns, Name: name}) {
		return nil
	}
	if err := s.authz.rbac.ConfirmNoEscalation(u, ns, rules); err != nil {
		return apierrors.NewForbidden(rbacGR(resource), name, err)
	}
	if aggregates {
		if err := s.authz.rbac.ConfirmNoEscalation(u, ns, authz.FullAuthority); err != nil {
			return apierrors.NewForbidden(rbacGR(resource), name, errors.New("must have cluster-admin privileges to use the aggregationRule"))
		}
	}
	return nil
}

func (s *Server) checkBinding(ctx context.Context, u *auth.User, resource, ns, name string, ref rbacv1.RoleRef) error {
	bind := authz.Attributes{User: u, Verb: "bind", ResourceRequest: true, APIGroup: ref.APIGroup, APIVersion: "*",
		Namespace: ns, Name: ref.Name}
	switch ref.Kind {
	case "ClusterRole":
		bind.Resource = "clusterroles"
	case "Role":
		bind.Resource = "roles"
	}
	if bind.Resource != "" && authz.Allowed(ctx, s.authorizer(), bind) {
		return nil
	}
	rules, err := s.roleRefRules(ref, ns)
	if err != nil {
		return err
	}
	if err := s.authz.rbac.ConfirmNoEscalation(u, ns, rules); err != nil {
		return apierrors.NewForbidden(rbacGR(resource), name, err)
	}
	return nil
}

// roleRefRules reads the referenced role's rules from the index (what the
// authorizer sees); a missing role is NotFound, as upstream.
func (s *Server) roleRefRules(ref rbacv1.RoleRef, ns string) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "ClusterRole":
		if r := s.authz.index.ClusterRole(ref.Name); r != nil {
			return r.Rules, nil
		}
		return nil, apierrors.NewNotFound(rbacGR("clusterroles"), ref.Name)
	case "Role":
		if r := s.authz.index.Role(ns, ref.Name); r != nil {
			return r.Rules, nil
		}
		return nil, apierrors.NewNotFound(rbacGR("roles"), ref.Name)
	}
	return nil, apierrors.NewBadRequest("unknown role reference kind: " + ref.Kind)
}

// rbacEscalation is the escalation check as the last validating admission plugin:
// it sees every create and update of the four RBAC kinds with the requester.
type rbacEscalation struct{ s *Server }

func (rbacEscalation) Name() string { return "RBACEscalation" }

func (p rbacEscalation) Validate(ctx context.Context, a *admission.Attributes) error {
	if (a.Operation != admission.Create && a.Operation != admission.Update) || a.Subresource != "" {
		return nil
	}
	return p.s.checkRBACEscalation(ctx, a.Object)
}
