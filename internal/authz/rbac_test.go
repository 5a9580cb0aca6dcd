package authz

import (
	"context"
	"fmt"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/auth"
)

func TestRuleAllows(t *testing.T) {
	res := func(verb, group, resource, sub, name string) Attributes {
		return Attributes{ResourceRequest: true, Verb: verb, APIGroup: group, Resource: resource, Subresource: sub, Name: name}
	}
	url := func(verb, path string) Attributes { return Attributes{Verb: verb, Path: path} }
	rule := func(verbs, groups, resources []string, names ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: resources, ResourceNames: names}
	}
	s := func(v ...string) []string { return v }
	cases := []struct {
		rule rbacv1.PolicyRule
		a    Attributes
		want bool
	}{
		{rule(s("get"), s(""), s("pods")), res("get", "", "pods", "", "x"), true},
		{rule(s("get"), s(""), s("pods")), res("list", "", "pods", "", ""), false},
		{rule(s("*"), s(""), s("pods")), res("deletecollection", "", "pods", "", ""), true},
		{rule(s("get"), s("apps"), s("pods")), res("get", "", "pods", "", ""), false},
		{rule(s("get"), s("*"), s("pods")), res("get", "batch", "pods", "", ""), true},
		{rule(s("get"), s(""), s("pods")), res("get", "", "pods", "log", "x"), false},
		{rule(s("get"), s(""), s("pods/log")), res("get", "", "pods", "log", "x"), true},
		{rule(s("get"), s(""), s("*")), res("get", "", "pods", "log", "x"), true},
		{rule(s("get"), s("*"), s("*/scale")), res("get", "apps", "deployments", "scale", "d"), true},
		{rule(s("get"), s("*"), s("*/scale")), res("get", "apps", "deployments", "status", "d"), false},
		{rule(s("get"), s("*"), s("*/scale")), res("get", "apps", "deployments", "", "d"), false},
		{rule(s("get"), s(""), s("pods"), "a"), res("get", "", "pods", "", "a"), true},
		{rule(s("get"), s(""), s("pods"), "a"), res("get", "", "pods", "", "b"), false},
		{rule(s("list"), s(""), s("pods"), "a"), res("list", "", "pods", "", ""), false},
		{rbacv1.PolicyRule{Verbs: s("get"), NonResourceURLs: s("/healthz")}, url("get", "/healthz"), true},
		{rbacv1.PolicyRule{Verbs: s("get"), NonResourceURLs: s("/healthz")}, url("get", "/healthz/etcd"), false},
		{rbacv1.PolicyRule{Verbs: s("get"), NonResourceURLs: s("/apis/*")}, url("get", "/apis/apps/v1"), true},
		{rbacv1.PolicyRule{Verbs: s("get"), NonResourceURLs: s("/apis/*")}, url("get", "/apis"), false},
		{rbacv1.PolicyRule{Verbs: s("*"), NonResourceURLs: s("*")}, url("post", "/anything"), true},
		{rbacv1.PolicyRule{Verbs: s("get"), NonResourceURLs: s("*")}, res("get", "", "pods", "", ""), false},
		{rule(s("*"), s("*"), s("*")), url("get", "/healthz"), false},
	}
	for i, c := range cases {
		if got := RuleAllows(&c.a, &c.rule); got != c.want {
			t.Errorf("case %d: %+v on %+v = %v, want %v", i, c.rule, c.a, got, c.want)
		}
	}
}

func testIndex() *RBACIndex {
	ix := NewRBACIndex()
	ix.Set(&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "reader"}, Rules: []rbacv1.PolicyRule{
		{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}}})
	ix.Set(&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "secrets"}, Rules: []rbacv1.PolicyRule{
		{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}}}})
	ix.Set(&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "devs-read"},
		Subjects: []rbacv1.Subject{{Kind: "Group", Name: "devs"}}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "reader"}})
	ix.Set(&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "bob-reader"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "bob"}}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "reader"}})
	ix.Set(&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "sa-secrets"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "bot"}}, RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "secrets"}})
	ix.Set(&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "dangling"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "carl"}}, RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "missing"}})
	return ix
}

func TestRBACAuthorize(t *testing.T) {
	r := NewRBAC(testIndex())
	u := func(name string, groups ...string) *auth.User { return &auth.User{Name: name, Groups: groups} }
	a := func(user *auth.User, verb, resource, ns string) Attributes {
		return Attributes{User: user, ResourceRequest: true, Verb: verb, Resource: resource, Namespace: ns}
	}
	cases := []struct {
		a      Attributes
		want   Decision
		reason string
	}{
		{a(u("eve", "devs"), "list", "pods", ""), Allow, `RBAC: allowed by ClusterRoleBinding "devs-read" of ClusterRole "reader" to Group "devs"`},
		{a(u("eve", "devs"), "list", "pods", "z"), Allow, ""},
		{a(u("bob"), "get", "pods", "a"), Allow, `RBAC: allowed by RoleBinding "bob-reader/a" of ClusterRole "reader" to User "bob"`},
		{a(u("bob"), "get", "pods", "b"), NoOpinion, ""},
		{a(u("bob"), "get", "pods", ""), NoOpinion, ""},
		{a(u("system:serviceaccount:a:bot"), "get", "secrets", "a"), Allow, `RBAC: allowed by RoleBinding "sa-secrets/a" of Role "secrets" to ServiceAccount "bot/a"`},
		{a(u("system:serviceaccount:b:bot"), "get", "secrets", "a"), NoOpinion, ""},
		{a(u("carl"), "get", "pods", "a"), NoOpinion, `RBAC: role.rbac.authorization.k8s.io "missing" not found`},
	}
	for i, c := range cases {
		d, reason, err := r.Authorize(context.Background(), c.a)
		if err != nil || d != c.want || (c.reason != "" && reason != c.reason) {
			t.Errorf("case %d: %v %q %v, want %v %q", i, d, reason, err, c.want, c.reason)
		}
	}
}

