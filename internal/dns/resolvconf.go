package dns

import "fmt"

// ClusterDomain is the DNS domain of the cluster.
const ClusterDomain = "cluster.local"

// DefaultClusterDNS is the ClusterIP of kube-system/kube-dns.
const DefaultClusterDNS = "10.43.0.10"

// ResolvConf is the /etc/resolv.conf the kubelet writes for a pod in namespace
// with dnsPolicy ClusterFirst: the cluster DNS first, the cluster search domains
// (so "web" and "web.other" resolve), and ndots:5 as Kubernetes does.
func ResolvConf(namespace string, clusterDNS string) []byte {
	return fmt.Appendf(nil, "nameserver %s\nsearch %s.svc.%s svc.%s %s\noptions ndots:5\n",
		clusterDNS, namespace, ClusterDomain, ClusterDomain, ClusterDomain)
}
