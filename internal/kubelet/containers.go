package kubelet

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// waitInfo is why a container (or the whole pod) is not running yet.
type waitInfo struct{ reason, message string }

func (w *worker) setWaiting(name, reason, msg string) {
	if w.waiting == nil {
		w.waiting = map[string]waitInfo{}
	}
	if reason == "" {
		delete(w.waiting, name)
		return
	}
	w.waiting[name] = waitInfo{reason, msg}
}

func (w *worker) setPodWaiting(reason, msg string) { w.podWaiting = waitInfo{reason, msg} }

func (w *worker) logDir() string {
	p := w.pod
	return filepath.Join(w.k.cfg.RootDir, "logs", p.Namespace+"_"+p.Name+"_"+string(p.UID))
}

func (w *worker) podDir() string {
	return filepath.Join(w.k.cfg.RootDir, "pods", string(w.pod.UID))
}

// sandboxConfig describes the pod's sandbox: identity, hostname, log directory,
// host ports, namespaces and cgroup parent.
func (w *worker) sandboxConfig(attempt uint32) *runtimeapi.PodSandboxConfig {
	p := w.pod
	labels := map[string]string{labelPodName: p.Name, labelPodNamespace: p.Namespace, labelPodUID: string(p.UID)}
	for k, v := range p.Labels {
		if _, reserved := labels[k]; !reserved {
			labels[k] = v
		}
	}
	hostname, _ := w.k.podHostname(p)
	if p.Spec.HostNetwork {
		hostname = "" // the node's own hostname
	}
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: p.Name, Namespace: p.Namespace, Uid: string(p.UID), Attempt: attempt},
		Hostname:     hostname,
		LogDirectory: w.logDir(),
		Labels:       labels,
		Annotations:  p.Annotations,
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: cgroupParent(p),
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: namespaceOptions(p),
				Privileged:       anyPrivileged(p),
			},
		},
	}
	if sc := p.Spec.SecurityContext; sc != nil {
		lsc := cfg.Linux.SecurityContext
		if sc.RunAsUser != nil {
			lsc.RunAsUser = &runtimeapi.Int64Value{Value: *sc.RunAsUser}
		}
		if sc.RunAsGroup != nil {
			lsc.RunAsGroup = &runtimeapi.Int64Value{Value: *sc.RunAsGroup}
		}
		lsc.SupplementalGroups = append(lsc.SupplementalGroups, sc.SupplementalGroups...)
		if sc.FSGroup != nil {
			lsc.SupplementalGroups = append(lsc.SupplementalGroups, *sc.FSGroup)
		}
		sysctls := map[string]string{}
		for _, s := range sc.Sysctls {
			sysctls[s.Name] = s.Value
		}
		cfg.Linux.Sysctls = sysctls
	}
	cfg.DnsConfig = w.k.dnsConfig(p)
	for _, c := range p.Spec.Containers {
		for _, port := range c.Ports {
			if port.HostPort == 0 {
				continue
			}
			cfg.PortMappings = append(cfg.PortMappings, &runtimeapi.PortMapping{
				Protocol: protocol(port.Protocol), ContainerPort: port.ContainerPort, HostPort: port.HostPort, HostIp: port.HostIP})
		}
	}
	return cfg
}

func protocol(p corev1.Protocol) runtimeapi.Protocol {
	switch p {
	case corev1.ProtocolUDP:
		return runtimeapi.Protocol_UDP
	case corev1.ProtocolSCTP:
		return runtimeapi.Protocol_SCTP
	}
	return runtimeapi.Protocol_TCP
}

// cgroupParent puts pods under /kubepods/<qos>/pod<uid> (cgroupfs layout), as upstream.
func cgroupParent(p *corev1.Pod) string {
	switch qosClass(p) {
	case corev1.PodQOSGuaranteed:
		return "/kubepods/pod" + string(p.UID)
	case corev1.PodQOSBestEffort:
		return "/kubepods/besteffort/pod" + string(p.UID)
	}
	return "/kubepods/burstable/pod" + string(p.UID)
}

