// Package catalog is the single table of every API resource Skiff serves.
// Discovery (legacy and aggregated), OpenAPI, routing and tests are all derived
// from it, so the server can never advertise a resource it does not serve.
package catalog

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes/scheme"
)

// Scheme knows every served type (all of k8s.io/api), with JSON, YAML and protobuf codecs.
var Scheme = scheme.Scheme

// Codecs serializes objects of Scheme.
var Codecs = scheme.Codecs

// apiextensions.k8s.io/v1 (CustomResourceDefinition) is served but not part of
// client-go's scheme.
func init() { utilruntime.Must(apiextensionsv1.AddToScheme(Scheme)) }

// Subresource describes one subresource of a resource (pods/status, deployments/scale ...).
type Subresource struct {
	Name string
	// Kind is the kind sent and received; its GroupVersion may differ from the parent's
	// (deployments/scale is autoscaling/v1 Scale).
	Kind  schema.GroupVersionKind
	Verbs []string
}

// Resource describes one served resource.
type Resource struct {
	schema.GroupVersionResource
	Kind         string
	SingularName string
	Namespaced   bool
	ShortNames   []string
	Categories   []string
	Verbs        []string
	Subresources []Subresource

	// NewFunc and NewListFunc, when set, make the resource's objects instead of
	// Scheme: custom resources are served from CustomResourceDefinitions at run
	// time and are not Go types of the scheme.
	NewFunc, NewListFunc func() runtime.Object
}

// GVK is the resource's kind with its group and version.
func (r *Resource) GVK() schema.GroupVersionKind { return r.GroupVersion().WithKind(r.Kind) }

// ListGVK is the kind of the resource's list.
func (r *Resource) ListGVK() schema.GroupVersionKind {
	return r.GroupVersion().WithKind(r.Kind + "List")
}

// New returns an empty object of the resource's kind.
func (r *Resource) New() runtime.Object {
	if r.NewFunc != nil {
		return r.NewFunc()
	}
	obj, err := Scheme.New(r.GVK())
	if err != nil {
		panic(err) // the table only names registered kinds; a test guards this
	}
	return obj
}

// NewList returns an empty list of the resource's kind.
func (r *Resource) NewList() runtime.Object {
	if r.NewListFunc != nil {
		return r.NewListFunc()
	}
	obj, err := Scheme.New(r.ListGVK())
	if err != nil {
		panic(err)
	}
	return obj
}

// Subresource returns the named subresource, or nil.
func (r *Resource) Subresource(name string) *Subresource {
	for i := range r.Subresources {
		if r.Subresources[i].Name == name {
			return &r.Subresources[i]
		}
	}
	return nil
}

// HasSubresource reports whether the resource serves the named subresource.
func (r *Resource) HasSubresource(name string) bool { return r.Subresource(name) != nil }

var (
	allVerbs      = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	readWrite     = []string{"get", "patch", "update"}
	createOnly    = []string{"create"}
	getCreate     = []string{"create", "get"}
	all           = []string{"all"}
	autoscalingV1 = schema.GroupVersion{Group: "autoscaling", Version: "v1"}
)

