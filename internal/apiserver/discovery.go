package apiserver

import (
	"net/http"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

const aggregatedContentType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// discovery serves /api, /apis and the per-group-version resource lists, all derived
// from one list (the compiled catalog plus the established custom resources, read
// on each request) so legacy and aggregated answers always agree and follow CRDs
// as they come and go.
type discovery struct {
	resources func() []catalog.Resource
}

var discoveryAs = map[string]bool{"APIGroupDiscoveryList": true}

// serve answers a discovery path; it returns false if the path is not one.
func (d *discovery) serve(w http.ResponseWriter, r *http.Request) bool {
	parts := splitPath(r.URL.Path)
	switch {
	case len(parts) == 1 && parts[0] == "api":
		if negotiate(r, discoveryAs).as != "" {
			writeJSON(w, aggregatedContentType, 200, d.aggregated(true))
		} else {
			writeJSON(w, mediaJSON, 200, &metav1.APIVersions{
				TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
				ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host}},
			})
		}
	case len(parts) == 1 && parts[0] == "apis":
		if negotiate(r, discoveryAs).as != "" {
			writeJSON(w, aggregatedContentType, 200, d.aggregated(false))
		} else {
			writeJSON(w, mediaJSON, 200, d.groupList())
		}
	case len(parts) == 2 && parts[0] == "api" && parts[1] == "v1":
		writeJSON(w, mediaJSON, 200, d.resourceList(schema.GroupVersion{Version: "v1"}))
	case len(parts) == 2 && parts[0] == "apis":
		g := d.group(parts[1])
		if g == nil {
			return false
		}
		writeJSON(w, mediaJSON, 200, g)
	case len(parts) == 3 && parts[0] == "apis":
		gv := schema.GroupVersion{Group: parts[1], Version: parts[2]}
		if !d.served(gv) {
			return false
		}
		writeJSON(w, mediaJSON, 200, d.resourceList(gv))
	default:
		return false
	}
	return true
}

func (d *discovery) served(gv schema.GroupVersion) bool {
	for _, r := range d.resources() {
		if r.GroupVersion() == gv {
			return true
		}
	}
	return false
}

func (d *discovery) groupList() *metav1.APIGroupList {
	list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	for _, gv := range groupVersions(d.resources()) {
		if gv.Group == "" {
			continue
		}
		list.Groups = append(list.Groups, *d.group(gv.Group))
	}
	return list
}

func (d *discovery) group(name string) *metav1.APIGroup {
	var g *metav1.APIGroup
	for _, gv := range groupVersions(d.resources()) {
		if gv.Group != name || name == "" {
			continue
		}
		v := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
		if g == nil {
			g = &metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: name, PreferredVersion: v}
		}
		g.Versions = append(g.Versions, v)
	}
	return g
}

func (d *discovery) resourceList(gv schema.GroupVersion) *metav1.APIResourceList {
	list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
	for _, r := range d.resources() {
		if r.GroupVersion() != gv {
			continue
		}
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: r.Resource, SingularName: r.SingularName, Namespaced: r.Namespaced, Kind: r.Kind,
			Verbs: r.Verbs, ShortNames: r.ShortNames, Categories: r.Categories,
		})
		for _, s := range r.Subresources {
			ar := metav1.APIResource{Name: r.Resource + "/" + s.Name, Namespaced: r.Namespaced, Kind: s.Kind.Kind, Verbs: s.Verbs}
			if s.Kind.GroupVersion() != gv {
				ar.Group, ar.Version = s.Kind.Group, s.Kind.Version
			}
			list.APIResources = append(list.APIResources, ar)
		}
	}
	return list
}

// aggregated builds the apidiscovery.k8s.io/v2 document for /api (core) or /apis.
func (d *discovery) aggregated(core bool) *apidiscoveryv2.APIGroupDiscoveryList {
	list := &apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"}}
	resources := d.resources()
	for _, gv := range groupVersions(resources) {
		if (gv.Group == "") != core {
			continue
		}
		version := apidiscoveryv2.APIVersionDiscovery{Version: gv.Version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
		for _, r := range resources {
			if r.GroupVersion() != gv {
				continue
			}
			version.Resources = append(version.Resources, aggregatedResource(r))
		}
		if i := findGroup(list, gv.Group); i >= 0 {
			list.Items[i].Versions = append(list.Items[i].Versions, version)
			continue
		}
		list.Items = append(list.Items, apidiscoveryv2.APIGroupDiscovery{
			ObjectMeta: metav1.ObjectMeta{Name: gv.Group}, Versions: []apidiscoveryv2.APIVersionDiscovery{version},
		})
	}
	return list
}

// groupVersions lists the group/versions of resources in order of first appearance
// (the catalog's order, core first, then custom resources).
func groupVersions(resources []catalog.Resource) []schema.GroupVersion {
	var out []schema.GroupVersion
	seen := map[schema.GroupVersion]bool{}
	for _, r := range resources {
		if gv := r.GroupVersion(); !seen[gv] {
			seen[gv] = true
			out = append(out, gv)
		}
	}
	return out
}

func findGroup(list *apidiscoveryv2.APIGroupDiscoveryList, name string) int {
	for i := range list.Items {
		if list.Items[i].Name == name {
			return i
		}
	}
	return -1
}

func aggregatedResource(r catalog.Resource) apidiscoveryv2.APIResourceDiscovery {
	scope := apidiscoveryv2.ScopeCluster
	if r.Namespaced {
		scope = apidiscoveryv2.ScopeNamespace
	}
	gvk := r.GVK()
	out := apidiscoveryv2.APIResourceDiscovery{
		Resource: r.Resource, SingularResource: r.SingularName, Scope: scope,
		ResponseKind: &metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
		Verbs:        r.Verbs, ShortNames: r.ShortNames, Categories: r.Categories,
	}
	for _, s := range r.Subresources {
		out.Subresources = append(out.Subresources, apidiscoveryv2.APISubresourceDiscovery{
			Subresource:  s.Name,
			ResponseKind: &metav1.GroupVersionKind{Group: s.Kind.Group, Version: s.Kind.Version, Kind: s.Kind.Kind},
			Verbs:        s.Verbs,
		})
	}
	return out
}

// isDiscoveryPath reports whether a path can only be discovery (no resource part).
func isDiscoveryPath(p string) bool {
	parts := splitPath(p)
	if len(parts) == 0 {
		return false
	}
	return (parts[0] == "api" && len(parts) <= 2) || (parts[0] == "apis" && len(parts) <= 3) && !strings.Contains(p, "..")
}
