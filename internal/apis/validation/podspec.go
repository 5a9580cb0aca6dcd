package validation

import (
	"fmt"
	"math"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apis/defaults"
)

var (
	restartPolicies = []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}
	dnsPolicies     = []corev1.DNSPolicy{corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone}
	pullPolicies    = []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}
	msgPolicies     = []corev1.TerminationMessagePolicy{corev1.TerminationMessageFallbackToLogsOnError, corev1.TerminationMessageReadFile}
	preemptPolicies = []corev1.PreemptionPolicy{corev1.PreemptLowerPriority, corev1.PreemptNever}
	uriSchemes      = []corev1.URIScheme{corev1.URISchemeHTTP, corev1.URISchemeHTTPS}
	taintEffects    = []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}
	hostPathTypes   = []corev1.HostPathType{corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory,
		corev1.HostPathFileOrCreate, corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev}
)

// podSpec validates a PodSpec of a Pod or of a template.
func podSpec(spec *corev1.PodSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	volumes, vErrs := podVolumes(spec.Volumes, p.Child("volumes"))
	errs = append(errs, vErrs...)
	errs = append(errs, containers(spec, volumes, p)...)
	errs = append(errs, enum(spec.RestartPolicy, restartPolicies, p.Child("restartPolicy"))...)
	errs = append(errs, dnsPolicy(spec, p)...)
	errs = append(errs, metav1validation.ValidateLabels(spec.NodeSelector, p.Child("nodeSelector"))...)
	errs = append(errs, podSecurityContext(spec.SecurityContext, p.Child("securityContext"))...)
	errs = append(errs, tolerations(spec.Tolerations, p.Child("tolerations"))...)
	errs = append(errs, affinity(spec.Affinity, p.Child("affinity"))...)
	errs = append(errs, topologySpread(spec.TopologySpreadConstraints, p.Child("topologySpreadConstraints"))...)
	if spec.ServiceAccountName != "" {
		errs = append(errs, invalidEach(p.Child("serviceAccountName"), spec.ServiceAccountName,
			apimachineryvalidation.ValidateServiceAccountName(spec.ServiceAccountName, false))...)
	}
	if spec.NodeName != "" {
		errs = append(errs, invalidEach(p.Child("nodeName"), spec.NodeName, nameIsDNSSubdomain(spec.NodeName, false))...)
	}
	if spec.ActiveDeadlineSeconds != nil {
		v := *spec.ActiveDeadlineSeconds
		if v < 1 || v > math.MaxInt32 {
			errs = append(errs, field.Invalid(p.Child("activeDeadlineSeconds"), v, validation.InclusiveRangeError(1, math.MaxInt32)))
		}
	}
	if spec.Hostname != "" {
		errs = append(errs, dns1123Label(spec.Hostname, p.Child("hostname"))...)
	}
	if spec.Subdomain != "" {
		errs = append(errs, dns1123Label(spec.Subdomain, p.Child("subdomain"))...)
	}
	if spec.PriorityClassName != "" {
		errs = append(errs, dns1123Subdomain(spec.PriorityClassName, p.Child("priorityClassName"))...)
	}
	if spec.SchedulerName != "" {
		errs = append(errs, dns1123Subdomain(spec.SchedulerName, p.Child("schedulerName"))...)
	}
	if spec.PreemptionPolicy != nil {
		errs = append(errs, enum(*spec.PreemptionPolicy, preemptPolicies, p.Child("preemptionPolicy"))...)
	}
	for i, s := range spec.ImagePullSecrets {
		if s.Name == "" {
			errs = append(errs, field.Required(p.Child("imagePullSecrets").Index(i).Child("name"), ""))
		}
	}
	errs = append(errs, schedulingGates(spec.SchedulingGates, p.Child("schedulingGates"))...)
	for i, g := range spec.ReadinessGates {
		errs = append(errs, qualifiedName(string(g.ConditionType), p.Child("readinessGates").Index(i).Child("conditionType"))...)
	}
	return errs
}

func dnsPolicy(spec *corev1.PodSpec, p *field.Path) field.ErrorList {
	errs := enum(spec.DNSPolicy, dnsPolicies, p.Child("dnsPolicy"))
	cfg := spec.DNSConfig
	if spec.DNSPolicy == corev1.DNSNone {
		if cfg == nil {
			return append(errs, field.Required(p.Child("dnsConfig"), fmt.Sprintf("must provide `dnsConfig` when `dnsPolicy` is %s", corev1.DNSNone)))
		}
		if len(cfg.Nameservers) == 0 {
			errs = append(errs, field.Required(p.Child("dnsConfig", "nameservers"),
				fmt.Sprintf("must provide at least one DNS nameserver when `dnsPolicy` is %s", corev1.DNSNone)))
		}
	}
	if cfg == nil {
		return errs
	}
	if len(cfg.Nameservers) > 3 {
		errs = append(errs, field.Invalid(p.Child("dnsConfig", "nameservers"), cfg.Nameservers, "must not have more than 3 nameservers"))
	}
	for i, ns := range cfg.Nameservers {
		errs = append(errs, validation.IsValidIP(p.Child("dnsConfig", "nameservers").Index(i), ns)...)
	}
	if len(cfg.Searches) > 32 {
		errs = append(errs, field.Invalid(p.Child("dnsConfig", "searches"), cfg.Searches, "must not have more than 32 search paths"))
	}
	for i, o := range cfg.Options {
		if o.Name == "" {
			errs = append(errs, field.Required(p.Child("dnsConfig", "options").Index(i), "Option.Name must not be empty"))
		}
	}
	return errs
}

