package authz

import (
	"sort"
	"strings"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// RBACIndex holds the cluster's Roles, ClusterRoles, RoleBindings and
// ClusterRoleBindings with the bindings indexed by subject, so a decision looks
// only at the bindings naming the user, one of its groups or its service
// account — never at the whole store. The API server keeps it current from its
// watch cache (Set/Remove per event, Replace after a re-list); objects are
// shared with that cache and are never modified here.
type RBACIndex struct {
	mu                  sync.RWMutex
	roles               map[string]*rbacv1.Role // namespace/name
	clusterRoles        map[string]*rbacv1.ClusterRole
	roleBindings        map[string]*rbacv1.RoleBinding // namespace/name
	clusterRoleBindings map[string]*rbacv1.ClusterRoleBinding
	// crbBySubject: subject key → ClusterRoleBinding names.
	crbBySubject map[string]map[string]struct{}
	// rbBySubject: namespace → subject key → RoleBinding names.
	rbBySubject map[string]map[string]map[string]struct{}
}

// NewRBACIndex returns an empty index.
func NewRBACIndex() *RBACIndex {
	return &RBACIndex{
		roles: map[string]*rbacv1.Role{}, clusterRoles: map[string]*rbacv1.ClusterRole{},
		roleBindings: map[string]*rbacv1.RoleBinding{}, clusterRoleBindings: map[string]*rbacv1.ClusterRoleBinding{},
		crbBySubject: map[string]map[string]struct{}{}, rbBySubject: map[string]map[string]map[string]struct{}{},
	}
}

// Subject keys: users (and service accounts, which are users named
// system:serviceaccount:<ns>:<name>) under "u:", groups under "g:".
func userKey(name string) string  { return "u:" + name }
func groupKey(name string) string { return "g:" + name }

// ServiceAccountUsername is the user name a service account authenticates as.
func ServiceAccountUsername(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// subjectKey is where a binding's subject is indexed; ok is false for a subject
// that can match no one (a service account without a namespace in a
// ClusterRoleBinding, an unknown kind). A RoleBinding's service account
// without a namespace means one in the binding's namespace, as upstream.
func subjectKey(s rbacv1.Subject, bindingNS string) (string, bool) {
	switch s.Kind {
	case rbacv1.UserKind:
		return userKey(s.Name), true
	case rbacv1.GroupKind:
		return groupKey(s.Name), true
	case rbacv1.ServiceAccountKind:
		ns := s.Namespace
		if ns == "" {
			ns = bindingNS
		}
		if ns == "" {
			return "", false
		}
		return userKey(ServiceAccountUsername(ns, s.Name)), true
	}
	return "", false
}

// userKeys are the subject keys that apply to u.
func userKeys(name string, groups []string) []string {
	keys := make([]string, 0, 1+len(groups))
	keys = append(keys, userKey(name))
	for _, g := range groups {
		keys = append(keys, groupKey(g))
	}
	return keys
}

func nsName(ns, name string) string { return ns + "/" + name }

// Set adds or replaces one RBAC object.
func (ix *RBACIndex) Set(obj runtime.Object) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.set(obj)
}

// Remove deletes one RBAC object.
func (ix *RBACIndex) Remove(obj runtime.Object) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.remove(obj)
}

// Replace swaps every object of objs' kind for objs (after a re-list). kind is
// one of Role, ClusterRole, RoleBinding, ClusterRoleBinding.
func (ix *RBACIndex) Replace(kind string, objs []runtime.Object) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	switch kind {
	case "Role":
		ix.roles = map[string]*rbacv1.Role{}
	case "ClusterRole":
		ix.clusterRoles = map[string]*rbacv1.ClusterRole{}
	case "RoleBinding":
		ix.roleBindings = map[string]*rbacv1.RoleBinding{}
		ix.rbBySubject = map[string]map[string]map[string]struct{}{}
	case "ClusterRoleBinding":
		ix.clusterRoleBindings = map[string]*rbacv1.ClusterRoleBinding{}
		ix.crbBySubject = map[string]map[string]struct{}{}
	}
	for _, o := range objs {
		ix.set(o)
	}
}

func (ix *RBACIndex) set(obj runtime.Object) {
	switch o := obj.(type) {
	case *rbacv1.Role:
		ix.roles[nsName(o.Namespace, o.Name)] = o
	case *rbacv1.ClusterRole:
		ix.clusterRoles[o.Name] = o
	case *rbacv1.RoleBinding:
		k := nsName(o.Namespace, o.Name)
		if old := ix.roleBindings[k]; old != nil {
			ix.unindexRB(old)
		}
		ix.roleBindings[k] = o
		byKey := ix.rbBySubject[o.Namespace]
		if byKey == nil {
			byKey = map[string]map[string]struct{}{}
			ix.rbBySubject[o.Namespace] = byKey
		}
		for _, s := range o.Subjects {
			if sk, ok := subjectKey(s, o.Namespace); ok {
				addName(byKey, sk, o.Name)
			}
		}
	case *rbacv1.ClusterRoleBinding:
		if old := ix.clusterRoleBindings[o.Name]; old != nil {
			ix.unindexCRB(old)
		}
		ix.clusterRoleBindings[o.Name] = o
		for _, s := range o.Subjects {
			if sk, ok := subjectKey(s, ""); ok {
				addName(ix.crbBySubject, sk, o.Name)
			}
		}
	}
}

