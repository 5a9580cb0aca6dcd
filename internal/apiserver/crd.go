package apiserver

// How custom resources are served: the CRD controller (crd_controller.go) turns each
// established CustomResourceDefinition into catalog.Resource rows (one per served
// version, with NewFunc making *apiextensions.Object), a registry.Strategy per row
// and one storage.Interface per CRD. They live in customResources, which the request
// path consults after the compiled catalog: resolve (s.lookup), s.store, s.strategy,
// s.storagePrefix and discovery (s.allResources) all read the same set, so a CRD is
// routed, stored and discovered together and stops being all three at once.

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/internal/apiextensions"
	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/registry"
	"github.com/skiff-sh/skiff/internal/storage"
)

// customResources is the dynamic part of the served API.
type customResources struct {
	mu     sync.RWMutex
	byGVR  map[schema.GroupVersionResource]*servedVersion
	byName map[string]*servedCRD // by CRD name
}

// servedCRD is one CRD's storage (shared by its versions: with conversion None
// only apiVersion differs between them).
type servedCRD struct {
	uid      types.UID
	gr       schema.GroupResource
	store    storage.Interface
	stop     context.CancelFunc
	versions []*servedVersion
}

type servedVersion struct {
	res      *catalog.Resource
	strategy *registry.Strategy
	crd      *servedCRD
}

func newCustomResources() *customResources {
	return &customResources{byGVR: map[schema.GroupVersionResource]*servedVersion{}, byName: map[string]*servedCRD{}}
}

// isCustom reports whether a resource row comes from a CRD.
func isCustom(r *catalog.Resource) bool { return r != nil && r.NewFunc != nil }

// customPrefix is where a custom resource is stored: /registry/<group>/<plural>/.
func customPrefix(prefix string, gr schema.GroupResource) string {
	return prefix + "/" + gr.Group + "/" + gr.Resource + "/"
}

// lookup finds a served resource: the compiled catalog first, then the CRDs.
func (s *Server) lookup(group, version, resource string) *catalog.Resource {
	if r := catalog.Lookup(group, version, resource); r != nil {
		return r
	}
	s.custom.mu.RLock()
	defer s.custom.mu.RUnlock()
	if v := s.custom.byGVR[schema.GroupVersionResource{Group: group, Version: version, Resource: resource}]; v != nil {
		return v.res
	}
	return nil
}

// allResources is the compiled catalog followed by the custom resources (sorted by
// group, version and plural so discovery is stable).
func (s *Server) allResources() []catalog.Resource {
	s.custom.mu.RLock()
	custom := make([]catalog.Resource, 0, len(s.custom.byGVR))
	for _, v := range s.custom.byGVR {
		custom = append(custom, *v.res)
	}
	s.custom.mu.RUnlock()
	if len(custom) == 0 {
		return s.resources
	}
	sort.Slice(custom, func(i, j int) bool {
		a, b := custom[i], custom[j]
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Resource < b.Resource
	})
	return append(append([]catalog.Resource(nil), s.resources...), custom...)
}

// strategy returns the strategy of a custom resource row (or an inert one when the
// CRD stopped being served while the request ran: its writes then fail in storage).
func (c *customResources) strategy(r *catalog.Resource) *registry.Strategy {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if v := c.byGVR[r.GroupVersionResource]; v != nil {
		return v.strategy
	}
	return registry.Custom(r, nil)
}

// store returns the storage of a custom resource; a resource whose CRD went away
// during the request gets a store that answers 404.
func (c *customResources) store(r *catalog.Resource) storage.Interface {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if v := c.byGVR[r.GroupVersionResource]; v != nil {
		return v.crd.store
	}
	return goneStore{gr: r.GroupResource()}
}

// customRequestOK refuses what custom resources do not support, as upstream does:
// strategic merge patch (415; CRs have no patch strategy metadata) and server-side
// apply (not implemented for custom resources yet: 415). Custom resources have no
// protobuf form, so protobuf is dropped from Accept and JSON answers.
func customRequestOK(w http.ResponseWriter, r *http.Request, ri requestInfo) bool {
	if ri.verb == "patch" {
		ct := r.Header.Get("Content-Type")
		if i := strings.IndexByte(ct, ';'); i >= 0 {
			ct = ct[:i]
		}
		switch strings.TrimSpace(ct) {
		case "application/strategic-merge-patch+json", "application/apply-patch+yaml", "application/apply-patch+cbor":
			writeError(w, unsupportedMediaType(ct, []string{"application/json-patch+json", "application/merge-patch+json"}))
			return false
		}
	}
	if accept := r.Header.Get("Accept"); strings.Contains(accept, mediaProtobuf) {
		var keep []string
		for _, part := range strings.Split(accept, ",") {
			if !strings.Contains(part, mediaProtobuf) {
				keep = append(keep, part)
			}
		}
		if len(keep) == 0 {
			keep = []string{mediaJSON}
		}
		r.Header.Set("Accept", strings.Join(keep, ","))
	}
	return true
}

// decodeCustom decodes a JSON or YAML custom resource body of gvk.
func decodeCustom(info runtime.SerializerInfo, gvk schema.GroupVersionKind, data []byte) (runtime.Object, error) {
	bad := func(err error) error {
		return apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err))
	}
	switch info.MediaType {
	case mediaYAML:
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil, bad(err)
		}
		data = j
	case mediaProtobuf:
		return nil, unsupportedMediaType(mediaProtobuf, []string{mediaJSON, mediaYAML})
	}
	obj := &apiextensions.Object{}
	if err := obj.UnmarshalJSON(data); err != nil {
		return nil, bad(err)
	}
	if obj.APIVersion != "" && obj.APIVersion != gvk.GroupVersion().String() {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", obj.APIVersion, gvk.GroupVersion()))
	}
	if obj.Kind != "" && obj.Kind != gvk.Kind {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s)", obj.Kind, gvk.Kind))
	}
	if obj.Content == nil {
		obj.Content = map[string]any{}
	}
	obj.SetGroupVersionKind(gvk)
	return obj, nil
}
