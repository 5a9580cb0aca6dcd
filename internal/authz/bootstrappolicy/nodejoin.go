package bootstrappolicy

import rbacv1 "k8s.io/api/rbac/v1"

// What joining nodes need beyond upstream's API server policy: kubeadm and k3s
// add the same grants when they set a cluster up, and Skiff sets itself up.
//   - anyone may read kube-public/cluster-info (the server's URL and CA), which
//     a joining node checks against its --ca-cert-hash pin before trusting it;
//   - a bootstrap token may create a node client CSR, which is then approved;
//   - a node may renew its own certificate;
//   - the API server's kubelet client may use every kubelet API.

func nodeJoinRoles() []roleBuilder {
	return []roleBuilder{
		role("kube-public", "skiff:bootstrap-signer-clusterinfo",
			named(r("get", "", "configmaps"), "cluster-info")),
	}
}

func nodeJoinRoleBindings() []*rbacv1.RoleBinding {
	return []*rbacv1.RoleBinding{
		roleBinding("kube-public", "skiff:bootstrap-signer-clusterinfo", "Role", "skiff:bootstrap-signer-clusterinfo",
			user("system:anonymous")),
	}
}

func nodeJoinClusterRoleBindings() []*rbacv1.ClusterRoleBinding {
	return []*rbacv1.ClusterRoleBinding{
		bindingTo("skiff:node-bootstrapper", "system:node-bootstrapper", group("system:bootstrappers")),
		bindingTo("skiff:node-autoapprove-bootstrap",
			"system:certificates.k8s.io:certificatesigningrequests:nodeclient", group("system:bootstrappers")),
		bindingTo("skiff:node-autoapprove-certificate-rotation",
			"system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", group("system:nodes")),
		bindingTo("skiff:kube-apiserver-kubelet-client", "system:kubelet-api-admin", user("kube-apiserver-kubelet-client")),
	}
}

// bindingTo binds the named ClusterRole under another binding name.
func bindingTo(name, clusterRole string, subjects ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	b := clusterRoleBinding(name, subjects...)
	b.RoleRef.Name = clusterRole
	return b
}
