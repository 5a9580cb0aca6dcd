package printers

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Node role labels: node-role.kubernetes.io/<role> (any value) and the older kubernetes.io/role=<role>.
const (
	nodeRolePrefix = "node-role.kubernetes.io/"
	legacyRoleKey  = "kubernetes.io/role"
)

func init() {
	register("", "Node", printer{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Status", "string", "Whether the node is ready and schedulable."),
			column("Roles", "string", "The roles of the node, from its node-role labels."),
			ageColumn(),
			column("Version", "string", "The kubelet version the node reports."),
			wide(column("Internal-IP", "string", "The node's first internal IP address.")),
			wide(column("External-IP", "string", "The node's first external IP address.")),
			wide(column("OS-Image", "string", "The operating system image the node reports.")),
			wide(column("Kernel-Version", "string", "The kernel version the node reports.")),
			wide(column("Container-Runtime", "string", "The container runtime and version the node reports.")),
		},
		row: cellsOf(nodeCells),
	})
	register("", "Namespace", printer{
		columns: []metav1.TableColumnDefinition{nameColumn(),
			column("Status", "string", "The lifecycle phase of the namespace."), ageColumn()},
		row: cellsOf(func(ns *corev1.Namespace, now time.Time) []any {
			return []any{ns.Name, string(ns.Status.Phase), age(ns.CreationTimestamp, now)}
		}),
	})
	register("", "Service", printer{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Type", "string", "How the service is exposed."),
			column("Cluster-IP", "string", "The service's primary cluster IP address."),
			column("External-IP", "string", "Addresses the service is reachable at from outside the cluster."),
			column("Port(s)", "string", "The ports the service exposes, with node ports."),
			ageColumn(),
			wide(column("Selector", "string", "The labels of the pods that back the service.")),
		},
		row: cellsOf(serviceCells),
	})
	register("", "Endpoints", printer{
		columns: []metav1.TableColumnDefinition{nameColumn(),
			column("Endpoints", "string", "The addresses and ports of the endpoints."), ageColumn()},
		row: cellsOf(func(ep *corev1.Endpoints, now time.Time) []any {
			return []any{ep.Name, formatEndpoints(ep), age(ep.CreationTimestamp, now)}
		}),
	})
	register("", "ConfigMap", printer{
		columns: []metav1.TableColumnDefinition{nameColumn(),
			column("Data", "integer", "The number of data and binary data entries."), ageColumn()},
		row: cellsOf(func(cm *corev1.ConfigMap, now time.Time) []any {
			return []any{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), age(cm.CreationTimestamp, now)}
		}),
	})
	register("", "Secret", printer{
		columns: []metav1.TableColumnDefinition{nameColumn(),
			column("Type", "string", "The type of the secret."),
			column("Data", "integer", "The number of data entries."), ageColumn()},
		row: cellsOf(func(s *corev1.Secret, now time.Time) []any {
			return []any{s.Name, string(s.Type), int64(len(s.Data)), age(s.CreationTimestamp, now)}
		}),
	})
	// Upstream dropped the Secrets count (kubernetes#117160): nothing fills
	// serviceAccount.secrets since token secrets stopped being generated.
	register("", "ServiceAccount", printer{
		columns: []metav1.TableColumnDefinition{nameColumn(), ageColumn()},
		row: cellsOf(func(sa *corev1.ServiceAccount, now time.Time) []any {
			return []any{sa.Name, age(sa.CreationTimestamp, now)}
		}),
	})
	register("", "ResourceQuota", printer{
		columns: []metav1.TableColumnDefinition{nameColumn(),
			column("Request", "string", "Used out of hard quota for everything but limits."),
			column("Limit", "string", "Used out of hard quota for limits."), ageColumn()},
		row: cellsOf(quotaCells),
	})
}

func nodeCells(node *corev1.Node, now time.Time) []any {
	info := node.Status.NodeInfo
	orUnknown := func(s string) string {
		if s == "" {
			return unknown
		}
		return s
	}
	return []any{
		node.Name, nodeStatus(node), nodeRoles(node), age(node.CreationTimestamp, now), info.KubeletVersion,
		nodeAddress(node, corev1.NodeInternalIP), nodeAddress(node, corev1.NodeExternalIP),
		orUnknown(info.OSImage), orUnknown(info.KernelVersion), orUnknown(info.ContainerRuntimeVersion),
	}
}

