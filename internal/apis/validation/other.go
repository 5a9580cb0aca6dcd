package validation

import (
	"fmt"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validateLease(l *coordinationv1.Lease) field.ErrorList {
	errs := objectMeta(&l.ObjectMeta, true, nameIsDNSSubdomain)
	sp := field.NewPath("spec")
	if d := l.Spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(sp.Child("leaseDurationSeconds"), *d, "must be greater than 0"))
	}
	errs = append(errs, nonNegativePtr(l.Spec.LeaseTransitions, sp.Child("leaseTransitions"))...)
	if s := l.Spec.Strategy; s != nil {
		errs = append(errs, enum(*s, []coordinationv1.CoordinatedLeaseStrategy{coordinationv1.OldestEmulationVersion}, sp.Child("strategy"))...)
	}
	return errs
}

var addressTypes = []discoveryv1.AddressType{discoveryv1.AddressTypeFQDN, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}

const (
	maxEndpointsPerSlice = 1000
	maxPortsPerSlice     = 100
)

func validateEndpointSlice(es *discoveryv1.EndpointSlice) field.ErrorList {
	errs := objectMeta(&es.ObjectMeta, true, nameIsDNSSubdomain)
	errs = append(errs, enum(es.AddressType, addressTypes, field.NewPath("addressType"))...)
	ep := field.NewPath("endpoints")
	if len(es.Endpoints) > maxEndpointsPerSlice {
		errs = append(errs, field.TooMany(ep, len(es.Endpoints), maxEndpointsPerSlice))
	}
	for i, e := range es.Endpoints {
		ip := ep.Index(i)
		ap := ip.Child("addresses")
		if len(e.Addresses) == 0 {
			errs = append(errs, field.Required(ap, "must contain at least 1 address"))
		} else if len(e.Addresses) > 100 {
			errs = append(errs, field.TooMany(ap, len(e.Addresses), 100))
		}
		for j, a := range e.Addresses {
			errs = append(errs, sliceAddress(es.AddressType, a, ap.Index(j))...)
		}
		if e.Hostname != nil {
			errs = append(errs, dns1123Label(*e.Hostname, ip.Child("hostname"))...)
		}
		if e.NodeName != nil {
			errs = append(errs, invalidEach(ip.Child("nodeName"), *e.NodeName, nameIsDNSSubdomain(*e.NodeName, false))...)
		}
	}
	pp := field.NewPath("ports")
	if len(es.Ports) > maxPortsPerSlice {
		errs = append(errs, field.TooMany(pp, len(es.Ports), maxPortsPerSlice))
	}
	names := map[string]bool{}
	for i, port := range es.Ports {
		ip := pp.Index(i)
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if name != "" {
			errs = append(errs, dns1123Label(name, ip.Child("name"))...)
		}
		if names[name] {
			errs = append(errs, field.Duplicate(ip.Child("name"), name))
		}
		names[name] = true
		if port.Protocol == nil {
			errs = append(errs, field.Required(ip.Child("protocol"), ""))
		} else {
			errs = append(errs, enum(*port.Protocol, portProtocols, ip.Child("protocol"))...)
		}
		if port.Port != nil {
			errs = append(errs, invalidEach(ip.Child("port"), *port.Port, validation.IsInRange(int(*port.Port), 0, 65535))...)
		}
		if port.AppProtocol != nil {
			errs = append(errs, qualifiedName(*port.AppProtocol, ip.Child("appProtocol"))...)
		}
	}
	return errs
}

func sliceAddress(t discoveryv1.AddressType, a string, p *field.Path) field.ErrorList {
	switch t {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
		errs := validation.IsValidIP(p, a)
		if len(errs) > 0 {
			return errs
		}
		if v4 := !strings.Contains(a, ":"); v4 != (t == discoveryv1.AddressTypeIPv4) {
			return field.ErrorList{field.Invalid(p, a, "must be an "+string(t)+" address")}
		}
	case discoveryv1.AddressTypeFQDN:
		return validation.IsFullyQualifiedDomainName(p, a)
	}
	return nil
}

