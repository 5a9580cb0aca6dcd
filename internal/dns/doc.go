// Package dns is Skiff's built-in cluster DNS (no CoreDNS to install).
//
// It answers authoritatively for the cluster domain (cluster.local):
//
//	<svc>.<ns>.svc.cluster.local            A: the ClusterIP; headless: ready endpoint IPs;
//	                                         ExternalName: CNAME
//	<host>.<svc>.<ns>.svc.cluster.local     A: a headless service's endpoint, by its
//	                                         hostname (pod spec.hostname+subdomain) or
//	                                         dashed IP (10-42-1-5)
//	_<port>._<proto>.<svc>.<ns>.svc.cluster.local  SRV for named ports
//	<a-b-c-d>.<ns>.pod.cluster.local        A: a.b.c.d
//
// and forwards every other name to the node's resolvers from /etc/resolv.conf.
// The cluster is IPv4-only: AAAA for an existing name is an empty NOERROR.
//
// # Deployment
//
// Every node runs the server inside `skiff proxy`, listening on the node's IP,
// port 53 (UDP and TCP). Pods reach it at the conventional ClusterIP 10.43.0.10:
// Publish creates the selector-less Service kube-system/kube-dns with that
// clusterIP and internalTrafficPolicy Local, and one EndpointSlice per node
// (kube-dns-<node>, owned by the Node so it goes with it) holding the node IP.
// Each node's proxy therefore sends 10.43.0.10:53 to its own DNS server: no
// cross-node hop, and a node whose DNS is down does not take others' down.
//
// Pods with dnsPolicy ClusterFirst get ResolvConf(namespace, "10.43.0.10"):
//
//	nameserver 10.43.0.10
//	search <ns>.svc.cluster.local svc.cluster.local cluster.local
//	options ndots:5
package dns