// containers validates init, regular and ephemeral containers; names must be
// unique across all of them.
func containers(spec *corev1.PodSpec, volumes map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	checkName := func(name string, np *field.Path) {
		switch {
		case name == "":
			errs = append(errs, field.Required(np, ""))
		case names[name]:
			errs = append(errs, field.Duplicate(np, name))
		default:
			errs = append(errs, dns1123Label(name, np)...)
			names[name] = true
		}
	}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		cp := p.Child("initContainers").Index(i)
		checkName(c.Name, cp.Child("name"))
		errs = append(errs, container(c, volumes, spec.HostNetwork, cp)...)
		errs = append(errs, initContainerRules(c, cp)...)
	}
	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("containers"), ""))
	}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		cp := p.Child("containers").Index(i)
		checkName(c.Name, cp.Child("name"))
		errs = append(errs, container(c, volumes, spec.HostNetwork, cp)...)
		if c.RestartPolicy != nil {
			errs = append(errs, field.Forbidden(cp.Child("restartPolicy"), "may not be set for non-init containers"))
		}
		errs = append(errs, singleSuccessThreshold(c, cp)...)
	}
	for i := range spec.EphemeralContainers {
		c := (*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon)
		cp := p.Child("ephemeralContainers").Index(i)
		checkName(c.Name, cp.Child("name"))
		errs = append(errs, container(c, volumes, spec.HostNetwork, cp)...)
		for _, f := range []struct {
			set  bool
			name string
		}{{c.LivenessProbe != nil, "livenessProbe"}, {c.ReadinessProbe != nil, "readinessProbe"},
			{c.StartupProbe != nil, "startupProbe"}, {c.Lifecycle != nil, "lifecycle"}, {len(c.Ports) > 0, "ports"}} {
			if f.set {
				errs = append(errs, field.Forbidden(cp.Child(f.name), "cannot be set for an Ephemeral Container"))
			}
		}
	}
	return errs
}

// initContainerRules: only sidecars (restartPolicy Always) may have probes and
// lifecycle hooks, because plain init containers must run to completion.
func initContainerRules(c *corev1.Container, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
	if c.RestartPolicy != nil && !sidecar {
		errs = append(errs, field.NotSupported(p.Child("restartPolicy"), *c.RestartPolicy, []corev1.ContainerRestartPolicy{corev1.ContainerRestartPolicyAlways}))
	}
	if sidecar {
		return append(errs, singleSuccessThreshold(c, p)...)
	}
	msg := "may not be set for init containers without restartPolicy=Always"
	if c.Lifecycle != nil {
		errs = append(errs, field.Forbidden(p.Child("lifecycle"), msg))
	}
	if c.LivenessProbe != nil {
		errs = append(errs, field.Forbidden(p.Child("livenessProbe"), msg))
	}
	if c.ReadinessProbe != nil {
		errs = append(errs, field.Forbidden(p.Child("readinessProbe"), msg))
	}
	if c.StartupProbe != nil {
		errs = append(errs, field.Forbidden(p.Child("startupProbe"), msg))
	}
	return errs
}

// singleSuccessThreshold: liveness and startup probes decide on one success.
func singleSuccessThreshold(c *corev1.Container, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.LivenessProbe != nil && c.LivenessProbe.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(p.Child("livenessProbe", "successThreshold"), c.LivenessProbe.SuccessThreshold, "must be 1"))
	}
	if c.StartupProbe != nil && c.StartupProbe.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(p.Child("startupProbe", "successThreshold"), c.StartupProbe.SuccessThreshold, "must be 1"))
	}
	return errs
}