// nodeStatus is "Ready" or "NotReady" from the Ready condition ("Unknown"
// without one), plus ",SchedulingDisabled" for a cordoned node.
func nodeStatus(node *corev1.Node) string {
	status := "Unknown"
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			status = "NotReady"
			if c.Status == corev1.ConditionTrue {
				status = "Ready"
			}
		}
	}
	if node.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

func nodeRoles(node *corev1.Node) string {
	var roles []string
	for k, v := range node.Labels {
		switch {
		case strings.HasPrefix(k, nodeRolePrefix) && len(k) > len(nodeRolePrefix):
			roles = append(roles, strings.TrimPrefix(k, nodeRolePrefix))
		case k == legacyRoleKey && v != "":
			roles = append(roles, v)
		}
	}
	slices.Sort(roles)
	roles = slices.Compact(roles)
	return orNone(strings.Join(roles, ","))
}

func nodeAddress(node *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range node.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return none
}

func serviceCells(svc *corev1.Service, now time.Time) []any {
	clusterIP := svc.Spec.ClusterIP
	if len(svc.Spec.ClusterIPs) > 0 {
		clusterIP = svc.Spec.ClusterIPs[0]
	}
	return []any{
		svc.Name, string(svc.Spec.Type), orNone(clusterIP), serviceExternalIP(svc),
		orNone(servicePorts(svc.Spec.Ports)), age(svc.CreationTimestamp, now), labels.FormatLabels(svc.Spec.Selector),
	}
}

// serviceExternalIP is what upstream shows under EXTERNAL-IP: external IPs,
// load balancer ingress (or "<pending>" before one is assigned), or the
// external name.
func serviceExternalIP(svc *corev1.Service) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		return orNone(strings.Join(svc.Spec.ExternalIPs, ","))
	case corev1.ServiceTypeLoadBalancer:
		ips := append(loadBalancerAddresses(svc.Status.LoadBalancer), svc.Spec.ExternalIPs...)
		if len(ips) == 0 {
			return "<pending>"
		}
		return strings.Join(ips, ",")
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return unknown
}

// loadBalancerAddresses lists each ingress IP (or hostname), sorted and unique.
func loadBalancerAddresses(lb corev1.LoadBalancerStatus) []string {
	var out []string
	for _, in := range lb.Ingress {
		switch {
		case in.IP != "":
			out = append(out, in.IP)
		case in.Hostname != "":
			out = append(out, in.Hostname)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// servicePorts renders "80/TCP" or, with a node port, "80:30080/TCP".
func servicePorts(ports []corev1.ServicePort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		if p.NodePort > 0 {
			parts[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		}
	}
	return strings.Join(parts, ",")
}

// formatEndpoints lists ip:port pairs (bare IPs for port-less subsets),
// the first three shown and the rest counted.
func formatEndpoints(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return none
	}
	var list []string
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				list = append(list, a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				list = append(list, net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	if len(list) == 0 {
		return "" // subsets with only not-ready addresses: upstream prints nothing
	}
	return listWithMore(list, 3)
}

// quotaCells lists "resource: used/hard" for every hard limit, sorted, with
// limits.* resources in the Limit column and everything else under Request.
func quotaCells(q *corev1.ResourceQuota, now time.Time) []any {
	names := make([]string, 0, len(q.Status.Hard))
	for name := range q.Status.Hard {
		names = append(names, string(name))
	}
	slices.Sort(names)
	var requests, limits []string
	for _, name := range names {
		used, hard := q.Status.Used[corev1.ResourceName(name)], q.Status.Hard[corev1.ResourceName(name)]
		entry := fmt.Sprintf("%s: %s/%s", name, used.String(), hard.String())
		if strings.HasPrefix(name, "limits.") {
			limits = append(limits, entry)
		} else {
			requests = append(requests, entry)
		}
	}
	return []any{q.Name, strings.Join(requests, ", "), strings.Join(limits, ", "), age(q.CreationTimestamp, now)}
}