func namespaceOptions(p *corev1.Pod) *runtimeapi.NamespaceOption {
	ns := &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_CONTAINER, Ipc: runtimeapi.NamespaceMode_POD}
	if p.Spec.HostNetwork {
		ns.Network = runtimeapi.NamespaceMode_NODE
	}
	if p.Spec.HostPID {
		ns.Pid = runtimeapi.NamespaceMode_NODE
	} else if p.Spec.ShareProcessNamespace != nil && *p.Spec.ShareProcessNamespace {
		ns.Pid = runtimeapi.NamespaceMode_POD
	}
	if p.Spec.HostIPC {
		ns.Ipc = runtimeapi.NamespaceMode_NODE
	}
	return ns
}

func anyPrivileged(p *corev1.Pod) bool {
	for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
		if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
			return true
		}
	}
	return false
}

// containerConfig is the CRI config of one attempt of c: command, env, mounts,
// resources and security context.
func (w *worker) containerConfig(ctx context.Context, c *corev1.Container, attempt uint32, image string, obs *observed) (*runtimeapi.ContainerConfig, error) {
	env, err := w.envFor(ctx, c, obs)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for _, kv := range env {
		vars[kv.Key] = string(kv.Value)
	}
	mounts, err := w.mountsFor(c)
	if err != nil {
		return nil, err
	}
	hosts, err := w.etcHostsMount(c, obs)
	if err != nil {
		return nil, err
	}
	if hosts != nil {
		mounts = append(mounts, hosts)
	}
	return &runtimeapi.ContainerConfig{
		Metadata:   &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: attempt},
		Image:      &runtimeapi.ImageSpec{Image: image, UserSpecifiedImage: c.Image},
		Command:    expandAll(c.Command, vars),
		Args:       expandAll(c.Args, vars),
		WorkingDir: c.WorkingDir,
		Envs:       env,
		Mounts:     mounts,
		Labels: map[string]string{labelPodName: w.pod.Name, labelPodNamespace: w.pod.Namespace,
			labelPodUID: string(w.pod.UID), labelContainerName: c.Name},
		Annotations: map[string]string{"io.kubernetes.container.restartCount": strconv.Itoa(int(attempt))},
		LogPath:     filepath.Join(c.Name, strconv.Itoa(int(attempt))+".log"),
		Stdin:       c.Stdin,
		StdinOnce:   c.StdinOnce,
		Tty:         c.TTY,
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources:       w.resourcesFor(c),
			SecurityContext: w.securityFor(c),
		},
	}, nil
}

// resourcesFor maps requests and limits to cgroup settings the upstream way:
// cpu.shares from the request, CFS quota from the limit, the memory limit, and an
// OOM score that protects Guaranteed pods and sacrifices BestEffort ones first.
func (w *worker) resourcesFor(c *corev1.Container) *runtimeapi.LinuxContainerResources {
	const period = 100000
	r := &runtimeapi.LinuxContainerResources{CpuShares: 2}
	if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
		r.CpuShares = max(2, q.MilliValue()*1024/1000)
	} else if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		r.CpuShares = max(2, q.MilliValue()*1024/1000)
	}
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		r.CpuPeriod = period
		r.CpuQuota = max(1000, q.MilliValue()*period/1000)
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		r.MemoryLimitInBytes = q.Value()
	}
	switch qosClass(w.pod) {
	case corev1.PodQOSGuaranteed:
		r.OomScoreAdj = -997
	case corev1.PodQOSBestEffort:
		r.OomScoreAdj = 1000
	default:
		adj := int64(1000)
		if req, ok := c.Resources.Requests[corev1.ResourceMemory]; ok && w.k.memoryCapacity() > 0 {
			adj = 1000 - 1000*req.Value()/w.k.memoryCapacity()
		}
		r.OomScoreAdj = min(999, max(2, adj))
	}
	return r
}

func (w *worker) securityFor(c *corev1.Container) *runtimeapi.LinuxContainerSecurityContext {
	p := w.pod
	sc := &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: namespaceOptions(p)}
	if psc := p.Spec.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		sc.SupplementalGroups = append(sc.SupplementalGroups, psc.SupplementalGroups...)
		if psc.FSGroup != nil {
			sc.SupplementalGroups = append(sc.SupplementalGroups, *psc.FSGroup)
		}
	}
	csc := c.SecurityContext
	if csc == nil {
		return sc
	}
	if csc.RunAsUser != nil {
		sc.RunAsUser = &runtimeapi.Int64Value{Value: *csc.RunAsUser}
	}
	if csc.RunAsGroup != nil {
		sc.RunAsGroup = &runtimeapi.Int64Value{Value: *csc.RunAsGroup}
	}
	sc.Privileged = csc.Privileged != nil && *csc.Privileged
	sc.ReadonlyRootfs = csc.ReadOnlyRootFilesystem != nil && *csc.ReadOnlyRootFilesystem
	sc.NoNewPrivs = csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation
	if caps := csc.Capabilities; caps != nil {
		sc.Capabilities = &runtimeapi.Capability{}
		for _, a := range caps.Add {
			sc.Capabilities.AddCapabilities = append(sc.Capabilities.AddCapabilities, capName(a))
		}
		for _, d := range caps.Drop {
			sc.Capabilities.DropCapabilities = append(sc.Capabilities.DropCapabilities, capName(d))
		}
	}
	return sc
}

