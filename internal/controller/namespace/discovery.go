package namespace

import (
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

// resources is what a namespace is emptied of: the configured resources plus the
// namespaced resources the API server serves beyond the compiled catalog (custom
// resources of CustomResourceDefinitions), found through discovery on every pass
// so CRDs installed after start are included. A discovery failure leaves out only
// the group versions that failed.
func (c *Controller) resources() []schema.GroupVersionResource {
	out := slices.Clone(c.opts.Resources)
	lists, _ := c.client.Discovery().ServerPreferredNamespacedResources()
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if catalog.Lookup(gv.Group, gv.Version, r.Name) != nil {
				continue // compiled resources are in (or deliberately out of) opts.Resources
			}
			if !slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "delete") {
				continue
			}
			out = append(out, gv.WithResource(r.Name))
		}
	}
	return out
}
