package validation

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxClientIPAffinitySeconds caps sessionAffinityConfig.clientIP.timeoutSeconds (one day).
const maxClientIPAffinitySeconds = 86400

// The NodePort range Skiff allocates from (upstream's default service-node-port-range).
const (
	NodePortMin = 30000
	NodePortMax = 32767
)

var (
	serviceTypes = []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeExternalName,
		corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort}
	sessionAffinities = []corev1.ServiceAffinity{corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone}
	trafficPolicies   = []corev1.ServiceExternalTrafficPolicy{corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal}
	ipFamilyPolicies  = []corev1.IPFamilyPolicy{corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack, corev1.IPFamilyPolicySingleStack}
)

func headless(svc *corev1.Service) bool { return svc.Spec.ClusterIP == corev1.ClusterIPNone }

// validateService checks a Service; Service names are DNS-1035 labels because they
// become DNS names and environment variable prefixes.
func validateService(svc *corev1.Service) field.ErrorList {
	errs := objectMeta(&svc.ObjectMeta, true, nameIsDNS1035Label)
	s := &svc.Spec
	sp := field.NewPath("spec")
	if len(s.Ports) == 0 && !headless(svc) && s.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(sp.Child("ports"), ""))
	}
	if s.Type == corev1.ServiceTypeExternalName {
		if len(s.ClusterIPs) > 0 {
			errs = append(errs, field.Forbidden(sp.Child("clusterIPs"), "may not be set for ExternalName services"))
		} else if s.ClusterIP != "" {
			errs = append(errs, field.Forbidden(sp.Child("clusterIP"), "may not be set for ExternalName services"))
		}
		cname := strings.TrimSuffix(s.ExternalName, ".")
		if cname == "" {
			errs = append(errs, field.Required(sp.Child("externalName"), ""))
		} else {
			errs = append(errs, dns1123Subdomain(cname, sp.Child("externalName"))...)
		}
	}
	names := map[string]bool{}
	for i := range s.Ports {
		errs = append(errs, servicePort(&s.Ports[i], len(s.Ports) > 1, names, sp.Child("ports").Index(i))...)
	}
	if s.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabels(s.Selector, sp.Child("selector"))...)
	}
	errs = append(errs, enum(s.SessionAffinity, sessionAffinities, sp.Child("sessionAffinity"))...)
	if s.SessionAffinity == corev1.ServiceAffinityClientIP {
		c := s.SessionAffinityConfig
		if c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			errs = append(errs, field.Required(sp.Child("sessionAffinityConfig"), "when session affinity type is ClientIP"))
		} else if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPAffinitySeconds {
			errs = append(errs, field.Invalid(sp.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), t,
				fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPAffinitySeconds)))
		}
	} else if s.SessionAffinityConfig != nil {
		errs = append(errs, field.Invalid(sp.Child("sessionAffinityConfig"), s.SessionAffinityConfig,
			fmt.Sprintf("must not be set when session affinity is %s", s.SessionAffinity)))
	}
	errs = append(errs, enum(s.Type, serviceTypes, sp.Child("type"))...)
	errs = append(errs, serviceIPs(svc, sp)...)
	errs = append(errs, serviceNodePorts(s, sp.Child("ports"))...)
	errs = append(errs, serviceTrafficPolicies(s, sp)...)
	return errs
}

func servicePort(port *corev1.ServicePort, requireName bool, names map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if requireName && port.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else if port.Name != "" {
		errs = append(errs, dns1123Label(port.Name, p.Child("name"))...)
		if names[port.Name] {
			errs = append(errs, field.Duplicate(p.Child("name"), port.Name))
		}
		names[port.Name] = true
	}
	errs = append(errs, invalidEach(p.Child("port"), port.Port, validation.IsValidPortNum(int(port.Port)))...)
	errs = append(errs, enum(port.Protocol, portProtocols, p.Child("protocol"))...)
	errs = append(errs, portNumOrName(port.TargetPort, p.Child("targetPort"))...)
	if port.AppProtocol != nil {
		errs = append(errs, qualifiedName(*port.AppProtocol, p.Child("appProtocol"))...)
	}
	return errs
}

