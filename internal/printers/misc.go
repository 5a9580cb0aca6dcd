package printers

import (
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func init() {
	register("coordination.k8s.io", "Lease", printer{
		columns: []metav1.TableColumnDefinition{nameColumn(),
			column("Holder", "string", "The identity currently holding the lease."), ageColumn()},
		row: cellsOf(func(l *coordinationv1.Lease, now time.Time) []any {
			holder := ""
			if l.Spec.HolderIdentity != nil {
				holder = *l.Spec.HolderIdentity
			}
			return []any{l.Name, holder, age(l.CreationTimestamp, now)}
		}),
	})
	register("scheduling.k8s.io", "PriorityClass", printer{
		columns: []metav1.TableColumnDefinition{nameColumn(),
			column("Value", "integer", "The priority pods of this class get."),
			column("Global-Default", "boolean", "Whether pods without a class get this one."),
			ageColumn(),
			column("PreemptionPolicy", "string", "Whether pods of this class may preempt lower-priority pods.")},
		row: cellsOf(func(pc *schedulingv1.PriorityClass, now time.Time) []any {
			policy := ""
			if pc.PreemptionPolicy != nil {
				policy = string(*pc.PreemptionPolicy)
			}
			return []any{pc.Name, int64(pc.Value), pc.GlobalDefault, age(pc.CreationTimestamp, now), policy}
		}),
	})
	register("policy", "PodDisruptionBudget", printer{
		columns: []metav1.TableColumnDefinition{nameColumn(),
			column("Min Available", "string", "The minimum number of pods that must stay available."),
			column("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
			column("Allowed Disruptions", "integer", "How many pods may be disrupted right now."),
			ageColumn()},
		row: cellsOf(func(pdb *policyv1.PodDisruptionBudget, now time.Time) []any {
			minAvailable, maxUnavailable := "N/A", "N/A"
			if pdb.Spec.MinAvailable != nil {
				minAvailable = pdb.Spec.MinAvailable.String()
			}
			if pdb.Spec.MaxUnavailable != nil {
				maxUnavailable = pdb.Spec.MaxUnavailable.String()
			}
			return []any{pdb.Name, minAvailable, maxUnavailable, int64(pdb.Status.DisruptionsAllowed), age(pdb.CreationTimestamp, now)}
		}),
	})
	register("rbac.authorization.k8s.io", "RoleBinding", printer{columns: bindingColumns(),
		row: cellsOf(func(b *rbacv1.RoleBinding, now time.Time) []any {
			return bindingCells(b.Name, b.RoleRef, b.Subjects, b.CreationTimestamp, now)
		})})
	register("rbac.authorization.k8s.io", "ClusterRoleBinding", printer{columns: bindingColumns(),
		row: cellsOf(func(b *rbacv1.ClusterRoleBinding, now time.Time) []any {
			return bindingCells(b.Name, b.RoleRef, b.Subjects, b.CreationTimestamp, now)
		})})
	register("discovery.k8s.io", "EndpointSlice", printer{
		columns: []metav1.TableColumnDefinition{nameColumn(),
			column("AddressType", "string", "The type of addresses in the slice."),
			column("Ports", "string", "The ports of the endpoints."),
			column("Endpoints", "string", "The addresses of the endpoints."),
			ageColumn()},
		row: cellsOf(func(s *discoveryv1.EndpointSlice, now time.Time) []any {
			return []any{s.Name, string(s.AddressType), slicePorts(s.Ports), sliceAddresses(s.Endpoints), age(s.CreationTimestamp, now)}
		}),
	})
}

func bindingColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameColumn(),
		column("Role", "string", "The role the binding grants, as kind/name."),
		ageColumn(),
		wide(column("Users", "string", "Users the binding applies to.")),
		wide(column("Groups", "string", "Groups the binding applies to.")),
		wide(column("ServiceAccounts", "string", "Service accounts the binding applies to, as namespace/name.")),
	}
}

func bindingCells(name string, ref rbacv1.RoleRef, subjects []rbacv1.Subject, created metav1.Time, now time.Time) []any {
	var users, groups, sas []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			sas = append(sas, s.Namespace+"/"+s.Name)
		}
	}
	return []any{name, ref.Kind + "/" + ref.Name, age(created, now),
		strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}
}

// slicePorts lists port numbers ("*" for all ports, or the name when unnumbered).
func slicePorts(ports []discoveryv1.EndpointPort) string {
	list := make([]string, 0, len(ports))
	for _, p := range ports {
		switch {
		case p.Port != nil:
			list = append(list, strconv.Itoa(int(*p.Port)))
		case p.Name != nil:
			list = append(list, *p.Name)
		default:
			list = append(list, "*")
		}
	}
	return listWithMore(list, 3)
}

func sliceAddresses(endpoints []discoveryv1.Endpoint) string {
	var list []string
	for _, e := range endpoints {
		list = append(list, e.Addresses...)
	}
	return listWithMore(list, 3)
}