// capName accepts "NET_ADMIN" and "CAP_NET_ADMIN" (and "ALL") like upstream.
func capName(c corev1.Capability) string {
	s := strings.ToUpper(string(c))
	if s == "ALL" || strings.HasPrefix(s, "CAP_") {
		return s
	}
	return "CAP_" + s
}

func (w *worker) mountsFor(c *corev1.Container) ([]*runtimeapi.Mount, error) {
	var out []*runtimeapi.Mount
	if w.k.cfg.NoDisk {
		return nil, nil // nothing was materialized to mount
	}
	for _, m := range c.VolumeMounts {
		host, ok := w.volumes.path(m.Name)
		if !ok {
			return nil, fmt.Errorf("volume %q of volumeMount %q not found", m.Name, m.MountPath)
		}
		if m.SubPath != "" {
			if strings.Contains(m.SubPath, "..") || filepath.IsAbs(m.SubPath) {
				return nil, fmt.Errorf("invalid subPath %q", m.SubPath)
			}
			host = filepath.Join(host, m.SubPath)
		}
		out = append(out, &runtimeapi.Mount{ContainerPath: m.MountPath, HostPath: host, Readonly: m.ReadOnly})
	}
	return out, nil
}

// qosClass follows upstream: Guaranteed when every container sets equal cpu and
// memory requests and limits, BestEffort when none sets any, Burstable otherwise.
func qosClass(p *corev1.Pod) corev1.PodQOSClass {
	all := append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...)
	anySet, guaranteed := false, true
	for _, c := range all {
		if len(c.Resources.Requests) > 0 || len(c.Resources.Limits) > 0 {
			anySet = true
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			l, lok := c.Resources.Limits[r]
			q, qok := c.Resources.Requests[r]
			if !lok || (qok && q.Cmp(l) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !anySet:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// dnsConfig is the pod's resolv.conf as upstream builds it: ClusterFirst pods (and
// ClusterFirstWithHostNet host-network pods) get the cluster DNS, the cluster search
// domains and ndots:5; None takes spec.dnsConfig alone; other pods get the node's
// (nil: the runtime copies the host's). spec.dnsConfig is appended in every case.
func (k *Kubelet) dnsConfig(p *corev1.Pod) *runtimeapi.DNSConfig {
	var cfg *runtimeapi.DNSConfig
	policy := p.Spec.DNSPolicy
	if policy == "" {
		policy = corev1.DNSClusterFirst
	}
	clusterFirst := policy == corev1.DNSClusterFirstWithHostNet ||
		(policy == corev1.DNSClusterFirst && !p.Spec.HostNetwork)
	switch {
	case clusterFirst && len(k.cfg.ClusterDNS) > 0:
		d := k.cfg.ClusterDomain
		if d == "" {
			d = "cluster.local"
		}
		cfg = &runtimeapi.DNSConfig{Servers: append([]string(nil), k.cfg.ClusterDNS...),
			Searches: []string{p.Namespace + ".svc." + d, "svc." + d, d}, Options: []string{"ndots:5"}}
	case policy == corev1.DNSNone:
		cfg = &runtimeapi.DNSConfig{}
	}
	if p.Spec.DNSConfig == nil {
		return cfg
	}
	if cfg == nil {
		cfg = &runtimeapi.DNSConfig{}
	}
	cfg.Servers = append(cfg.Servers, p.Spec.DNSConfig.Nameservers...)
	cfg.Searches = append(cfg.Searches, p.Spec.DNSConfig.Searches...)
	for _, o := range p.Spec.DNSConfig.Options {
		opt := o.Name
		if o.Value != nil {
			opt += ":" + *o.Value
		}
		cfg.Options = append(cfg.Options, opt)
	}
	return cfg
}