// container validates the fields common to every kind of container.
func container(c *corev1.Container, volumes map[string]bool, hostNetwork bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.Image == "" {
		errs = append(errs, field.Required(p.Child("image"), ""))
	}
	errs = append(errs, containerPorts(c.Ports, hostNetwork, p.Child("ports"))...)
	errs = append(errs, envVars(c.Env, p.Child("env"))...)
	errs = append(errs, envFrom(c.EnvFrom, p.Child("envFrom"))...)
	errs = append(errs, volumeMounts(c.VolumeMounts, volumes, p.Child("volumeMounts"))...)
	errs = append(errs, resourceRequirements(&c.Resources, p.Child("resources"))...)
	errs = append(errs, probe(c.LivenessProbe, p.Child("livenessProbe"))...)
	errs = append(errs, probe(c.ReadinessProbe, p.Child("readinessProbe"))...)
	errs = append(errs, probe(c.StartupProbe, p.Child("startupProbe"))...)
	if c.Lifecycle != nil {
		if c.Lifecycle.PostStart != nil {
			errs = append(errs, lifecycleHandler(c.Lifecycle.PostStart, p.Child("lifecycle", "postStart"))...)
		}
		if c.Lifecycle.PreStop != nil {
			errs = append(errs, lifecycleHandler(c.Lifecycle.PreStop, p.Child("lifecycle", "preStop"))...)
		}
	}
	errs = append(errs, enum(c.TerminationMessagePolicy, msgPolicies, p.Child("terminationMessagePolicy"))...)
	errs = append(errs, enum(c.ImagePullPolicy, pullPolicies, p.Child("imagePullPolicy"))...)
	errs = append(errs, containerSecurityContext(c.SecurityContext, p.Child("securityContext"))...)
	return errs
}

func containerPorts(ports []corev1.ContainerPort, hostNetwork bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i, port := range ports {
		ip := p.Index(i)
		if port.Name != "" {
			if msgs := validation.IsValidPortName(port.Name); len(msgs) > 0 {
				errs = append(errs, invalidEach(ip.Child("name"), port.Name, msgs)...)
			} else if names[port.Name] {
				errs = append(errs, field.Duplicate(ip.Child("name"), port.Name))
			} else {
				names[port.Name] = true
			}
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(ip.Child("containerPort"), ""))
		} else {
			errs = append(errs, invalidEach(ip.Child("containerPort"), port.ContainerPort, validation.IsValidPortNum(int(port.ContainerPort)))...)
		}
		if port.HostPort != 0 {
			errs = append(errs, invalidEach(ip.Child("hostPort"), port.HostPort, validation.IsValidPortNum(int(port.HostPort)))...)
			if hostNetwork && port.HostPort != port.ContainerPort {
				errs = append(errs, field.Invalid(ip.Child("hostPort"), port.HostPort, "must match `containerPort` when `hostNetwork` is true"))
			}
		}
		errs = append(errs, enum(port.Protocol, portProtocols, ip.Child("protocol"))...)
		if port.HostIP != "" {
			errs = append(errs, validation.IsValidIP(ip.Child("hostIP"), port.HostIP)...)
		}
	}
	return errs
}

// Field paths an env var may reference through the downward API.
var envFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
	"spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}

func envVars(vars []corev1.EnvVar, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ev := range vars {
		ip := p.Index(i)
		if ev.Name == "" {
			errs = append(errs, field.Required(ip.Child("name"), ""))
		} else {
			errs = append(errs, invalidEach(ip.Child("name"), ev.Name, validation.IsRelaxedEnvVarName(ev.Name))...)
		}
		errs = append(errs, envVarSource(ev, ip.Child("valueFrom"))...)
	}
	return errs
}