func serviceIPs(svc *corev1.Service, sp *field.Path) field.ErrorList {
	var errs field.ErrorList
	s := &svc.Spec
	if s.ClusterIP != "" && s.ClusterIP != corev1.ClusterIPNone {
		errs = append(errs, validation.IsValidIP(sp.Child("clusterIP"), s.ClusterIP)...)
	}
	if len(s.ClusterIPs) > 0 && s.ClusterIP != "" && s.ClusterIPs[0] != s.ClusterIP {
		errs = append(errs, field.Invalid(sp.Child("clusterIPs"), s.ClusterIPs, "first value must match `clusterIP`"))
	}
	if len(s.ClusterIPs) > 2 {
		errs = append(errs, field.Invalid(sp.Child("clusterIPs"), s.ClusterIPs, "may only hold up to 2 values"))
	}
	for i, ip := range s.ExternalIPs {
		errs = append(errs, validation.IsValidIP(sp.Child("externalIPs").Index(i), ip)...)
	}
	if s.IPFamilyPolicy != nil {
		errs = append(errs, enum(*s.IPFamilyPolicy, ipFamilyPolicies, sp.Child("ipFamilyPolicy"))...)
	}
	if len(s.IPFamilies) > 2 {
		errs = append(errs, field.Invalid(sp.Child("ipFamilies"), s.IPFamilies, "may only hold up to 2 values"))
	}
	for i, f := range s.IPFamilies {
		errs = append(errs, enum(f, []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, sp.Child("ipFamilies").Index(i))...)
	}
	return errs
}