func validateEventsV1(ev *eventsv1.Event) field.ErrorList {
	errs := objectMeta(&ev.ObjectMeta, true, nameIsDNSSubdomain)
	rp := field.NewPath("regarding", "namespace")
	if ev.Regarding.Namespace == "" {
		if ev.Namespace != metav1.NamespaceNone && ev.Namespace != metav1.NamespaceDefault {
			errs = append(errs, field.Invalid(rp, ev.Regarding.Namespace, "does not match event.namespace"))
		}
	} else if ev.Namespace != ev.Regarding.Namespace {
		errs = append(errs, field.Invalid(rp, ev.Regarding.Namespace, "does not match event.namespace"))
	}
	if ev.EventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
	}
	if ev.Type != "" {
		errs = append(errs, enum(ev.Type, []string{corev1.EventTypeNormal, corev1.EventTypeWarning}, field.NewPath("type"))...)
	} else {
		errs = append(errs, field.Required(field.NewPath("type"), fmt.Sprintf("should be %q or %q", corev1.EventTypeNormal, corev1.EventTypeWarning)))
	}
	if ev.ReportingController == "" {
		errs = append(errs, field.Required(field.NewPath("reportingController"), ""))
	} else {
		errs = append(errs, qualifiedName(ev.ReportingController, field.NewPath("reportingController"))...)
	}
	if ev.ReportingInstance == "" {
		errs = append(errs, field.Required(field.NewPath("reportingInstance"), ""))
	}
	if ev.Action == "" {
		errs = append(errs, field.Required(field.NewPath("action"), ""))
	}
	if ev.Reason == "" {
		errs = append(errs, field.Required(field.NewPath("reason"), ""))
	}
	return errs
}

func validateRole(m *metav1.ObjectMeta, rules []rbacv1.PolicyRule, namespaced bool) field.ErrorList {
	errs := objectMeta(m, namespaced, nameIsPathSegment)
	for i, r := range rules {
		errs = append(errs, policyRule(r, namespaced, field.NewPath("rules").Index(i))...)
	}
	return errs
}

func policyRule(r rbacv1.PolicyRule, namespaced bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(r.Verbs) == 0 {
		errs = append(errs, field.Required(p.Child("verbs"), "verbs must contain at least one value"))
	}
	if len(r.NonResourceURLs) > 0 {
		if namespaced {
			errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
		}
		if len(r.APIGroups) > 0 || len(r.Resources) > 0 || len(r.ResourceNames) > 0 {
			errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
		}
		return errs
	}
	if len(r.APIGroups) == 0 {
		errs = append(errs, field.Required(p.Child("apiGroups"), "resource rules must supply at least one api group"))
	}
	if len(r.Resources) == 0 {
		errs = append(errs, field.Required(p.Child("resources"), "resource rules must supply at least one resource"))
	}
	return errs
}

func validateRoleBinding(m *metav1.ObjectMeta, ref rbacv1.RoleRef, subjects []rbacv1.Subject, namespaced bool) field.ErrorList {
	errs := objectMeta(m, namespaced, nameIsPathSegment)
	rp := field.NewPath("roleRef")
	if ref.APIGroup != rbacv1.GroupName {
		errs = append(errs, field.NotSupported(rp.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	kinds := []string{"ClusterRole"}
	if namespaced {
		kinds = []string{"Role", "ClusterRole"}
	}
	if !setHas(kinds, ref.Kind) {
		errs = append(errs, field.NotSupported(rp.Child("kind"), ref.Kind, kinds))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(rp.Child("name"), ""))
	} else {
		errs = append(errs, invalidEach(rp.Child("name"), ref.Name, nameIsPathSegment(ref.Name, false))...)
	}
	for i, s := range subjects {
		errs = append(errs, subject(s, namespaced, field.NewPath("subjects").Index(i))...)
	}
	return errs
}

func subject(s rbacv1.Subject, namespaced bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		if s.Name != "" {
			errs = append(errs, invalidEach(p.Child("name"), s.Name, nameIsDNSSubdomain(s.Name, false))...)
		}
		if s.APIGroup != "" {
			errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{""}))
		}
		if !namespaced && s.Namespace == "" {
			errs = append(errs, field.Required(p.Child("namespace"), ""))
		}
	case rbacv1.UserKind, rbacv1.GroupKind:
		if s.APIGroup != rbacv1.GroupName {
			errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{rbacv1.GroupName}))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("kind"), s.Kind, []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
	}
	return errs
}

