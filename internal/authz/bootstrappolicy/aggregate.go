package bootstrappolicy

import (
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// AggregatedRules computes the rules of an aggregated ClusterRole from roles:
// the rules of every role a selector matches, in name order, without
// duplicates (roles is expected sorted by name). The aggregated role itself is
// skipped. This is what the aggregation controller writes; the bootstrap seeds
// admin, edit and view with it so they work before the controller runs.
func AggregatedRules(agg *rbacv1.ClusterRole, roles []*rbacv1.ClusterRole) []rbacv1.PolicyRule {
	var sels []labels.Selector
	for i := range agg.AggregationRule.ClusterRoleSelectors {
		sel, err := metav1.LabelSelectorAsSelector(&agg.AggregationRule.ClusterRoleSelectors[i])
		if err == nil {
			sels = append(sels, sel)
		}
	}
	var out []rbacv1.PolicyRule
	for _, r := range roles {
		if r.Name == agg.Name || !anyMatches(sels, r.Labels) {
			continue
		}
		for _, rule := range r.Rules {
			if !containsRule(out, rule) {
				out = append(out, rule)
			}
		}
	}
	return out
}

func anyMatches(sels []labels.Selector, l map[string]string) bool {
	for _, s := range sels {
		if s.Matches(labels.Set(l)) {
			return true
		}
	}
	return false
}

func containsRule(rules []rbacv1.PolicyRule, rule rbacv1.PolicyRule) bool {
	for _, r := range rules {
		if equality.Semantic.DeepEqual(r, rule) {
			return true
		}
	}
	return false
}

// aggregateAll fills every aggregated role of roles until nothing changes
// (edit aggregates into admin, view into edit).
func aggregateAll(roles []*rbacv1.ClusterRole) {
	for changed := true; changed; {
		changed = false
		for _, r := range roles {
			if r.AggregationRule == nil {
				continue
			}
			rules := AggregatedRules(r, roles)
			if !equality.Semantic.DeepEqual(rules, r.Rules) {
				r.Rules, changed = rules, true
			}
		}
	}
}