func envVarSource(ev corev1.EnvVar, p *field.Path) field.ErrorList {
	src := ev.ValueFrom
	if src == nil {
		return nil
	}
	var errs field.ErrorList
	n := 0
	if src.FieldRef != nil {
		n++
		errs = append(errs, objectFieldSelector(src.FieldRef, envFieldPaths, p.Child("fieldRef"))...)
	}
	if src.ResourceFieldRef != nil {
		n++
		errs = append(errs, resourceFieldSelector(src.ResourceFieldRef, false, p.Child("resourceFieldRef"))...)
	}
	if src.ConfigMapKeyRef != nil {
		n++
		errs = append(errs, keySelector(src.ConfigMapKeyRef.Name, src.ConfigMapKeyRef.Key, p.Child("configMapKeyRef"))...)
	}
	if src.SecretKeyRef != nil {
		n++
		errs = append(errs, keySelector(src.SecretKeyRef.Name, src.SecretKeyRef.Key, p.Child("secretKeyRef"))...)
	}
	if src.FileKeyRef != nil {
		n++
		if src.FileKeyRef.VolumeName == "" {
			errs = append(errs, field.Required(p.Child("fileKeyRef", "volumeName"), ""))
		}
		if src.FileKeyRef.Path == "" {
			errs = append(errs, field.Required(p.Child("fileKeyRef", "path"), ""))
		}
		if src.FileKeyRef.Key == "" {
			errs = append(errs, field.Required(p.Child("fileKeyRef", "key"), ""))
		}
	}
	switch {
	case n == 0:
		errs = append(errs, field.Invalid(p, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
	case n > 1:
		errs = append(errs, field.Invalid(p, "", "may not have more than one field specified at a time"))
	case ev.Value != "":
		errs = append(errs, field.Invalid(p, "", "may not be specified when `value` is not empty"))
	}
	return errs
}

func keySelector(name, key string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	if key == "" {
		errs = append(errs, field.Required(p.Child("key"), ""))
	} else {
		errs = append(errs, invalidEach(p.Child("key"), key, validation.IsConfigMapKey(key))...)
	}
	return errs
}

func objectFieldSelector(fs *corev1.ObjectFieldSelector, allowed []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if fs.APIVersion == "" {
		errs = append(errs, field.Required(p.Child("apiVersion"), ""))
		return errs
	}
	if fs.FieldPath == "" {
		return append(errs, field.Required(p.Child("fieldPath"), ""))
	}
	fp := fs.FieldPath
	// metadata.labels['key'] and metadata.annotations['key'] address single entries.
	for _, prefix := range []string{"metadata.labels['", "metadata.annotations['"} {
		if strings.HasPrefix(fp, prefix) && strings.HasSuffix(fp, "']") {
			key := strings.TrimSuffix(strings.TrimPrefix(fp, prefix), "']")
			if strings.HasPrefix(prefix, "metadata.labels") {
				return append(errs, qualifiedName(key, p.Child("fieldPath"))...)
			}
			return append(errs, qualifiedName(strings.ToLower(key), p.Child("fieldPath"))...)
		}
	}
	if !setHas(allowed, fp) {
		errs = append(errs, field.NotSupported(p.Child("fieldPath"), fp, allowed))
	}
	return errs
}

var resourceFieldRefs = []string{"limits.cpu", "limits.ephemeral-storage", "limits.memory",
	"requests.cpu", "requests.ephemeral-storage", "requests.memory"}

func resourceFieldSelector(rs *corev1.ResourceFieldSelector, needContainer bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if needContainer && rs.ContainerName == "" {
		errs = append(errs, field.Required(p.Child("containerName"), ""))
	}
	switch {
	case rs.Resource == "":
		errs = append(errs, field.Required(p.Child("resource"), ""))
	case strings.HasPrefix(rs.Resource, "limits.hugepages-"), strings.HasPrefix(rs.Resource, "requests.hugepages-"):
	case !setHas(resourceFieldRefs, rs.Resource):
		errs = append(errs, field.NotSupported(p.Child("resource"), rs.Resource, resourceFieldRefs))
	}
	if rs.Divisor.Cmp(resource.Quantity{}) < 0 {
		errs = append(errs, field.Invalid(p.Child("divisor"), rs.Divisor.String(), isNegativeErrorMsg))
	}
	return errs
}

func envFrom(srcs []corev1.EnvFromSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, s := range srcs {
		ip := p.Index(i)
		if s.Prefix != "" {
			errs = append(errs, invalidEach(ip.Child("prefix"), s.Prefix, validation.IsRelaxedEnvVarName(s.Prefix))...)
		}
		n := 0
		if s.ConfigMapRef != nil {
			n++
			if s.ConfigMapRef.Name == "" {
				errs = append(errs, field.Required(ip.Child("configMapRef", "name"), ""))
			}
		}
		if s.SecretRef != nil {
			n++
			if s.SecretRef.Name == "" {
				errs = append(errs, field.Required(ip.Child("secretRef", "name"), ""))
			}
		}
		if n == 0 {
			errs = append(errs, field.Invalid(ip, "", "must specify one of: `configMapRef` or `secretRef`"))
		} else if n > 1 {
			errs = append(errs, field.Invalid(ip, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}

func volumeMounts(mounts []corev1.VolumeMount, volumes map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths := map[string]bool{}
	for i, m := range mounts {
		ip := p.Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(ip.Child("name"), ""))
		}
		if !volumes[m.Name] {
			errs = append(errs, field.NotFound(ip.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(ip.Child("mountPath"), ""))
		}
		if paths[m.MountPath] {
			errs = append(errs, field.Invalid(ip.Child("mountPath"), m.MountPath, "must be unique"))
		}
		paths[m.MountPath] = true
		if m.SubPath != "" {
			// Upstream reports subPath problems against the list path, not the item.
			errs = append(errs, localDescendingPath(m.SubPath, p.Child("subPath"))...)
		}
		if m.SubPathExpr != "" {
			if m.SubPath != "" {
				errs = append(errs, field.Invalid(ip.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
			}
			errs = append(errs, localDescendingPath(m.SubPathExpr, ip.Child("subPathExpr"))...)
		}
		if m.MountPropagation != nil {
			errs = append(errs, enum(*m.MountPropagation, []corev1.MountPropagationMode{corev1.MountPropagationBidirectional,
				corev1.MountPropagationHostToContainer, corev1.MountPropagationNone}, ip.Child("mountPropagation"))...)
		}
	}
	return errs
}

func localDescendingPath(target string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if path.IsAbs(target) {
		errs = append(errs, field.Invalid(p, target, "must be a relative path"))
	}
	return append(errs, noBacksteps(target, p)...)
}

func noBacksteps(target string, p *field.Path) field.ErrorList {
	for _, part := range strings.Split(strings.ReplaceAll(target, `\`, "/"), "/") {
		if part == ".." {
			return field.ErrorList{field.Invalid(p, target, "must not contain '..'")}
		}
	}
	return nil
}

func localNonReservedPath(target string, p *field.Path) field.ErrorList {
	errs := localDescendingPath(target, p)
	if strings.HasPrefix(target, "..") && !strings.HasPrefix(target, "../") {
		errs = append(errs, field.Invalid(p, target, "must not start with '..'"))
	}
	return errs
}

// resourceRequirements checks names, non-negative quantities and requests <= limits.
func resourceRequirements(r *corev1.ResourceRequirements, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	limPath, reqPath := p.Child("limits"), p.Child("requests")
	for name, q := range r.Limits {
		fp := limPath.Key(string(name))
		errs = append(errs, containerResourceName(name, fp)...)
		errs = append(errs, resourceQuantity(name, q, fp)...)
	}
	for name, q := range r.Requests {
		fp := reqPath.Key(string(name))
		errs = append(errs, containerResourceName(name, fp)...)
		errs = append(errs, resourceQuantity(name, q, fp)...)
		limit, ok := r.Limits[name]
		switch {
		case ok && q.Cmp(limit) != 0 && !overcommitAllowed(name):
			errs = append(errs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be equal to %s limit of %s", name, limit.String())))
		case ok && q.Cmp(limit) > 0:
			errs = append(errs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit.String())))
		case !ok && !overcommitAllowed(name):
			errs = append(errs, field.Required(limPath, "Limit must be set for non overcommitable resources"))
		}
	}
	return errs
}

var standardContainerResources = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage}

// nativeResource: unprefixed or kubernetes.io-prefixed names belong to Kubernetes.
func nativeResource(name corev1.ResourceName) bool {
	s := string(name)
	return !strings.Contains(s, "/") || strings.Contains(s, corev1.ResourceDefaultNamespacePrefix)
}

func hugePages(name corev1.ResourceName) bool {
	return strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

// overcommitAllowed: only native, non-hugepage resources may request below limit.
func overcommitAllowed(name corev1.ResourceName) bool {
	return nativeResource(name) && !hugePages(name)
}

func containerResourceName(name corev1.ResourceName, p *field.Path) field.ErrorList {
	s := string(name)
	errs := qualifiedName(s, p)
	if len(errs) > 0 {
		return errs
	}
	if nativeResource(name) && !setHas(standardContainerResources, name) && !hugePages(name) {
		return field.ErrorList{field.Invalid(p, s, "must be a standard resource for containers")}
	}
	return nil
}

func resourceQuantity(name corev1.ResourceName, q resource.Quantity, p *field.Path) field.ErrorList {
	errs := nonNegativeQuantity(q, p)
	// Extended resources are counted, never divided.
	if !nativeResource(name) && q.MilliValue()%1000 != 0 {
		errs = append(errs, field.Invalid(p, q.String(), "must be an integer"))
	}
	return errs
}

func probe(pr *corev1.Probe, p *field.Path) field.ErrorList {
	if pr == nil {
		return nil
	}
	h := pr.ProbeHandler
	errs := handler(p, []handlerField{{h.Exec != nil, "exec"}, {h.HTTPGet != nil, "httpGet"},
		{h.TCPSocket != nil, "tcpSocket"}, {h.GRPC != nil, "grpc"}})
	errs = append(errs, actions(h.Exec, h.HTTPGet, h.TCPSocket, p)...)
	if h.GRPC != nil {
		errs = append(errs, invalidEach(p.Child("grpc", "port"), h.GRPC.Port, validation.IsValidPortNum(int(h.GRPC.Port)))...)
	}
	errs = append(errs, nonNegative(int64(pr.InitialDelaySeconds), p.Child("initialDelaySeconds"))...)
	errs = append(errs, nonNegative(int64(pr.TimeoutSeconds), p.Child("timeoutSeconds"))...)
	errs = append(errs, nonNegative(int64(pr.PeriodSeconds), p.Child("periodSeconds"))...)
	errs = append(errs, nonNegative(int64(pr.SuccessThreshold), p.Child("successThreshold"))...)
	errs = append(errs, nonNegative(int64(pr.FailureThreshold), p.Child("failureThreshold"))...)
	if pr.TerminationGracePeriodSeconds != nil && *pr.TerminationGracePeriodSeconds <= 0 {
		errs = append(errs, field.Invalid(p.Child("terminationGracePeriodSeconds"), *pr.TerminationGracePeriodSeconds, "must be greater than 0"))
	}
	return errs
}

func lifecycleHandler(h *corev1.LifecycleHandler, p *field.Path) field.ErrorList {
	errs := handler(p, []handlerField{{h.Exec != nil, "exec"}, {h.HTTPGet != nil, "httpGet"},
		{h.TCPSocket != nil, "tcpSocket"}, {h.Sleep != nil, "sleep"}})
	errs = append(errs, actions(h.Exec, h.HTTPGet, h.TCPSocket, p)...)
	if h.Sleep != nil && h.Sleep.Seconds < 0 {
		errs = append(errs, field.Invalid(p.Child("sleep", "seconds"), h.Sleep.Seconds, "must be non-negative"))
	}
	return errs
}

type handlerField struct {
	set  bool
	name string
}

// handler enforces that exactly one handler type of a probe or hook is set.
func handler(p *field.Path, fields []handlerField) field.ErrorList {
	var errs field.ErrorList
	n := 0
	for _, f := range fields {
		if !f.set {
			continue
		}
		if n > 0 {
			errs = append(errs, field.Forbidden(p.Child(f.name), "may not specify more than 1 handler type"))
		}
		n++
	}
	if n == 0 {
		errs = append(errs, field.Required(p, "must specify a handler type"))
	}
	return errs
}

func actions(exec *corev1.ExecAction, get *corev1.HTTPGetAction, tcp *corev1.TCPSocketAction, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if exec != nil && len(exec.Command) == 0 {
		errs = append(errs, field.Required(p.Child("exec", "command"), ""))
	}
	if get != nil {
		gp := p.Child("httpGet")
		if get.Path == "" {
			errs = append(errs, field.Required(gp.Child("path"), ""))
		}
		errs = append(errs, portNumOrName(get.Port, gp.Child("port"))...)
		errs = append(errs, enum(get.Scheme, uriSchemes, gp.Child("scheme"))...)
		for i, h := range get.HTTPHeaders {
			errs = append(errs, invalidEach(gp.Child("httpHeaders").Index(i).Child("name"), h.Name, validation.IsHTTPHeaderName(h.Name))...)
		}
	}
	if tcp != nil {
		errs = append(errs, portNumOrName(tcp.Port, p.Child("tcpSocket", "port"))...)
	}
	return errs
}

func podSecurityContext(sc *corev1.PodSecurityContext, p *field.Path) field.ErrorList {
	if sc == nil {
		return nil
	}
	var errs field.ErrorList
	errs = append(errs, userID(sc.RunAsUser, p.Child("runAsUser"))...)
	errs = append(errs, groupID(sc.RunAsGroup, p.Child("runAsGroup"))...)
	errs = append(errs, groupID(sc.FSGroup, p.Child("fsGroup"))...)
	for i := range sc.SupplementalGroups {
		errs = append(errs, groupID(&sc.SupplementalGroups[i], p.Child("supplementalGroups").Index(i))...)
	}
	for i, s := range sc.Sysctls {
		if s.Name == "" {
			errs = append(errs, field.Required(p.Child("sysctls").Index(i).Child("name"), ""))
		}
	}
	return errs
}

func containerSecurityContext(sc *corev1.SecurityContext, p *field.Path) field.ErrorList {
	if sc == nil {
		return nil
	}
	var errs field.ErrorList
	errs = append(errs, userID(sc.RunAsUser, p.Child("runAsUser"))...)
	errs = append(errs, groupID(sc.RunAsGroup, p.Child("runAsGroup"))...)
	if sc.Privileged != nil && *sc.Privileged && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		errs = append(errs, field.Invalid(p, sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
	}
	return errs
}

func userID(id *int64, p *field.Path) field.ErrorList {
	if id == nil {
		return nil
	}
	return invalidEach(p, *id, validation.IsValidUserID(*id))
}

func groupID(id *int64, p *field.Path) field.ErrorList {
	if id == nil {
		return nil
	}
	return invalidEach(p, *id, validation.IsValidGroupID(*id))
}

func tolerations(ts []corev1.Toleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range ts {
		ip := p.Index(i)
		if t.Key != "" {
			errs = append(errs, metav1validation.ValidateLabelName(t.Key, ip.Child("key"))...)
		}
		if t.Key == "" && t.Operator != corev1.TolerationOpExists {
			errs = append(errs, field.Invalid(ip.Child("operator"), t.Operator,
				"operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(ip.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			if msgs := validation.IsValidLabelValue(t.Value); len(msgs) > 0 {
				errs = append(errs, field.Invalid(ip.Child("operator"), t.Value, strings.Join(msgs, ";")))
			}
		case corev1.TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(ip.Child("operator"), t, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			errs = append(errs, field.NotSupported(ip.Child("operator"), t.Operator,
				[]corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists}))
		}
		if t.Effect != "" {
			errs = append(errs, enum(t.Effect, taintEffects, ip.Child("effect"))...)
		}
	}
	return errs
}

func schedulingGates(gates []corev1.PodSchedulingGate, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, g := range gates {
		errs = append(errs, qualifiedName(g.Name, p.Index(i).Child("name"))...)
		if seen[g.Name] {
			errs = append(errs, field.Duplicate(p.Index(i), g.Name))
		}
		seen[g.Name] = true
	}
	return errs
}

func topologySpread(cs []corev1.TopologySpreadConstraint, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	type key struct {
		topo string
		when corev1.UnsatisfiableConstraintAction
	}
	seen := map[key]bool{}
	for i, c := range cs {
		ip := p.Index(i)
		if c.MaxSkew <= 0 {
			errs = append(errs, field.Invalid(ip.Child("maxSkew"), c.MaxSkew, "must be greater than zero"))
		}
		if c.TopologyKey == "" {
			errs = append(errs, field.Required(ip.Child("topologyKey"), "can not be empty"))
		} else {
			errs = append(errs, qualifiedName(c.TopologyKey, ip.Child("topologyKey"))...)
		}
		errs = append(errs, enum(c.WhenUnsatisfiable, []corev1.UnsatisfiableConstraintAction{corev1.DoNotSchedule, corev1.ScheduleAnyway},
			ip.Child("whenUnsatisfiable"))...)
		if c.MinDomains != nil {
			if *c.MinDomains <= 0 {
				errs = append(errs, field.Invalid(ip.Child("minDomains"), *c.MinDomains, "must be greater than 0"))
			} else if c.WhenUnsatisfiable != corev1.DoNotSchedule {
				errs = append(errs, field.Invalid(ip.Child("minDomains"), *c.MinDomains,
					fmt.Sprintf("can only use minDomains if whenUnsatisfiable=%s, not %s", corev1.DoNotSchedule, c.WhenUnsatisfiable)))
			}
		}
		k := key{c.TopologyKey, c.WhenUnsatisfiable}
		if seen[k] {
			errs = append(errs, field.Duplicate(ip, fmt.Sprintf("{%v, %v}", c.TopologyKey, c.WhenUnsatisfiable)))
		}
		seen[k] = true
		if c.LabelSelector != nil {
			errs = append(errs, metav1validation.ValidateLabelSelector(c.LabelSelector, metav1validation.LabelSelectorValidationOptions{}, ip.Child("labelSelector"))...)
		}
	}
	return errs
}

// podVolumes validates the volumes and returns the set of their names for the
// volumeMounts check.
func podVolumes(vols []corev1.Volume, p *field.Path) (map[string]bool, field.ErrorList) {
	var errs field.ErrorList
	names := map[string]bool{}
	for i := range vols {
		v := &vols[i]
		ip := p.Index(i)
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(ip.Child("name"), ""))
		case names[v.Name]:
			errs = append(errs, field.Duplicate(ip.Child("name"), v.Name))
		default:
			errs = append(errs, dns1123Label(v.Name, ip.Child("name"))...)
		}
		if v.Name != "" {
			names[v.Name] = true
		}
		errs = append(errs, volumeSource(&v.VolumeSource, ip)...)
	}
	return names, errs
}

// volumeSource enforces exactly one source and checks the common ones in depth.
func volumeSource(s *corev1.VolumeSource, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	set := defaults.VolumeSourceNames(s)
	if len(set) == 0 {
		return field.ErrorList{field.Required(p, "must specify a volume type")}
	}
	for _, extra := range set[1:] {
		errs = append(errs, field.Forbidden(p.Child(extra), "may not specify more than 1 volume type"))
	}
	// Only the first source counts, like upstream, which stops looking at the others.
	switch set[0] {
	case "emptyDir":
		if l := s.EmptyDir.SizeLimit; l != nil && l.Cmp(resource.Quantity{}) < 0 {
			errs = append(errs, field.Forbidden(p.Child("emptyDir", "sizeLimit"), "SizeLimit field must be a valid resource quantity"))
		}
		if s.EmptyDir.Medium != "" && s.EmptyDir.Medium != corev1.StorageMediumMemory && !strings.HasPrefix(string(s.EmptyDir.Medium), "HugePages") {
			errs = append(errs, field.NotSupported(p.Child("emptyDir", "medium"), s.EmptyDir.Medium,
				[]corev1.StorageMedium{corev1.StorageMediumDefault, corev1.StorageMediumMemory, corev1.StorageMediumHugePages}))
		}
	case "hostPath":
		hp := p.Child("hostPath")
		if s.HostPath.Path == "" {
			errs = append(errs, field.Required(hp.Child("path"), ""))
		} else {
			errs = append(errs, noBacksteps(s.HostPath.Path, hp.Child("path"))...)
		}
		if s.HostPath.Type != nil && !setHas(hostPathTypes, *s.HostPath.Type) {
			errs = append(errs, field.NotSupported(hp.Child("type"), *s.HostPath.Type, hostPathTypes))
		}
	case "secret":
		sp := p.Child("secret")
		if s.Secret.SecretName == "" {
			errs = append(errs, field.Required(sp.Child("secretName"), ""))
		}
		errs = append(errs, fileMode(s.Secret.DefaultMode, sp.Child("defaultMode"))...)
		errs = append(errs, keyToPaths(s.Secret.Items, sp.Child("items"))...)
	case "configMap":
		cp := p.Child("configMap")
		if s.ConfigMap.Name == "" {
			errs = append(errs, field.Required(cp.Child("name"), ""))
		}
		errs = append(errs, fileMode(s.ConfigMap.DefaultMode, cp.Child("defaultMode"))...)
		errs = append(errs, keyToPaths(s.ConfigMap.Items, cp.Child("items"))...)
	case "persistentVolumeClaim":
		if s.PersistentVolumeClaim.ClaimName == "" {
			errs = append(errs, field.Required(p.Child("persistentVolumeClaim", "claimName"), ""))
		}
	case "downwardAPI":
		dp := p.Child("downwardAPI")
		errs = append(errs, fileMode(s.DownwardAPI.DefaultMode, dp.Child("defaultMode"))...)
		errs = append(errs, downwardAPIFiles(s.DownwardAPI.Items, dp.Child("items"))...)
	case "projected":
		errs = append(errs, projected(s.Projected, p.Child("projected"))...)
	case "nfs":
		if s.NFS.Server == "" {
			errs = append(errs, field.Required(p.Child("nfs", "server"), ""))
		}
		if s.NFS.Path == "" {
			errs = append(errs, field.Required(p.Child("nfs", "path"), ""))
		} else if !path.IsAbs(s.NFS.Path) {
			errs = append(errs, field.Invalid(p.Child("nfs", "path"), s.NFS.Path, "must be an absolute path"))
		}
	case "csi":
		if s.CSI.Driver == "" {
			errs = append(errs, field.Required(p.Child("csi", "driver"), ""))
		}
	case "ephemeral":
		if s.Ephemeral.VolumeClaimTemplate == nil {
			errs = append(errs, field.Required(p.Child("ephemeral", "volumeClaimTemplate"), ""))
		}
	case "image":
		if s.Image.Reference == "" {
			errs = append(errs, field.Required(p.Child("image", "reference"), ""))
		}
	}
	return errs
}

func fileMode(mode *int32, p *field.Path) field.ErrorList {
	if mode != nil && (*mode > 0777 || *mode < 0) {
		return field.ErrorList{field.Invalid(p, *mode, fileModeErrorMsg)}
	}
	return nil
}

func keyToPaths(items []corev1.KeyToPath, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, kp := range items {
		ip := p.Index(i)
		if kp.Key == "" {
			errs = append(errs, field.Required(ip.Child("key"), ""))
		}
		if kp.Path == "" {
			errs = append(errs, field.Required(ip.Child("path"), ""))
		}
		errs = append(errs, localNonReservedPath(kp.Path, ip.Child("path"))...)
		errs = append(errs, fileMode(kp.Mode, ip.Child("mode"))...)
	}
	return errs
}

var downwardVolumeFieldPaths = []string{"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"}

func downwardAPIFiles(items []corev1.DownwardAPIVolumeFile, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, f := range items {
		ip := p.Index(i)
		if f.Path == "" {
			errs = append(errs, field.Required(ip.Child("path"), ""))
		}
		errs = append(errs, localNonReservedPath(f.Path, ip.Child("path"))...)
		errs = append(errs, fileMode(f.Mode, ip.Child("mode"))...)
		switch {
		case f.FieldRef != nil && f.ResourceFieldRef != nil:
			errs = append(errs, field.Invalid(ip, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		case f.FieldRef != nil:
			errs = append(errs, objectFieldSelector(f.FieldRef, downwardVolumeFieldPaths, ip.Child("fieldRef"))...)
		case f.ResourceFieldRef != nil:
			errs = append(errs, resourceFieldSelector(f.ResourceFieldRef, true, ip.Child("resourceFieldRef"))...)
		default:
			errs = append(errs, field.Required(ip, "one of fieldRef and resourceFieldRef is required"))
		}
	}
	return errs
}

func projected(pv *corev1.ProjectedVolumeSource, p *field.Path) field.ErrorList {
	errs := fileMode(pv.DefaultMode, p.Child("defaultMode"))
	for i, s := range pv.Sources {
		sp := p.Child("sources").Index(i)
		n := 0
		for _, f := range []handlerField{{s.Secret != nil, "secret"}, {s.ConfigMap != nil, "configMap"},
			{s.DownwardAPI != nil, "downwardAPI"}, {s.ServiceAccountToken != nil, "serviceAccountToken"},
			{s.ClusterTrustBundle != nil, "clusterTrustBundle"}, {s.PodCertificate != nil, "podCertificate"}} {
			if !f.set {
				continue
			}
			if n > 0 {
				errs = append(errs, field.Forbidden(sp.Child(f.name), "may not specify more than 1 volume type per source"))
			}
			n++
		}
		if n == 0 {
			errs = append(errs, field.Required(sp, "must specify exactly 1 volume type per source"))
		}
		if s.Secret != nil {
			errs = append(errs, keyToPaths(s.Secret.Items, sp.Child("secret", "items"))...)
		}
		if s.ConfigMap != nil {
			errs = append(errs, keyToPaths(s.ConfigMap.Items, sp.Child("configMap", "items"))...)
		}
		if s.DownwardAPI != nil {
			errs = append(errs, downwardAPIFiles(s.DownwardAPI.Items, sp.Child("downwardAPI", "items"))...)
		}
		if t := s.ServiceAccountToken; t != nil {
			tp := sp.Child("serviceAccountToken")
			if t.ExpirationSeconds != nil && *t.ExpirationSeconds < 600 {
				errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
			}
			if t.Path == "" {
				errs = append(errs, field.Required(tp.Child("path"), ""))
			}
		}
	}
	return errs
}
