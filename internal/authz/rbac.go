package authz

import (
	"context"
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/auth"
)

// RBAC authorizes from Roles, ClusterRoles and their bindings, with upstream's
// semantics: ClusterRoleBindings grant everywhere; a RoleBinding grants only in
// its namespace, whether it references a Role there or a ClusterRole. RBAC
// never denies: a request no rule allows gets NoOpinion, so the next mode (or
// the default refusal) decides.
type RBAC struct {
	Index *RBACIndex
}

// NewRBAC returns an RBAC authorizer reading ix.
func NewRBAC(ix *RBACIndex) *RBAC { return &RBAC{Index: ix} }

// Authorize implements Authorizer.
func (r *RBAC) Authorize(_ context.Context, a Attributes) (Decision, string, error) {
	if a.User == nil {
		return NoOpinion, "", nil
	}
	var errs []string
	for _, m := range r.Index.bindingsFor(a.User.Name, a.User.Groups, a.Namespace) {
		if m.err != nil {
			errs = append(errs, m.err.Error())
			continue
		}
		for i := range m.rules {
			if RuleAllows(&a, &m.rules[i]) {
				return Allow, "RBAC: allowed by " + m.describe(), nil
			}
		}
	}
	switch len(errs) {
	case 0:
		return NoOpinion, "", nil
	case 1:
		return NoOpinion, "RBAC: " + errs[0], nil
	}
	return NoOpinion, "RBAC: [" + strings.Join(errs, ", ") + "]", nil
}

// describe names the grant the way upstream's reasons do:
//
//	ClusterRoleBinding "x" of ClusterRole "y" to User "z"
//	RoleBinding "x/ns" of Role "y" to ServiceAccount "sa/ns"
func (m *matched) describe() string {
	if m.crb != nil {
		return fmt.Sprintf("ClusterRoleBinding %q of %s %q to %s", m.crb.Name, m.crb.RoleRef.Kind, m.crb.RoleRef.Name, describeSubject(m.subject, ""))
	}
	return fmt.Sprintf("RoleBinding %q of %s %q to %s", m.rb.Name+"/"+m.rb.Namespace, m.rb.RoleRef.Kind, m.rb.RoleRef.Name, describeSubject(m.subject, m.rb.Namespace))
}

func describeSubject(s *rbacv1.Subject, bindingNS string) string {
	if s.Kind == rbacv1.ServiceAccountKind {
		ns := s.Namespace
		if ns == "" {
			ns = bindingNS
		}
		return fmt.Sprintf("%s %q", s.Kind, s.Name+"/"+ns)
	}
	return fmt.Sprintf("%s %q", s.Kind, s.Name)
}

// RulesFor returns every rule granted to u in namespace (cluster-wide grants
// included; namespace "" gives only those), and the errors met resolving
// roles. This is upstream's rule resolver: SelfSubjectRulesReview and the
// escalation check read it.
func (r *RBAC) RulesFor(u *auth.User, namespace string) ([]rbacv1.PolicyRule, []error) {
	if u == nil {
		return nil, nil
	}
	var rules []rbacv1.PolicyRule
	var errs []error
	for _, m := range r.Index.bindingsFor(u.Name, u.Groups, namespace) {
		if m.err != nil {
			errs = append(errs, m.err)
			continue
		}
		rules = append(rules, m.rules...)
	}
	return rules, errs
}

func notFound(resource, name string) error {
	return apierrors.NewNotFound(schema.GroupResource{Group: rbacv1.GroupName, Resource: resource}, name)
}

func errUnsupportedRoleRef(kind string) error {
	return fmt.Errorf("unsupported role reference kind: %q", kind)
}