func gvr(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

func status(group, version, kind string) Subresource {
	return Subresource{Name: "status", Kind: schema.GroupVersionKind{Group: group, Version: version, Kind: kind}, Verbs: readWrite}
}

// proxySub is <resource>/proxy: any HTTP method, forwarded to the pod, service or node.
func proxySub(kind string) Subresource {
	return Subresource{Name: "proxy", Kind: schema.GroupVersionKind{Version: "v1", Kind: kind},
		Verbs: []string{"create", "delete", "get", "patch", "update"}}
}

func scale() Subresource {
	return Subresource{Name: "scale", Kind: autoscalingV1.WithKind("Scale"), Verbs: readWrite}
}

func res(g, v, plural, singular, kind string, namespaced bool, short []string, subs ...Subresource) Resource {
	return Resource{GroupVersionResource: gvr(g, v, plural), Kind: kind, SingularName: singular,
		Namespaced: namespaced, ShortNames: short, Verbs: allVerbs, Subresources: subs}
}

func inAll(r Resource) Resource { r.Categories = all; return r }

// Resources is every resource Skiff serves, in discovery order.
var Resources = []Resource{
	// core/v1
	{GroupVersionResource: gvr("", "v1", "namespaces"), Kind: "Namespace", SingularName: "namespace",
		ShortNames: []string{"ns"}, Verbs: []string{"create", "delete", "get", "list", "patch", "update", "watch"},
		Subresources: []Subresource{status("", "v1", "Namespace"),
			{Name: "finalize", Kind: schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, Verbs: []string{"update"}}}},
	inAll(res("", "v1", "pods", "pod", "Pod", true, []string{"po"},
		status("", "v1", "Pod"),
		Subresource{Name: "binding", Kind: schema.GroupVersionKind{Version: "v1", Kind: "Binding"}, Verbs: createOnly},
		Subresource{Name: "eviction", Kind: schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}, Verbs: createOnly},
		Subresource{Name: "log", Kind: schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, Verbs: []string{"get"}},
		Subresource{Name: "exec", Kind: schema.GroupVersionKind{Version: "v1", Kind: "PodExecOptions"}, Verbs: getCreate},
		Subresource{Name: "attach", Kind: schema.GroupVersionKind{Version: "v1", Kind: "PodAttachOptions"}, Verbs: getCreate},
		Subresource{Name: "portforward", Kind: schema.GroupVersionKind{Version: "v1", Kind: "PodPortForwardOptions"}, Verbs: getCreate},
		proxySub("PodProxyOptions"),
	)),
	{GroupVersionResource: gvr("", "v1", "bindings"), Kind: "Binding", SingularName: "binding", Namespaced: true, Verbs: createOnly},
	res("", "v1", "nodes", "node", "Node", false, []string{"no"}, status("", "v1", "Node"), proxySub("NodeProxyOptions")),
	inAll(res("", "v1", "services", "service", "Service", true, []string{"svc"}, status("", "v1", "Service"), proxySub("ServiceProxyOptions"))),
	res("", "v1", "endpoints", "endpoints", "Endpoints", true, []string{"ep"}),
	res("", "v1", "configmaps", "configmap", "ConfigMap", true, []string{"cm"}),
	res("", "v1", "secrets", "secret", "Secret", true, nil),
	res("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, []string{"sa"},
		Subresource{Name: "token", Kind: schema.GroupVersionKind{Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest"}, Verbs: createOnly}),
	res("", "v1", "events", "event", "Event", true, []string{"ev"}),
	res("", "v1", "resourcequotas", "resourcequota", "ResourceQuota", true, []string{"quota"}, status("", "v1", "ResourceQuota")),
	res("", "v1", "limitranges", "limitrange", "LimitRange", true, []string{"limits"}),
	inAll(res("", "v1", "replicationcontrollers", "replicationcontroller", "ReplicationController", true, []string{"rc"},
		status("", "v1", "ReplicationController"), scale())),
	// apps/v1
	inAll(res("apps", "v1", "deployments", "deployment", "Deployment", true, []string{"deploy"}, status("apps", "v1", "Deployment"), scale())),
	inAll(res("apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, []string{"rs"}, status("apps", "v1", "ReplicaSet"), scale())),
	inAll(res("apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, []string{"ds"}, status("apps", "v1", "DaemonSet"))),
	inAll(res("apps", "v1", "statefulsets", "statefulset", "StatefulSet", true, []string{"sts"}, status("apps", "v1", "StatefulSet"), scale())),
	res("apps", "v1", "controllerrevisions", "controllerrevision", "ControllerRevision", true, nil),
	// batch/v1
	inAll(res("batch", "v1", "jobs", "job", "Job", true, nil, status("batch", "v1", "Job"))),
	inAll(res("batch", "v1", "cronjobs", "cronjob", "CronJob", true, []string{"cj"}, status("batch", "v1", "CronJob"))),
	// coordination.k8s.io/v1
	res("coordination.k8s.io", "v1", "leases", "lease", "Lease", true, nil),
	// discovery.k8s.io/v1
	res("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", true, nil),
	// events.k8s.io/v1
	res("events.k8s.io", "v1", "events", "event", "Event", true, []string{"ev"}),
	// rbac.authorization.k8s.io/v1
	res("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true, nil),
	res("rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true, nil),
	res("rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false, nil),
	res("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false, nil),
	// scheduling.k8s.io/v1
	res("scheduling.k8s.io", "v1", "priorityclasses", "priorityclass", "PriorityClass", false, []string{"pc"}),
	// authentication.k8s.io/v1, authorization.k8s.io/v1: reviews answered, never stored
	{GroupVersionResource: gvr("authentication.k8s.io", "v1", "selfsubjectreviews"), Kind: "SelfSubjectReview",
		SingularName: "selfsubjectreview", Verbs: createOnly},
	{GroupVersionResource: gvr("authentication.k8s.io", "v1", "tokenreviews"), Kind: "TokenReview",
		SingularName: "tokenreview", Verbs: createOnly},
	{GroupVersionResource: gvr("authorization.k8s.io", "v1", "selfsubjectaccessreviews"), Kind: "SelfSubjectAccessReview",
		SingularName: "selfsubjectaccessreview", Verbs: createOnly},
	{GroupVersionResource: gvr("authorization.k8s.io", "v1", "selfsubjectrulesreviews"), Kind: "SelfSubjectRulesReview",
		SingularName: "selfsubjectrulesreview", Verbs: createOnly},
	{GroupVersionResource: gvr("authorization.k8s.io", "v1", "subjectaccessreviews"), Kind: "SubjectAccessReview",
		SingularName: "subjectaccessreview", Verbs: createOnly},
	{GroupVersionResource: gvr("authorization.k8s.io", "v1", "localsubjectaccessreviews"), Kind: "LocalSubjectAccessReview",
		SingularName: "localsubjectaccessreview", Namespaced: true, Verbs: createOnly},
	// certificates.k8s.io/v1: approval is the subresource `kubectl certificate approve/deny` writes
	res("certificates.k8s.io", "v1", "certificatesigningrequests", "certificatesigningrequest", "CertificateSigningRequest", false, []string{"csr"},
		status("certificates.k8s.io", "v1", "CertificateSigningRequest"),
		Subresource{Name: "approval", Kind: schema.GroupVersionKind{Group: "certificates.k8s.io", Version: "v1", Kind: "CertificateSigningRequest"}, Verbs: readWrite}),
	// apiextensions.k8s.io/v1
	{GroupVersionResource: gvr("apiextensions.k8s.io", "v1", "customresourcedefinitions"), Kind: "CustomResourceDefinition",
		SingularName: "customresourcedefinition", ShortNames: []string{"crd", "crds"}, Categories: []string{"api-extensions"},
		Verbs: allVerbs, Subresources: []Subresource{status("apiextensions.k8s.io", "v1", "CustomResourceDefinition")}},
	// policy/v1
	res("policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", true, []string{"pdb"},
		status("policy", "v1", "PodDisruptionBudget")),
}

// Lookup finds a served resource by group, version and plural name.
func Lookup(group, version, resource string) *Resource {
	for i := range Resources {
		r := &Resources[i]
		if r.Group == group && r.Version == version && r.Resource == resource {
			return r
		}
	}
	return nil
}

// ForKind finds the served resource of a kind (first match: core events win over events.k8s.io).
func ForKind(gvk schema.GroupVersionKind) *Resource {
	for i := range Resources {
		if Resources[i].GVK() == gvk {
			return &Resources[i]
		}
	}
	return nil
}

// GroupVersions lists the served group/versions in discovery order, core first.
func GroupVersions() []schema.GroupVersion {
	var out []schema.GroupVersion
	seen := map[schema.GroupVersion]bool{}
	for _, r := range Resources {
		gv := r.GroupVersion()
		if !seen[gv] {
			seen[gv] = true
			out = append(out, gv)
		}
	}
	return out
}

// HasVerb reports whether the resource serves a verb.
func (r *Resource) HasVerb(verb string) bool {
	for _, v := range r.Verbs {
		if v == verb {
			return true
		}
	}
	return false
}