// serviceNodePorts: node ports only exist for NodePort/LoadBalancer, lie in the
// allocator's range and are unique per protocol; ports are unique per protocol too.
func serviceNodePorts(s *corev1.ServiceSpec, pp *field.Path) field.ErrorList {
	var errs field.ErrorList
	type key struct {
		proto corev1.Protocol
		port  int32
	}
	nodePorts := map[key]bool{}
	ports := map[key]bool{}
	for i, port := range s.Ports {
		ip := pp.Index(i)
		if port.NodePort != 0 {
			if s.Type == corev1.ServiceTypeClusterIP || s.Type == corev1.ServiceTypeExternalName {
				errs = append(errs, field.Forbidden(ip.Child("nodePort"), fmt.Sprintf("may not be used when `type` is '%s'", s.Type)))
			} else if port.NodePort < NodePortMin || port.NodePort > NodePortMax {
				errs = append(errs, field.Invalid(ip.Child("nodePort"), port.NodePort,
					fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", NodePortMin, NodePortMax)))
			}
			k := key{port.Protocol, port.NodePort}
			if nodePorts[k] {
				errs = append(errs, field.Duplicate(ip.Child("nodePort"), port.NodePort))
			}
			nodePorts[k] = true
		}
		k := key{port.Protocol, port.Port}
		if ports[k] {
			errs = append(errs, field.Duplicate(ip, fmt.Sprintf("%d/%s", port.Port, port.Protocol)))
		}
		ports[k] = true
	}
	return errs
}

func serviceTrafficPolicies(s *corev1.ServiceSpec, sp *field.Path) field.ErrorList {
	var errs field.ErrorList
	external := s.Type == corev1.ServiceTypeNodePort || s.Type == corev1.ServiceTypeLoadBalancer ||
		(s.Type == corev1.ServiceTypeClusterIP && len(s.ExternalIPs) > 0)
	if s.ExternalTrafficPolicy != "" {
		if !external {
			errs = append(errs, field.Invalid(sp.Child("externalTrafficPolicy"), s.ExternalTrafficPolicy,
				"may only be set for externally-accessible services"))
		} else {
			errs = append(errs, enum(s.ExternalTrafficPolicy, trafficPolicies, sp.Child("externalTrafficPolicy"))...)
		}
	} else if external {
		errs = append(errs, field.Required(sp.Child("externalTrafficPolicy"), ""))
	}
	if s.HealthCheckNodePort != 0 && (s.Type != corev1.ServiceTypeLoadBalancer || s.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal) {
		errs = append(errs, field.Invalid(sp.Child("healthCheckNodePort"), s.HealthCheckNodePort,
			"may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
	}
	if s.InternalTrafficPolicy != nil {
		errs = append(errs, enum(*s.InternalTrafficPolicy, []corev1.ServiceInternalTrafficPolicy{
			corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal}, sp.Child("internalTrafficPolicy"))...)
	}
	return errs
}

// serviceUpdate: an allocated cluster IP cannot change, except when the service
// switches to or from ExternalName (which has no IP). An empty new clusterIP means
// the client omitted it; the API server keeps the allocated one.
func serviceUpdate(svc, old *corev1.Service) field.ErrorList {
	if svc.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var errs field.ErrorList
	sp := field.NewPath("spec")
	if svc.Spec.ClusterIP != "" && old.Spec.ClusterIP != "" {
		errs = append(errs, immutable(svc.Spec.ClusterIP, old.Spec.ClusterIP, sp.Child("clusterIP"))...)
	}
	if len(svc.Spec.ClusterIPs) > 0 && len(old.Spec.ClusterIPs) > 0 && svc.Spec.ClusterIPs[0] != old.Spec.ClusterIPs[0] {
		errs = append(errs, field.Invalid(sp.Child("clusterIPs").Index(0), svc.Spec.ClusterIPs, "may not change once set"))
	}
	return errs
}

func validateNamespace(ns *corev1.Namespace) field.ErrorList {
	errs := objectMeta(&ns.ObjectMeta, false, apimachineryNamespaceName)
	for i, f := range ns.Spec.Finalizers {
		errs = append(errs, finalizerName(string(f), field.NewPath("spec", "finalizers").Index(i))...)
	}
	return errs
}

var apimachineryNamespaceName = nameIsDNSLabel

var standardFinalizers = []string{string(corev1.FinalizerKubernetes), metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents}

func finalizerName(f string, p *field.Path) field.ErrorList {
	errs := qualifiedName(f, p)
	if len(errs) > 0 {
		return errs
	}
	if !strings.Contains(f, "/") && !setHas(standardFinalizers, f) {
		errs = append(errs, field.Invalid(p, f, "name is neither a standard finalizer name nor is it fully qualified"))
	}
	return errs
}

func validateNode(n *corev1.Node) field.ErrorList {
	errs := objectMeta(&n.ObjectMeta, false, nameIsDNSSubdomain)
	sp := field.NewPath("spec")
	if n.Spec.PodCIDR != "" {
		errs = append(errs, validation.IsValidCIDR(sp.Child("podCIDR"), n.Spec.PodCIDR)...)
	}
	for i, c := range n.Spec.PodCIDRs {
		errs = append(errs, validation.IsValidCIDR(sp.Child("podCIDRs").Index(i), c)...)
	}
	if len(n.Spec.PodCIDRs) > 0 && n.Spec.PodCIDR != "" && n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
		errs = append(errs, field.Invalid(sp.Child("podCIDRs"), n.Spec.PodCIDRs, "the first entry must match `podCIDR`"))
	}
	if len(n.Spec.PodCIDRs) > 2 {
		errs = append(errs, field.Invalid(sp.Child("podCIDRs"), n.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
	}
	errs = append(errs, taints(n.Spec.Taints, sp.Child("taints"))...)
	errs = append(errs, resourceListNonNegative(n.Status.Capacity, field.NewPath("status", "capacity"))...)
	errs = append(errs, resourceListNonNegative(n.Status.Allocatable, field.NewPath("status", "allocatable"))...)
	return errs
}

func taints(ts []corev1.Taint, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[corev1.TaintEffect]map[string]bool{}
	for i, t := range ts {
		ip := p.Index(i)
		errs = append(errs, metav1validation.ValidateLabelName(t.Key, ip.Child("key"))...)
		if msgs := validation.IsValidLabelValue(t.Value); len(msgs) > 0 {
			errs = append(errs, field.Invalid(ip.Child("value"), t.Value, strings.Join(msgs, ";")))
		}
		errs = append(errs, enum(t.Effect, taintEffects, ip.Child("effect"))...)
		if seen[t.Effect][t.Key] {
			d := field.Duplicate(ip, t)
			d.Detail = "taints must be unique by key and effect pair"
			errs = append(errs, d)
			continue
		}
		if seen[t.Effect] == nil {
			seen[t.Effect] = map[string]bool{}
		}
		seen[t.Effect][t.Key] = true
	}
	return errs
}

// nodeUpdate: podCIDRs and providerID may be set once, never changed.
func nodeUpdate(n, old *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	sp := field.NewPath("spec")
	if len(old.Spec.PodCIDRs) > 0 && !reflect.DeepEqual(n.Spec.PodCIDRs, old.Spec.PodCIDRs) {
		errs = append(errs, field.Forbidden(sp.Child("podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if old.Spec.ProviderID != "" && n.Spec.ProviderID != old.Spec.ProviderID {
		errs = append(errs, field.Forbidden(sp.Child("providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	return errs
}

func resourceListNonNegative(l corev1.ResourceList, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for name, q := range l {
		fp := p.Key(string(name))
		errs = append(errs, qualifiedName(string(name), fp)...)
		errs = append(errs, nonNegativeQuantity(q, fp)...)
	}
	return errs
}

func validateConfigMap(cm *corev1.ConfigMap) field.ErrorList {
	errs := objectMeta(&cm.ObjectMeta, true, nameIsDNSSubdomain)
	size := 0
	for k, v := range cm.Data {
		kp := field.NewPath("data").Key(k)
		errs = append(errs, invalidEach(kp, k, validation.IsConfigMapKey(k))...)
		if _, dup := cm.BinaryData[k]; dup {
			errs = append(errs, field.Invalid(kp, k, "duplicate of key present in binaryData"))
		}
		size += len(v)
	}
	for k, v := range cm.BinaryData {
		kp := field.NewPath("binaryData").Key(k)
		errs = append(errs, invalidEach(kp, k, validation.IsConfigMapKey(k))...)
		if _, dup := cm.Data[k]; dup {
			errs = append(errs, field.Invalid(kp, k, "duplicate of key present in data"))
		}
		size += len(v)
	}
	if size > maxConfigSize {
		// An empty path says the error concerns the whole object.
		errs = append(errs, field.TooLong(field.NewPath(""), "", maxConfigSize))
	}
	return errs
}

func configMapUpdate(cm, old *corev1.ConfigMap) field.ErrorList {
	if old.Immutable == nil || !*old.Immutable {
		return nil
	}
	var errs field.ErrorList
	msg := "field is immutable when `immutable` is set"
	if cm.Immutable == nil || !*cm.Immutable {
		errs = append(errs, field.Forbidden(field.NewPath("immutable"), msg))
	}
	if !reflect.DeepEqual(cm.Data, old.Data) {
		errs = append(errs, field.Forbidden(field.NewPath("data"), msg))
	}
	if !reflect.DeepEqual(cm.BinaryData, old.BinaryData) {
		errs = append(errs, field.Forbidden(field.NewPath("binaryData"), msg))
	}
	return errs
}

func validateSecret(s *corev1.Secret) field.ErrorList {
	errs := objectMeta(&s.ObjectMeta, true, nameIsDNSSubdomain)
	dp := field.NewPath("data")
	size := 0
	for k, v := range s.Data {
		errs = append(errs, invalidEach(dp.Key(k), k, validation.IsConfigMapKey(k))...)
		size += len(v)
	}
	for k, v := range s.StringData {
		errs = append(errs, invalidEach(field.NewPath("stringData").Key(k), k, validation.IsConfigMapKey(k))...)
		size += len(v)
	}
	if size > maxConfigSize {
		errs = append(errs, field.TooLong(dp, "", maxConfigSize))
	}
	return append(errs, secretType(s, dp)...)
}

// secretType checks the keys each built-in secret type promises its consumers.
func secretType(s *corev1.Secret, dp *field.Path) field.ErrorList {
	var errs field.ErrorList
	has := func(k string) bool {
		_, ok := s.Data[k]
		if !ok {
			_, ok = s.StringData[k]
		}
		return ok
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg, corev1.SecretTypeDockerConfigJson:
		key := corev1.DockerConfigKey
		if s.Type == corev1.SecretTypeDockerConfigJson {
			key = corev1.DockerConfigJsonKey
		}
		b, ok := s.Data[key]
		if !ok {
			if str, sok := s.StringData[key]; sok {
				b, ok = []byte(str), true
			}
		}
		if !ok {
			return append(errs, field.Required(dp.Key(key), ""))
		}
		if err := json.Unmarshal(b, &map[string]any{}); err != nil {
			errs = append(errs, field.Invalid(dp.Key(key), "<secret contents redacted>", err.Error()))
		}
	case corev1.SecretTypeBasicAuth:
		if !has(corev1.BasicAuthUsernameKey) && !has(corev1.BasicAuthPasswordKey) {
			errs = append(errs, field.Required(dp.Key(corev1.BasicAuthUsernameKey), ""),
				field.Required(dp.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case corev1.SecretTypeSSHAuth:
		if len(s.Data[corev1.SSHAuthPrivateKey]) == 0 && s.StringData[corev1.SSHAuthPrivateKey] == "" {
			errs = append(errs, field.Required(dp.Key(corev1.SSHAuthPrivateKey), ""))
		}
	case corev1.SecretTypeTLS:
		if !has(corev1.TLSCertKey) {
			errs = append(errs, field.Required(dp.Key(corev1.TLSCertKey), ""))
		}
		if !has(corev1.TLSPrivateKeyKey) {
			errs = append(errs, field.Required(dp.Key(corev1.TLSPrivateKeyKey), ""))
		}
	}
	return errs
}

func secretUpdate(s, old *corev1.Secret) field.ErrorList {
	errs := immutable(s.Type, old.Type, field.NewPath("type"))
	if old.Immutable == nil || !*old.Immutable {
		return errs
	}
	msg := "field is immutable when `immutable` is set"
	if s.Immutable == nil || !*s.Immutable {
		errs = append(errs, field.Forbidden(field.NewPath("immutable"), msg))
	}
	if !reflect.DeepEqual(s.Data, old.Data) {
		errs = append(errs, field.Forbidden(field.NewPath("data"), msg))
	}
	return errs
}

func validateEndpoints(ep *corev1.Endpoints) field.ErrorList {
	errs := objectMeta(&ep.ObjectMeta, true, nameIsDNSSubdomain)
	for i, ss := range ep.Subsets {
		sp := field.NewPath("subsets").Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(sp, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j, a := range ss.Addresses {
			errs = append(errs, endpointAddress(a, sp.Child("addresses").Index(j))...)
		}
		for j, a := range ss.NotReadyAddresses {
			errs = append(errs, endpointAddress(a, sp.Child("notReadyAddresses").Index(j))...)
		}
		names := map[string]bool{}
		for j, port := range ss.Ports {
			pp := sp.Child("ports").Index(j)
			if len(ss.Ports) > 1 && port.Name == "" {
				errs = append(errs, field.Required(pp.Child("name"), ""))
			} else if port.Name != "" {
				errs = append(errs, dns1123Label(port.Name, pp.Child("name"))...)
				if names[port.Name] {
					errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
				}
				names[port.Name] = true
			}
			errs = append(errs, invalidEach(pp.Child("port"), port.Port, validation.IsValidPortNum(int(port.Port)))...)
			errs = append(errs, enum(port.Protocol, portProtocols, pp.Child("protocol"))...)
		}
	}
	return errs
}

func endpointAddress(a corev1.EndpointAddress, p *field.Path) field.ErrorList {
	errs := validation.IsValidIP(p.Child("ip"), a.IP)
	if a.Hostname != "" {
		errs = append(errs, dns1123Label(a.Hostname, p.Child("hostname"))...)
	}
	if a.NodeName != nil {
		errs = append(errs, invalidEach(p.Child("nodeName"), *a.NodeName, nameIsDNSSubdomain(*a.NodeName, false))...)
	}
	return errs
}

// validateEvent checks a core/v1 Event; its namespace must be that of the object
// it reports on (cluster-scoped objects' events live in "default" or nowhere).
func validateEvent(ev *corev1.Event) field.ErrorList {
	errs := objectMeta(&ev.ObjectMeta, true, nameIsDNSSubdomain)
	ip := field.NewPath("involvedObject", "namespace")
	if ev.InvolvedObject.Namespace == "" {
		if ev.Namespace != metav1.NamespaceNone && ev.Namespace != metav1.NamespaceDefault {
			errs = append(errs, field.Invalid(ip, ev.InvolvedObject.Namespace, "does not match event.namespace"))
		}
	} else if ev.Namespace != ev.InvolvedObject.Namespace {
		errs = append(errs, field.Invalid(ip, ev.InvolvedObject.Namespace, "does not match event.namespace"))
	}
	if ev.Type != "" {
		errs = append(errs, enum(ev.Type, []string{corev1.EventTypeNormal, corev1.EventTypeWarning}, field.NewPath("type"))...)
	}
	if ev.Count < 0 {
		errs = append(errs, field.Invalid(field.NewPath("count"), ev.Count, isNegativeErrorMsg))
	}
	return errs
}

func validateResourceQuota(rq *corev1.ResourceQuota) field.ErrorList {
	errs := objectMeta(&rq.ObjectMeta, true, nameIsDNSSubdomain)
	errs = append(errs, resourceListNonNegative(rq.Spec.Hard, field.NewPath("spec", "hard"))...)
	scopes := []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeCrossNamespacePodAffinity,
		corev1.ResourceQuotaScopeNotBestEffort, corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopePriorityClass,
		corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeVolumeAttributesClass}
	for i, s := range rq.Spec.Scopes {
		errs = append(errs, enum(s, scopes, field.NewPath("spec", "scopes").Index(i))...)
	}
	return errs
}

var limitTypes = []corev1.LimitType{corev1.LimitTypeContainer, corev1.LimitTypePersistentVolumeClaim, corev1.LimitTypePod}

// validateLimitRange: every bound is non-negative and min <= default(request) <= max.
func validateLimitRange(lr *corev1.LimitRange) field.ErrorList {
	errs := objectMeta(&lr.ObjectMeta, true, nameIsDNSSubdomain)
	for i, item := range lr.Spec.Limits {
		ip := field.NewPath("spec", "limits").Index(i)
		errs = append(errs, enum(item.Type, limitTypes, ip.Child("type"))...)
		for _, l := range []struct {
			name string
			list corev1.ResourceList
		}{{"max", item.Max}, {"min", item.Min}, {"default", item.Default}, {"defaultRequest", item.DefaultRequest},
			{"maxLimitRequestRatio", item.MaxLimitRequestRatio}} {
			errs = append(errs, resourceListNonNegative(l.list, ip.Child(l.name))...)
		}
		for name, min := range item.Min {
			if max, ok := item.Max[name]; ok && min.Cmp(max) > 0 {
				errs = append(errs, field.Invalid(ip.Child("min").Key(string(name)), min.String(),
					fmt.Sprintf("min value %s is greater than max value %s", min.String(), max.String())))
			}
		}
		if item.Type == corev1.LimitTypePod && (len(item.Default) > 0 || len(item.DefaultRequest) > 0) {
			errs = append(errs, field.Forbidden(ip.Child("default"), "may not be specified when `type` is 'Pod'"))
		}
	}
	return errs
}
