package bootstrappolicy

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

func byName(p *Policy) map[string]*rbacv1.ClusterRole {
	m := map[string]*rbacv1.ClusterRole{}
	for _, r := range p.ClusterRoles {
		m[r.Name] = r
	}
	return m
}

func grants(rules []rbacv1.PolicyRule, verb, group, resource string) bool {
	for _, r := range rules {
		if has(r.Verbs, verb) && has(r.APIGroups, group) && has(r.Resources, resource) {
			return true
		}
	}
	return false
}

func has(s []string, x string) bool {
	for _, v := range s {
		if v == x || v == "*" {
			return true
		}
	}
	return false
}

func TestDefaultRolesExistAndBindingsResolve(t *testing.T) {
	p := Default()
	roles := byName(p)
	for _, n := range []string{"cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery",
		"system:public-info-viewer", "system:node", "system:node-proxier", "system:kube-scheduler",
		"system:kube-controller-manager", "system:volume-scheduler", "system:kube-dns", "system:node-bootstrapper",
		"system:certificates.k8s.io:certificatesigningrequests:nodeclient", "system:monitoring",
		"system:service-account-issuer-discovery", "system:auth-delegator", "system:aggregate-to-view",
		"system:controller:generic-garbage-collector", "system:controller:namespace-controller",
		"system:controller:deployment-controller", "system:controller:clusterrole-aggregation-controller"} {
		r := roles[n]
		if r == nil {
			t.Errorf("missing ClusterRole %s", n)
			continue
		}
		if r.Labels[BootstrapLabel] != BootstrapLabelValue || r.Annotations[AutoUpdateAnnotation] != "true" {
			t.Errorf("%s lacks the bootstrap label or autoupdate annotation", n)
		}
	}
	for _, b := range p.ClusterRoleBindings {
		if roles[b.RoleRef.Name] == nil {
			t.Errorf("ClusterRoleBinding %s references missing %s", b.Name, b.RoleRef.Name)
		}
	}
	nsRoles := map[string]bool{}
	for _, r := range p.Roles {
		nsRoles[r.Namespace+"/"+r.Name] = true
	}
	for _, b := range p.RoleBindings {
		if b.RoleRef.Kind == "Role" && !nsRoles[b.Namespace+"/"+b.RoleRef.Name] {
			t.Errorf("RoleBinding %s/%s references missing Role %s", b.Namespace, b.Name, b.RoleRef.Name)
		}
	}
}

func TestAggregatedRolesAreSeeded(t *testing.T) {
	roles := byName(Default())
	view, edit, admin := roles["view"].Rules, roles["edit"].Rules, roles["admin"].Rules
	if !grants(view, "list", "", "pods") || grants(view, "get", "", "secrets") {
		t.Error("view must read pods and not secrets")
	}
	if !grants(edit, "get", "", "secrets") || !grants(edit, "list", "", "pods") || !grants(edit, "create", "apps", "deployments") {
		t.Error("edit must include view's rules and write workloads and secrets")
	}
	if grants(edit, "create", "rbac.authorization.k8s.io", "rolebindings") {
		t.Error("edit must not manage RBAC")
	}
	if !grants(admin, "create", "rbac.authorization.k8s.io", "rolebindings") || !grants(admin, "delete", "", "pods") {
		t.Error("admin must include edit and manage RBAC")
	}
}

func TestBaselineBindings(t *testing.T) {
	got := map[string]string{}
	for _, b := range Default().ClusterRoleBindings {
		var subs []string
		for _, s := range b.Subjects {
			subs = append(subs, s.Kind+":"+s.Name)
		}
		got[b.Name] = strings.Join(subs, ",")
	}
	for name, want := range map[string]string{
		"cluster-admin":             "Group:system:masters",
		"system:basic-user":         "Group:system:authenticated",
		"system:discovery":          "Group:system:authenticated",
		"system:public-info-viewer": "Group:system:authenticated,Group:system:unauthenticated",
		"system:kube-scheduler":     "User:system:kube-scheduler",
		"system:node":               "",
	} {
		if got[name] != want {
			t.Errorf("%s binds %q, want %q", name, got[name], want)
		}
	}
}
