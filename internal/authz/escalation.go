package authz

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/component-helpers/auth/rbac/validation"

	"github.com/skiff-sh/skiff/internal/auth"
)

// ConfirmNoEscalation refuses rules the user does not hold in namespace ("" =
// cluster-wide only): RBAC's guard against granting oneself (or anyone) more
// than one has. The error text is upstream's:
//
//	user "bob" (groups=["devs" "system:authenticated"]) is attempting to grant
//	RBAC permissions not currently held:
//	{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}
func (r *RBAC) ConfirmNoEscalation(u *auth.User, namespace string, rules []rbacv1.PolicyRule) error {
	owner, resolveErrs := r.RulesFor(u, namespace)
	ok, missing := validation.Covers(owner, rules)
	if ok {
		return nil
	}
	msg := fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s",
		u.Name, u.Groups, strings.Join(describeRules(compactRules(missing)), "\n"))
	if len(resolveErrs) > 0 {
		msg += fmt.Sprintf("; resolution errors: %v", resolveErrs)
	}
	return errors.New(msg)
}

// compactRules merges simple rules (one verb each) that differ only in verb,
// so the refusal lists each missing resource once.
func compactRules(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	type key struct{ group, resource, name, url string }
	var order []key
	merged := map[key]*rbacv1.PolicyRule{}
	for _, rule := range rules {
		if len(rule.APIGroups) > 1 || len(rule.Resources) > 1 || len(rule.ResourceNames) > 1 || len(rule.NonResourceURLs) > 1 {
			return rules // not a broken-down rule: leave as is
		}
		var k key
		if len(rule.APIGroups) == 1 {
			k.group = rule.APIGroups[0]
		}
		if len(rule.Resources) == 1 {
			k.resource = rule.Resources[0]
		}
		if len(rule.ResourceNames) == 1 {
			k.name = rule.ResourceNames[0]
		}
		if len(rule.NonResourceURLs) == 1 {
			k.url = rule.NonResourceURLs[0]
		}
		if m := merged[k]; m != nil {
			m.Verbs = append(m.Verbs, rule.Verbs...)
			continue
		}
		c := rule
		c.Verbs = append([]string(nil), rule.Verbs...)
		merged[k] = &c
		order = append(order, k)
	}
	out := make([]rbacv1.PolicyRule, 0, len(order))
	for _, k := range order {
		out = append(out, *merged[k])
	}
	return out
}

// describeRules renders rules in upstream's compact form, sorted and unique:
// {APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}.
func describeRules(rules []rbacv1.PolicyRule) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rules {
		var parts []string
		if len(r.APIGroups) > 0 {
			parts = append(parts, fmt.Sprintf("APIGroups:%q", r.APIGroups))
		}
		if len(r.Resources) > 0 {
			parts = append(parts, fmt.Sprintf("Resources:%q", r.Resources))
		}
		if len(r.NonResourceURLs) > 0 {
			parts = append(parts, fmt.Sprintf("NonResourceURLs:%q", r.NonResourceURLs))
		}
		if len(r.ResourceNames) > 0 {
			parts = append(parts, fmt.Sprintf("ResourceNames:%q", r.ResourceNames))
		}
		if len(r.Verbs) > 0 {
			parts = append(parts, fmt.Sprintf("Verbs:%q", r.Verbs))
		}
		s := "{" + strings.Join(parts, ", ") + "}"
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// FullAuthority is cluster-admin's rules: what it takes to set an aggregationRule,
// which can gather any permission.
var FullAuthority = []rbacv1.PolicyRule{
	{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
	{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
}

// Allowed is a convenience: whether a allows the request (errors count as no).
func Allowed(ctx context.Context, a Authorizer, attrs Attributes) bool {
	d, _, _ := a.Authorize(ctx, attrs)
	return d == Allow
}