func TestRBACIndexFollowsUpdatesAndDeletes(t *testing.T) {
	ix := testIndex()
	r := NewRBAC(ix)
	bob := Attributes{User: &auth.User{Name: "bob"}, ResourceRequest: true, Verb: "get", Resource: "pods", Namespace: "a"}
	// Rebinding to someone else removes bob from the index.
	ix.Set(&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "bob-reader"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "reader"}})
	if d, _, _ := r.Authorize(context.Background(), bob); d != NoOpinion {
		t.Fatalf("bob after rebinding: %v", d)
	}
	alice := bob
	alice.User = &auth.User{Name: "alice"}
	if d, _, _ := r.Authorize(context.Background(), alice); d != Allow {
		t.Fatalf("alice after rebinding: %v", d)
	}
	ix.Remove(&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "bob-reader"}})
	if d, _, _ := r.Authorize(context.Background(), alice); d != NoOpinion {
		t.Fatalf("alice after delete: %v", d)
	}
	ix.Replace("ClusterRoleBinding", nil)
	eve := Attributes{User: &auth.User{Name: "eve", Groups: []string{"devs"}}, ResourceRequest: true, Verb: "list", Resource: "pods"}
	if d, _, _ := r.Authorize(context.Background(), eve); d != NoOpinion {
		t.Fatalf("eve after replace: %v", d)
	}
}

func TestChainAndModes(t *testing.T) {
	if _, err := ParseModes("RBAC,Bogus"); err == nil {
		t.Fatal("unknown mode accepted")
	}
	if _, err := ParseModes("RBAC,RBAC"); err == nil {
		t.Fatal("duplicate mode accepted")
	}
	modes, err := ParseModes("Node, RBAC")
	if err != nil || fmt.Sprint(modes) != "[Node RBAC]" {
		t.Fatalf("ParseModes: %v %v", modes, err)
	}
	chain, _ := Chain([]string{ModeAlwaysDeny}, nil)
	master := Attributes{User: &auth.User{Name: "root", Groups: []string{SystemMastersGroup}}, Verb: "get", Path: "/x"}
	if d, _, _ := chain.Authorize(context.Background(), master); d != Allow {
		t.Fatal("system:masters must bypass AlwaysDeny")
	}
	master.User.Groups = nil
	if d, _, _ := chain.Authorize(context.Background(), master); d != Deny {
		t.Fatal("AlwaysDeny must deny")
	}
}

func TestForbiddenMessage(t *testing.T) {
	bob := &auth.User{Name: "bob"}
	for _, c := range []struct {
		a    Attributes
		want string
	}{
		{Attributes{User: bob, ResourceRequest: true, Verb: "list", Resource: "pods", Namespace: "default"},
			`pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default"`},
		{Attributes{User: bob, ResourceRequest: true, Verb: "get", APIGroup: "apps", Resource: "deployments", Subresource: "scale", Name: "d", Namespace: "x"},
			`deployments.apps "d" is forbidden: User "bob" cannot get resource "deployments/scale" in API group "apps" in the namespace "x"`},
		{Attributes{User: bob, ResourceRequest: true, Verb: "delete", Resource: "nodes", Name: "n"},
			`nodes "n" is forbidden: User "bob" cannot delete resource "nodes" in API group "" at the cluster scope`},
		{Attributes{User: bob, Verb: "get", Path: "/metrics"}, `forbidden: User "bob" cannot get path "/metrics"`},
	} {
		if got := Forbidden(c.a, "").Error(); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}

func TestConfirmNoEscalation(t *testing.T) {
	r := NewRBAC(testIndex())
	bob := &auth.User{Name: "bob", Groups: []string{"system:authenticated"}}
	if err := r.ConfirmNoEscalation(bob, "a", []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}}); err != nil {
		t.Fatal(err)
	}
	err := r.ConfirmNoEscalation(bob, "a", []rbacv1.PolicyRule{{Verbs: []string{"get", "delete"}, APIGroups: []string{""}, Resources: []string{"pods", "secrets"}}})
	want := `user "bob" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:
{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}
{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// BenchmarkRBACAuthorize10k: a decision against a store of 10,000 bindings.
func BenchmarkRBACAuthorize10k(b *testing.B) {
	ix := NewRBACIndex()
	ix.Set(&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "reader"}, Rules: []rbacv1.PolicyRule{
		{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}}})
	for i := 0; i < 10000; i++ {
		ix.Set(&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("ns%d", i%100), Name: fmt.Sprintf("b%d", i)},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: fmt.Sprintf("user%d", i)}}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "reader"}})
	}
	r := NewRBAC(ix)
	a := Attributes{User: &auth.User{Name: "user4242", Groups: []string{"system:authenticated"}}, ResourceRequest: true,
		Verb: "list", Resource: "pods", Namespace: "ns42"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if d, _, _ := r.Authorize(context.Background(), a); d != Allow {
			b.Fatal(d)
		}
	}
}
