// Package bootstrappolicy is the RBAC policy every Skiff cluster starts with:
// upstream's default ClusterRoles, ClusterRoleBindings, and the kube-system /
// kube-public Roles and RoleBindings, under upstream's names and with its
// rules, so manifests and tools that expect them (cluster-admin, admin, edit,
// view, system:node, system:controller:*, ...) find them. The API server
// reconciles them at every start (internal/apiserver/rbacbootstrap.go).
//
// The tables are written in a compact form: r(verbs, groups, resources) takes
// comma lists, where the empty string is the core group.
package bootstrappolicy

import (
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Metadata every bootstrap object carries: the label upstream's tools select on,
// and the annotation that lets the API server keep the object up to date
// (set it to "false" to keep your own edits from being reconciled).
const (
	BootstrapLabel       = "kubernetes.io/bootstrapping"
	BootstrapLabelValue  = "rbac-defaults"
	AutoUpdateAnnotation = "rbac.authorization.kubernetes.io/autoupdate"
)

// Policy is the whole bootstrap policy.
type Policy struct {
	ClusterRoles        []*rbacv1.ClusterRole
	ClusterRoleBindings []*rbacv1.ClusterRoleBinding
	Roles               []*rbacv1.Role
	RoleBindings        []*rbacv1.RoleBinding
}

// Default returns a fresh copy of the policy (callers may modify it).
func Default() *Policy {
	p := &Policy{}
	for _, b := range append(clusterRoles(), controllerRoles()...) {
		p.ClusterRoles = append(p.ClusterRoles, b.ClusterRole)
	}
	sort.Slice(p.ClusterRoles, func(i, j int) bool { return p.ClusterRoles[i].Name < p.ClusterRoles[j].Name })
	aggregateAll(p.ClusterRoles)
	p.ClusterRoleBindings = append(append(clusterRoleBindings(), controllerRoleBindings()...), nodeJoinClusterRoleBindings()...)
	for _, b := range append(namespaceRoles(), nodeJoinRoles()...) {
		p.Roles = append(p.Roles, b.Role)
	}
	p.RoleBindings = append(namespaceRoleBindings(), nodeJoinRoleBindings()...)
	return p
}

func meta(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name,
		Labels:      map[string]string{BootstrapLabel: BootstrapLabelValue},
		Annotations: map[string]string{AutoUpdateAnnotation: "true"}}
}

func list(s string) []string {
	if s == "" {
		return []string{""}
	}
	return strings.Split(s, ",")
}

// r is a resource rule: verbs on resources in API groups (comma lists; "" is core).
func r(verbs, groups, resources string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: strings.Split(verbs, ","), APIGroups: list(groups), Resources: strings.Split(resources, ",")}
}

// u is a non-resource rule: verbs on URL paths ("/api/*" is a prefix).
func u(verbs, urls string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: strings.Split(verbs, ","), NonResourceURLs: strings.Split(urls, ",")}
}

// named limits a rule to objects of these names.
func named(rule rbacv1.PolicyRule, names string) rbacv1.PolicyRule {
	rule.ResourceNames = strings.Split(names, ",")
	return rule
}

type clusterRoleBuilder struct{ *rbacv1.ClusterRole }

func clusterRole(name string, rules ...rbacv1.PolicyRule) clusterRoleBuilder {
	return clusterRoleBuilder{&rbacv1.ClusterRole{ObjectMeta: meta("", name), Rules: rules}}
}

// aggregate is a ClusterRole whose rules the aggregation controller fills from
// every ClusterRole carrying one of the labels (set to "true").
func aggregate(name, labels string) clusterRoleBuilder {
	cr := &rbacv1.ClusterRole{ObjectMeta: meta("", name), AggregationRule: &rbacv1.AggregationRule{}}
	for _, l := range strings.Split(labels, ",") {
		cr.AggregationRule.ClusterRoleSelectors = append(cr.AggregationRule.ClusterRoleSelectors,
			metav1.LabelSelector{MatchLabels: map[string]string{l: "true"}})
	}
	return clusterRoleBuilder{cr}
}

// labels adds k=v labels (comma list), e.g. the aggregate-to-* labels.
func (b clusterRoleBuilder) labels(kvs string) clusterRoleBuilder {
	for _, kv := range strings.Split(kvs, ",") {
		k, v, _ := strings.Cut(kv, "=")
		b.Labels[k] = v
	}
	return b
}

type roleBuilder struct{ *rbacv1.Role }

func role(ns, name string, rules ...rbacv1.PolicyRule) roleBuilder {
	return roleBuilder{&rbacv1.Role{ObjectMeta: meta(ns, name), Rules: rules}}
}

func user(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

func group(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
}

func sa(ns, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}
}

// clusterRoleBinding binds the ClusterRole of the same name.
func clusterRoleBinding(name string, subjects ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{ObjectMeta: meta("", name), Subjects: subjects,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}}
}

func roleBinding(ns, name, kind, roleName string, subjects ...rbacv1.Subject) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{ObjectMeta: meta(ns, name), Subjects: subjects,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: roleName}}
}
