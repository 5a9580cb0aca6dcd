package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/component-helpers/auth/rbac/validation"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/authz/bootstrappolicy"
)

// reconcileRBAC brings the bootstrap policy into the cluster at every start, as
// upstream's RBAC post-start hook does: missing objects are created; existing
// ones annotated rbac.authorization.kubernetes.io/autoupdate=true get the
// rules, subjects, labels and annotations they lack added. Nothing a user added
// is ever removed, and an object annotated autoupdate=false is left alone.
func (s *Server) reconcileRBAC(ctx context.Context) error {
	p := bootstrappolicy.Default()
	for _, o := range p.ClusterRoles {
		if err := s.reconcileOne(ctx, "clusterroles", o, mergeClusterRole); err != nil {
			return err
		}
	}
	for _, o := range p.ClusterRoleBindings {
		if err := s.reconcileOne(ctx, "clusterrolebindings", o, mergeClusterRoleBinding); err != nil {
			return err
		}
	}
	for _, o := range p.Roles {
		if err := s.reconcileOne(ctx, "roles", o, mergeRole); err != nil {
			return err
		}
	}
	for _, o := range p.RoleBindings {
		if err := s.reconcileOne(ctx, "rolebindings", o, mergeRoleBinding); err != nil {
			return err
		}
	}
	return nil
}

// mergeFunc adds what want has and cur lacks to a copy of cur; changed=false
// leaves the stored object as it is.
type mergeFunc func(cur, want runtime.Object) (next runtime.Object, changed bool)

func (s *Server) reconcileOne(ctx context.Context, resource string, want runtime.Object, merge mergeFunc) error {
	res := catalog.Lookup(rbacv1.GroupName, "v1", resource)
	m := mustMeta(want)
	ri := requestInfo{group: rbacv1.GroupName, version: "v1", resource: resource, namespace: m.Namespace, name: m.Name, res: res, verb: "update"}
	_, err := s.updateObject(ctx, ri, false, func(cur runtime.Object) (runtime.Object, error) {
		if mustMeta(cur).Annotations[bootstrappolicy.AutoUpdateAnnotation] == "false" {
			return cur, nil
		}
		next, changed := merge(cur, want)
		if !changed {
			return cur, nil
		}
		return next, nil
	})
	if apierrors.IsNotFound(err) {
		return s.ensure(ctx, rbacv1.GroupName, resource, want.DeepCopyObject())
	}
	if err != nil {
		return fmt.Errorf("reconcile %s %s: %w", resource, m.Name, err)
	}
	return nil
}

// mergeMeta adds want's labels and annotations cur lacks.
func mergeMeta(cur, want *metav1.ObjectMeta) bool {
	changed := false
	for _, kv := range []struct{ cur, want *map[string]string }{{&cur.Labels, &want.Labels}, {&cur.Annotations, &want.Annotations}} {
		for k, v := range *kv.want {
			if _, ok := (*kv.cur)[k]; ok {
				continue
			}
			if *kv.cur == nil {
				*kv.cur = map[string]string{}
			}
			(*kv.cur)[k] = v
			changed = true
		}
	}
	return changed
}

// mergeRules appends the wanted rules the current ones do not already cover.
func mergeRules(cur *[]rbacv1.PolicyRule, want []rbacv1.PolicyRule) bool {
	changed := false
	for _, r := range want {
		if ok, _ := validation.Covers(*cur, []rbacv1.PolicyRule{r}); !ok {
			*cur = append(*cur, r)
			changed = true
		}
	}
	return changed
}

func mergeClusterRole(curObj, wantObj runtime.Object) (runtime.Object, bool) {
	cur, want := curObj.DeepCopyObject().(*rbacv1.ClusterRole), wantObj.(*rbacv1.ClusterRole)
	changed := mergeMeta(&cur.ObjectMeta, &want.ObjectMeta)
	if want.AggregationRule != nil {
		// The aggregation controller owns the rules; only the selectors are ours.
		if cur.AggregationRule == nil {
			cur.AggregationRule = &rbacv1.AggregationRule{}
		}
		for _, sel := range want.AggregationRule.ClusterRoleSelectors {
			if !slices.ContainsFunc(cur.AggregationRule.ClusterRoleSelectors, func(x metav1.LabelSelector) bool {
				return equality.Semantic.DeepEqual(x, sel)
			}) {
				cur.AggregationRule.ClusterRoleSelectors = append(cur.AggregationRule.ClusterRoleSelectors, sel)
				changed = true
			}
		}
		if len(cur.Rules) == 0 && len(want.Rules) > 0 {
			cur.Rules, changed = want.Rules, true
		}
		return cur, changed
	}
	return cur, mergeRules(&cur.Rules, want.Rules) || changed
}

func mergeRole(curObj, wantObj runtime.Object) (runtime.Object, bool) {
	cur, want := curObj.DeepCopyObject().(*rbacv1.Role), wantObj.(*rbacv1.Role)
	changed := mergeMeta(&cur.ObjectMeta, &want.ObjectMeta)
	return cur, mergeRules(&cur.Rules, want.Rules) || changed
}

// mergeSubjects adds the wanted subjects cur lacks. A binding whose roleRef
// differs is left alone (roleRef is immutable; upstream would recreate it).
func mergeSubjects(cur *[]rbacv1.Subject, want []rbacv1.Subject) bool {
	changed := false
	for _, w := range want {
		if !slices.ContainsFunc(*cur, func(x rbacv1.Subject) bool {
			return x.Kind == w.Kind && x.Name == w.Name && x.Namespace == w.Namespace
		}) {
			*cur = append(*cur, w)
			changed = true
		}
	}
	return changed
}

func mergeClusterRoleBinding(curObj, wantObj runtime.Object) (runtime.Object, bool) {
	cur, want := curObj.DeepCopyObject().(*rbacv1.ClusterRoleBinding), wantObj.(*rbacv1.ClusterRoleBinding)
	if cur.RoleRef != want.RoleRef {
		slog.Warn("rbac bootstrap: binding references another role; left as is", "clusterrolebinding", cur.Name)
		return cur, false
	}
	changed := mergeMeta(&cur.ObjectMeta, &want.ObjectMeta)
	return cur, mergeSubjects(&cur.Subjects, want.Subjects) || changed
}

func mergeRoleBinding(curObj, wantObj runtime.Object) (runtime.Object, bool) {
	cur, want := curObj.DeepCopyObject().(*rbacv1.RoleBinding), wantObj.(*rbacv1.RoleBinding)
	if cur.RoleRef != want.RoleRef {
		slog.Warn("rbac bootstrap: binding references another role; left as is", "rolebinding", cur.Namespace+"/"+cur.Name)
		return cur, false
	}
	changed := mergeMeta(&cur.ObjectMeta, &want.ObjectMeta)
	return cur, mergeSubjects(&cur.Subjects, want.Subjects) || changed
}

// rbacBootstrapVisible reports whether the index already holds every bootstrap
// ClusterRoleBinding, so components relying on them are not refused at start.
func (s *Server) rbacBootstrapVisible() bool {
	for _, b := range bootstrappolicy.Default().ClusterRoleBindings {
		if s.authz.index.ClusterRoleBinding(b.Name) == nil {
			return false
		}
	}
	return true
}