func roleRefUpdate(ref, old rbacv1.RoleRef) field.ErrorList {
	if ref != old {
		return field.ErrorList{field.Invalid(field.NewPath("roleRef"), ref, "cannot change roleRef")}
	}
	return nil
}

// Priority classes Kubernetes reserves, with their fixed values.
var systemPriorityClasses = map[string]int32{"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}

const highestUserPriority = 1000000000

func validatePriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	errs := objectMeta(&pc.ObjectMeta, false, nameIsDNSSubdomain)
	if strings.HasPrefix(pc.Name, "system-") {
		if err := knownSystemClass(pc); err != "" {
			errs = append(errs, field.Forbidden(field.NewPath("metadata", "name"),
				"priority class names with 'system-' prefix are reserved for system use only. error: "+err))
		}
	} else if pc.Value > highestUserPriority {
		errs = append(errs, field.Forbidden(field.NewPath("value"),
			fmt.Sprintf("maximum allowed value of a user defined priority is %v", highestUserPriority)))
	}
	if pc.PreemptionPolicy != nil {
		errs = append(errs, enum(*pc.PreemptionPolicy, preemptPolicies, field.NewPath("preemptionPolicy"))...)
	}
	return errs
}

func knownSystemClass(pc *schedulingv1.PriorityClass) string {
	v, ok := systemPriorityClasses[pc.Name]
	switch {
	case !ok:
		return fmt.Sprintf("%v is not a known system priority class", pc.Name)
	case pc.Value != v:
		return fmt.Sprintf("value of %v PriorityClass must be %v", pc.Name, v)
	case pc.GlobalDefault:
		return fmt.Sprintf("globalDefault of %v PriorityClass must be false", pc.Name)
	}
	return ""
}

func validatePDB(pdb *policyv1.PodDisruptionBudget) field.ErrorList {
	errs := objectMeta(&pdb.ObjectMeta, true, nameIsDNSSubdomain)
	s := &pdb.Spec
	sp := field.NewPath("spec")
	if s.MinAvailable != nil && s.MaxUnavailable != nil {
		errs = append(errs, field.Invalid(sp, s, "minAvailable and maxUnavailable cannot be both set"))
	}
	if s.MinAvailable != nil {
		errs = append(errs, positiveIntOrPercent(*s.MinAvailable, sp.Child("minAvailable"))...)
		errs = append(errs, notMoreThan100Percent(*s.MinAvailable, sp.Child("minAvailable"))...)
	}
	if s.MaxUnavailable != nil {
		errs = append(errs, positiveIntOrPercent(*s.MaxUnavailable, sp.Child("maxUnavailable"))...)
		errs = append(errs, notMoreThan100Percent(*s.MaxUnavailable, sp.Child("maxUnavailable"))...)
	}
	if s.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(s.Selector, metav1validation.LabelSelectorValidationOptions{}, sp.Child("selector"))...)
	}
	if s.UnhealthyPodEvictionPolicy != nil {
		errs = append(errs, enum(*s.UnhealthyPodEvictionPolicy, []policyv1.UnhealthyPodEvictionPolicyType{
			policyv1.AlwaysAllow, policyv1.IfHealthyBudget}, sp.Child("unhealthyPodEvictionPolicy"))...)
	}
	return errs
}
