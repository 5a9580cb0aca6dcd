package kubelet

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// hostnameMaxLen is a DNS label's limit; the kernel's is 64 and runc refuses more.
const hostnameMaxLen = 63

// managedHostsHeader starts every /etc/hosts the kubelet writes; tools (and the
// conformance tests) recognise a kubelet-managed file by it.
const managedHostsHeader = "# Kubernetes-managed hosts file."

// podHostname is the pod's hostname (spec.hostname, else its name, cut to a DNS
// label's 63 characters without a trailing '-' or '.') and, with spec.subdomain,
// its domain <subdomain>.<namespace>.svc.<cluster domain>.
func (k *Kubelet) podHostname(p *corev1.Pod) (hostname, domain string) {
	hostname = p.Name
	if p.Spec.Hostname != "" {
		hostname = p.Spec.Hostname
	}
	if len(hostname) > hostnameMaxLen {
		hostname = strings.TrimRight(hostname[:hostnameMaxLen], "-.")
	}
	if p.Spec.Subdomain != "" {
		d := k.cfg.ClusterDomain
		if d == "" {
			d = "cluster.local"
		}
		domain = p.Spec.Subdomain + "." + p.Namespace + ".svc." + d
	}
	return hostname, domain
}

// etcHostsMount is the /etc/hosts the kubelet manages for the container: for pod
// networking, localhost, the pod's own name(s) at its IP and spec.hostAliases;
// for host networking, the node's file plus the aliases (none of it when there
// are no aliases: the runtime's copy of the node's file serves). Nil when the
// container mounts its own /etc/hosts.
func (w *worker) etcHostsMount(c *corev1.Container, obs *observed) (*runtimeapi.Mount, error) {
	if w.k.cfg.NoDisk {
		return nil, nil
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/etc/hosts" {
			return nil, nil
		}
	}
	p := w.pod
	var buf bytes.Buffer
	if p.Spec.HostNetwork {
		if len(p.Spec.HostAliases) == 0 {
			return nil, nil
		}
		node, err := os.ReadFile("/etc/hosts")
		if err != nil {
			return nil, err
		}
		buf.Write(node)
	} else {
		ip := podIP(p, obs)
		hostname, domain := w.k.podHostname(p)
		buf.WriteString(managedHostsHeader + "\n")
		buf.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
			"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
		if ip != "" {
			if domain != "" {
				fmt.Fprintf(&buf, "%s\t%s.%s\t%s\n", ip, hostname, domain, hostname)
			} else {
				fmt.Fprintf(&buf, "%s\t%s\n", ip, hostname)
			}
		}
	}
	if len(p.Spec.HostAliases) > 0 {
		buf.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range p.Spec.HostAliases {
			fmt.Fprintf(&buf, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	path := filepath.Join(w.podDir(), "etc-hosts")
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	return &runtimeapi.Mount{ContainerPath: "/etc/hosts", HostPath: path}, nil
}
