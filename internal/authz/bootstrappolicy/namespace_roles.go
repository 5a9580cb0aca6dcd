package bootstrappolicy

import rbacv1 "k8s.io/api/rbac/v1"

// namespaceRoles are the Roles in kube-system and kube-public.
func namespaceRoles() []roleBuilder {
	return []roleBuilder{
		role("kube-public", "system:controller:bootstrap-signer",
			r("get,list,watch", "", "configmaps"),
			named(r("update", "", "configmaps"), "cluster-info"),
			r("create,patch,update", ",events.k8s.io", "events"),
		),
		role("kube-system", "extension-apiserver-authentication-reader",
			named(r("get,list,watch", "", "configmaps"), "extension-apiserver-authentication"),
		),
		role("kube-system", "system::leader-locking-kube-controller-manager",
			r("create,get,list,update,watch", "coordination.k8s.io", "leases"),
			r("create,get,list,update,watch", "coordination.k8s.io", "leasecandidates"),
		),
		role("kube-system", "system::leader-locking-kube-scheduler",
			r("create,get,list,update,watch", "coordination.k8s.io", "leases"),
			r("create,get,list,update,watch", "coordination.k8s.io", "leasecandidates"),
		),
		role("kube-system", "system:controller:bootstrap-signer",
			r("get,list,watch", "", "secrets"),
		),
		role("kube-system", "system:controller:token-cleaner",
			r("delete,get,list,watch", "", "secrets"),
			r("create,patch,update", ",events.k8s.io", "events"),
		),
	}
}

func namespaceRoleBindings() []*rbacv1.RoleBinding {
	return []*rbacv1.RoleBinding{
		roleBinding("kube-public", "system:controller:bootstrap-signer", "Role", "system:controller:bootstrap-signer", sa("kube-system", "bootstrap-signer")),
		roleBinding("kube-system", "system::extension-apiserver-authentication-reader", "Role", "extension-apiserver-authentication-reader", user("system:kube-controller-manager"), user("system:kube-scheduler")),
		roleBinding("kube-system", "system::leader-locking-kube-controller-manager", "Role", "system::leader-locking-kube-controller-manager", user("system:kube-controller-manager"), sa("kube-system", "kube-controller-manager"), sa("kube-system", "leader-election-controller")),
		roleBinding("kube-system", "system::leader-locking-kube-scheduler", "Role", "system::leader-locking-kube-scheduler", user("system:kube-scheduler"), sa("kube-system", "kube-scheduler")),
		roleBinding("kube-system", "system:controller:bootstrap-signer", "Role", "system:controller:bootstrap-signer", sa("kube-system", "bootstrap-signer")),
		roleBinding("kube-system", "system:controller:token-cleaner", "Role", "system:controller:token-cleaner", sa("kube-system", "token-cleaner")),
	}
}
