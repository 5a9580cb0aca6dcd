package defaults

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Well-known values of the system priority classes, resolved here because the
// Priority admission step would otherwise need a lookup for them.
var systemPriorities = map[string]int32{
	"system-node-critical":    2000001000,
	"system-cluster-critical": 2000000000,
}

// Pod defaults a Pod: the PodSpec defaults shared with templates, plus the
// Pod-only ones (requests from limits, service links, host-network ports, and the
// priority fields the Priority admission plugin fills).
func Pod(pod *corev1.Pod) {
	PodSpec(&pod.Spec)
	spec := &pod.Spec
	for i := range spec.Containers {
		requestsFromLimits(&spec.Containers[i].Resources)
	}
	for i := range spec.InitContainers {
		requestsFromLimits(&spec.InitContainers[i].Resources)
	}
	if spec.EnableServiceLinks == nil {
		spec.EnableServiceLinks = ptrTo(corev1.DefaultEnableServiceLinks)
	}
	if spec.HostNetwork {
		hostNetworkPorts(spec.Containers)
		hostNetworkPorts(spec.InitContainers)
	}
	if spec.Priority == nil {
		if v, ok := systemPriorities[spec.PriorityClassName]; ok {
			spec.Priority = ptrTo(v)
		} else if spec.PriorityClassName == "" {
			spec.Priority = ptrTo(int32(0))
		}
		// A user class's value needs the PriorityClass object; the API server resolves it.
	}
	if spec.PreemptionPolicy == nil {
		spec.PreemptionPolicy = ptrTo(corev1.PreemptLowerPriority)
	}
}

// PodTemplateSpec defaults the pod template embedded in a workload object.
func PodTemplateSpec(t *corev1.PodTemplateSpec) {
	if t != nil {
		PodSpec(&t.Spec)
	}
}