func (ix *RBACIndex) remove(obj runtime.Object) {
	switch o := obj.(type) {
	case *rbacv1.Role:
		delete(ix.roles, nsName(o.Namespace, o.Name))
	case *rbacv1.ClusterRole:
		delete(ix.clusterRoles, o.Name)
	case *rbacv1.RoleBinding:
		k := nsName(o.Namespace, o.Name)
		if old := ix.roleBindings[k]; old != nil {
			ix.unindexRB(old)
			delete(ix.roleBindings, k)
		}
	case *rbacv1.ClusterRoleBinding:
		if old := ix.clusterRoleBindings[o.Name]; old != nil {
			ix.unindexCRB(old)
			delete(ix.clusterRoleBindings, o.Name)
		}
	}
}

func (ix *RBACIndex) unindexRB(o *rbacv1.RoleBinding) {
	byKey := ix.rbBySubject[o.Namespace]
	for _, s := range o.Subjects {
		if sk, ok := subjectKey(s, o.Namespace); ok {
			dropName(byKey, sk, o.Name)
		}
	}
	if len(byKey) == 0 {
		delete(ix.rbBySubject, o.Namespace)
	}
}

func (ix *RBACIndex) unindexCRB(o *rbacv1.ClusterRoleBinding) {
	for _, s := range o.Subjects {
		if sk, ok := subjectKey(s, ""); ok {
			dropName(ix.crbBySubject, sk, o.Name)
		}
	}
}

func addName(m map[string]map[string]struct{}, key, name string) {
	set := m[key]
	if set == nil {
		set = map[string]struct{}{}
		m[key] = set
	}
	set[name] = struct{}{}
}

func dropName(m map[string]map[string]struct{}, key, name string) {
	if set := m[key]; set != nil {
		delete(set, name)
		if len(set) == 0 {
			delete(m, key)
		}
	}
}

// ClusterRole returns a ClusterRole (read-only) or nil.
func (ix *RBACIndex) ClusterRole(name string) *rbacv1.ClusterRole {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.clusterRoles[name]
}

// ClusterRoles returns every ClusterRole (read-only), sorted by name.
func (ix *RBACIndex) ClusterRoles() []*rbacv1.ClusterRole {
	ix.mu.RLock()
	out := make([]*rbacv1.ClusterRole, 0, len(ix.clusterRoles))
	for _, r := range ix.clusterRoles {
		out = append(out, r)
	}
	ix.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ClusterRoleBinding returns a ClusterRoleBinding (read-only) or nil.
func (ix *RBACIndex) ClusterRoleBinding(name string) *rbacv1.ClusterRoleBinding {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.clusterRoleBindings[name]
}

// Role returns a Role (read-only) or nil.
func (ix *RBACIndex) Role(namespace, name string) *rbacv1.Role {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.roles[nsName(namespace, name)]
}

// matched is a binding that names the user, with the subject that matched.
type matched struct {
	crb     *rbacv1.ClusterRoleBinding
	rb      *rbacv1.RoleBinding
	subject *rbacv1.Subject
	rules   []rbacv1.PolicyRule
	err     error
}

// bindingsFor collects, under one read lock, the ClusterRoleBindings and (when
// namespace is set) the namespace's RoleBindings that apply to the user, each
// with its role's rules. Order is stable: cluster bindings first, by name.
func (ix *RBACIndex) bindingsFor(name string, groups []string, namespace string) []matched {
	keys := userKeys(name, groups)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []matched
	var names []string
	for _, k := range keys {
		for n := range ix.crbBySubject[k] {
			names = append(names, n)
		}
	}
	for _, n := range dedupSorted(names) {
		b := ix.clusterRoleBindings[n]
		m := matched{crb: b, subject: subjectFor(b.Subjects, "", name, groups)}
		m.rules, m.err = ix.roleRules(b.RoleRef, "")
		out = append(out, m)
	}
	if namespace == "" {
		return out
	}
	names = names[:0]
	byKey := ix.rbBySubject[namespace]
	for _, k := range keys {
		for n := range byKey[k] {
			names = append(names, n)
		}
	}
	for _, n := range dedupSorted(names) {
		b := ix.roleBindings[nsName(namespace, n)]
		m := matched{rb: b, subject: subjectFor(b.Subjects, namespace, name, groups)}
		m.rules, m.err = ix.roleRules(b.RoleRef, namespace)
		out = append(out, m)
	}
	return out
}

func dedupSorted(s []string) []string {
	if len(s) < 2 {
		return s
	}
	sort.Strings(s)
	out := s[:1]
	for _, x := range s[1:] {
		if x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}

// roleRules resolves a binding's roleRef; a missing role is an error that ends
// up in the decision's reason, as upstream's.
func (ix *RBACIndex) roleRules(ref rbacv1.RoleRef, namespace string) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "ClusterRole":
		if r := ix.clusterRoles[ref.Name]; r != nil {
			return r.Rules, nil
		}
		return nil, notFound("clusterrole", ref.Name)
	case "Role":
		if r := ix.roles[nsName(namespace, ref.Name)]; r != nil && namespace != "" {
			return r.Rules, nil
		}
		return nil, notFound("role", ref.Name)
	}
	return nil, errUnsupportedRoleRef(ref.Kind)
}

// subjectFor returns the binding's first subject that applies to the user.
func subjectFor(subjects []rbacv1.Subject, bindingNS, name string, groups []string) *rbacv1.Subject {
	for i := range subjects {
		s := &subjects[i]
		switch s.Kind {
		case rbacv1.UserKind:
			if s.Name == name {
				return s
			}
		case rbacv1.GroupKind:
			for _, g := range groups {
				if g == s.Name {
					return s
				}
			}
		case rbacv1.ServiceAccountKind:
			ns := s.Namespace
			if ns == "" {
				ns = bindingNS
			}
			if ns != "" && strings.HasPrefix(name, "system:serviceaccount:") && ServiceAccountUsername(ns, s.Name) == name {
				return s
			}
		}
	}
	return &rbacv1.Subject{}
}