// PodSpec applies the defaults every PodSpec receives, whether it belongs to a Pod
// or to a workload's template.
func PodSpec(spec *corev1.PodSpec) {
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	if spec.TerminationGracePeriodSeconds == nil {
		spec.TerminationGracePeriodSeconds = ptrTo(int64(corev1.DefaultTerminationGracePeriodSeconds))
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = corev1.DefaultSchedulerName
	}
	for i := range spec.Volumes {
		Volume(&spec.Volumes[i])
	}
	for i := range spec.InitContainers {
		Container(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		Container(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		c := (*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon)
		Container(c)
	}
	resourceList(spec.Overhead)
	if spec.Resources != nil {
		resourceList(spec.Resources.Limits)
		resourceList(spec.Resources.Requests)
	}
}

// Container defaults one container (regular, init or ephemeral).
func Container(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = pullPolicyFor(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil {
			fieldSelector(vf.FieldRef)
		}
	}
	resourceList(c.Resources.Limits)
	resourceList(c.Resources.Requests)
	probe(c.LivenessProbe)
	probe(c.ReadinessProbe)
	probe(c.StartupProbe)
	if c.Lifecycle != nil {
		lifecycleHandler(c.Lifecycle.PostStart)
		lifecycleHandler(c.Lifecycle.PreStop)
	}
}

// pullPolicyFor picks Always for an untagged or :latest image (its content can move
// under the same name) and IfNotPresent otherwise; a digest pins the content.
func pullPolicyFor(image string) corev1.PullPolicy {
	if imageTag(image) == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// imageTag returns the tag of an image reference: "latest" when neither a tag nor a
// digest is given, "" when only a digest is.
func imageTag(image string) string {
	name, digest, hasDigest := strings.Cut(image, "@")
	_ = digest
	// The tag follows the last ':' of the final path component (a registry host may
	// carry a ':port').
	last := name
	if i := strings.LastIndex(name, "/"); i >= 0 {
		last = name[i+1:]
	}
	if i := strings.LastIndex(last, ":"); i >= 0 {
		return last[i+1:]
	}
	if hasDigest {
		return ""
	}
	return "latest"
}

func probe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	httpGet(p.HTTPGet)
	if p.GRPC != nil && p.GRPC.Service == nil {
		p.GRPC.Service = ptrTo("")
	}
}

func lifecycleHandler(h *corev1.LifecycleHandler) {
	if h != nil {
		httpGet(h.HTTPGet)
	}
}

func httpGet(a *corev1.HTTPGetAction) {
	if a == nil {
		return
	}
	if a.Path == "" {
		a.Path = "/"
	}
	if a.Scheme == "" {
		a.Scheme = corev1.URISchemeHTTP
	}
}

func fieldSelector(f *corev1.ObjectFieldSelector) {
	if f.APIVersion == "" {
		f.APIVersion = "v1"
	}
}

// Volume defaults one pod volume; a volume without any source becomes an emptyDir.
func Volume(v *corev1.Volume) {
	if !hasVolumeSource(&v.VolumeSource) {
		v.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	src := &v.VolumeSource
	if src.HostPath != nil && src.HostPath.Type == nil {
		src.HostPath.Type = ptrTo(corev1.HostPathUnset)
	}
	if src.Secret != nil && src.Secret.DefaultMode == nil {
		src.Secret.DefaultMode = ptrTo(corev1.SecretVolumeSourceDefaultMode)
	}
	if src.ConfigMap != nil && src.ConfigMap.DefaultMode == nil {
		src.ConfigMap.DefaultMode = ptrTo(corev1.ConfigMapVolumeSourceDefaultMode)
	}
	if src.DownwardAPI != nil {
		if src.DownwardAPI.DefaultMode == nil {
			src.DownwardAPI.DefaultMode = ptrTo(corev1.DownwardAPIVolumeSourceDefaultMode)
		}
		downwardAPIItems(src.DownwardAPI.Items)
	}
	if src.Projected != nil {
		projected(src.Projected)
	}
	if src.Ephemeral != nil && src.Ephemeral.VolumeClaimTemplate != nil {
		pvcSpec(&src.Ephemeral.VolumeClaimTemplate.Spec)
	}
	if src.Image != nil && src.Image.PullPolicy == "" {
		src.Image.PullPolicy = pullPolicyFor(src.Image.Reference)
	}
	if src.ISCSI != nil && src.ISCSI.ISCSIInterface == "" {
		src.ISCSI.ISCSIInterface = "default"
	}
}

func projected(p *corev1.ProjectedVolumeSource) {
	if p.DefaultMode == nil {
		p.DefaultMode = ptrTo(corev1.ProjectedVolumeSourceDefaultMode)
	}
	for i := range p.Sources {
		s := &p.Sources[i]
		if s.ServiceAccountToken != nil && s.ServiceAccountToken.ExpirationSeconds == nil {
			s.ServiceAccountToken.ExpirationSeconds = ptrTo(int64(3600))
		}
		if s.DownwardAPI != nil {
			downwardAPIItems(s.DownwardAPI.Items)
		}
	}
}

func downwardAPIItems(items []corev1.DownwardAPIVolumeFile) {
	for i := range items {
		if items[i].FieldRef != nil {
			fieldSelector(items[i].FieldRef)
		}
	}
}

// hasVolumeSource reports whether any source of the union is set.
func hasVolumeSource(s *corev1.VolumeSource) bool {
	return len(volumeSourceNames(s)) > 0
}

// volumeSourceNames lists the JSON names of the sources set in s, in upstream's
// checking order (shared with validation through VolumeSourceNames).
func volumeSourceNames(s *corev1.VolumeSource) []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(s.EmptyDir != nil, "emptyDir")
	add(s.HostPath != nil, "hostPath")
	add(s.GitRepo != nil, "gitRepo")
	add(s.GCEPersistentDisk != nil, "gcePersistentDisk")
	add(s.AWSElasticBlockStore != nil, "awsElasticBlockStore")
	add(s.Secret != nil, "secret")
	add(s.NFS != nil, "nfs")
	add(s.ISCSI != nil, "iscsi")
	add(s.Glusterfs != nil, "glusterfs")
	add(s.Flocker != nil, "flocker")
	add(s.PersistentVolumeClaim != nil, "persistentVolumeClaim")
	add(s.RBD != nil, "rbd")
	add(s.Cinder != nil, "cinder")
	add(s.CephFS != nil, "cephfs")
	add(s.Quobyte != nil, "quobyte")
	add(s.DownwardAPI != nil, "downwardAPI")
	add(s.FC != nil, "fc")
	add(s.FlexVolume != nil, "flexVolume")
	add(s.ConfigMap != nil, "configMap")
	add(s.AzureFile != nil, "azureFile")
	add(s.VsphereVolume != nil, "vsphereVolume")
	add(s.PhotonPersistentDisk != nil, "photonPersistentDisk")
	add(s.PortworxVolume != nil, "portworxVolume")
	add(s.AzureDisk != nil, "azureDisk")
	add(s.StorageOS != nil, "storageos")
	add(s.Projected != nil, "projected")
	add(s.ScaleIO != nil, "scaleIO")
	add(s.CSI != nil, "csi")
	add(s.Ephemeral != nil, "ephemeral")
	add(s.Image != nil, "image")
	return out
}

// VolumeSourceNames lists the JSON names of the sources set in s, in the order
// Kubernetes checks them.
func VolumeSourceNames(s *corev1.VolumeSource) []string { return volumeSourceNames(s) }

// requestsFromLimits copies each limit into requests when that request is unset,
// so a container that only states limits is scheduled by them.
func requestsFromLimits(r *corev1.ResourceRequirements) {
	if r.Limits == nil {
		return
	}
	if r.Requests == nil {
		r.Requests = corev1.ResourceList{}
	}
	for name, q := range r.Limits {
		if _, ok := r.Requests[name]; !ok {
			r.Requests[name] = q.DeepCopy()
		}
	}
}

// resourceList rounds quantities up to milli precision, as upstream stores them.
func resourceList(l corev1.ResourceList) {
	for name, q := range l {
		q.RoundUp(resource.Milli)
		l[name] = q
	}
}

func hostNetworkPorts(cs []corev1.Container) {
	for i := range cs {
		for j := range cs[i].Ports {
			if cs[i].Ports[j].HostPort == 0 {
				cs[i].Ports[j].HostPort = cs[i].Ports[j].ContainerPort
			}
		}
	}
}

// DefaultTolerations adds the NoExecute tolerations for not-ready and unreachable
// nodes (300s each) unless the pod already tolerates those taints, mirroring the
// DefaultTolerationSeconds admission plugin: a pod survives a short node outage
// before being evicted.
func DefaultTolerations(pod *corev1.Pod) {
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		if toleratesNoExecute(pod.Spec.Tolerations, key) {
			continue
		}
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
			Key:               key,
			Operator:          corev1.TolerationOpExists,
			Effect:            corev1.TaintEffectNoExecute,
			TolerationSeconds: ptrTo(int64(300)),
		})
	}
}

// toleratesNoExecute reports whether some toleration already matches a NoExecute
// taint with the given key (any value).
func toleratesNoExecute(ts []corev1.Toleration, key string) bool {
	for _, t := range ts {
		if t.Effect != "" && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if t.Key == key || (t.Key == "" && t.Operator == corev1.TolerationOpExists) {
			return true
		}
	}
	return false
}
