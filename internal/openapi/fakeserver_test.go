package openapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

// fakeAPI is just enough of an API server for kubectl to reach the code paths
// that consume OpenAPI: legacy discovery, the documents under test, and a
// one-namespace object store that records every write.
type fakeAPI struct {
	t    *testing.T
	docs *Docs
	srv  *httptest.Server

	mu       sync.Mutex
	objects  map[string][]byte // URL path of the item -> JSON
	requests []recorded
}

type recorded struct {
	Method, Path, Query, ContentType string
	Body                             []byte
}

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{t: t, docs: New(catalog.Resources), objects: map[string][]byte{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) writes() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []recorded
	for _, r := range f.requests {
		if r.Method != http.MethodGet {
			out = append(out, r)
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/openapi/"):
		f.docs.ServeHTTP(w, r)
	case p == "/api":
		writeJSON(w, 200, &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host}}})
	case p == "/apis":
		writeJSON(w, 200, groupList())
	case p == "/version":
		writeJSON(w, 200, map[string]string{"major": "1", "minor": "37", "gitVersion": "v1.37.2"})
	default:
		if gv, ok := discoveryGV(p); ok {
			writeJSON(w, 200, resourceList(gv))
			return
		}
		f.serveObject(w, r)
	}
}

func groupList() *metav1.APIGroupList {
	l := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	for _, gv := range catalog.GroupVersions() {
		if gv.Group == "" {
			continue
		}
		v := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
		l.Groups = append(l.Groups, metav1.APIGroup{Name: gv.Group, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v})
	}
	return l
}

func discoveryGV(p string) (schema.GroupVersion, bool) {
	for _, gv := range catalog.GroupVersions() {
		if p == "/"+gvPath(gv) {
			return gv, true
		}
	}
	return schema.GroupVersion{}, false
}

func resourceList(gv schema.GroupVersion) *metav1.APIResourceList {
	l := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
	for _, r := range catalog.Resources {
		if r.GroupVersion() != gv {
			continue
		}
		l.APIResources = append(l.APIResources, metav1.APIResource{Name: r.Resource, SingularName: r.SingularName,
			Namespaced: r.Namespaced, Kind: r.Kind, Verbs: r.Verbs, ShortNames: r.ShortNames, Categories: r.Categories})
		for _, s := range r.Subresources {
			l.APIResources = append(l.APIResources, metav1.APIResource{Name: r.Resource + "/" + s.Name,
				Namespaced: r.Namespaced, Group: s.Kind.Group, Version: s.Kind.Version, Kind: s.Kind.Kind, Verbs: s.Verbs})
		}
	}
	return l
}

// serveObject stores POSTed objects and answers GET/PATCH on them. Patches are
// recorded, not applied: the tests look at what kubectl computed.
func (f *fakeAPI) serveObject(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		ContentType: r.Header.Get("Content-Type"), Body: body})
	notFound := func() {
		writeJSON(w, 404, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status: metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Code: 404, Message: r.URL.Path + " not found"})
	}
	switch r.Method {
	case http.MethodGet, http.MethodPatch:
		obj, ok := f.objects[r.URL.Path]
		if !ok {
			notFound()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(obj)
	case http.MethodPost:
		var u map[string]any
		if err := json.Unmarshal(body, &u); err != nil {
			writeJSON(w, 400, &metav1.Status{Status: metav1.StatusFailure, Code: 400, Message: err.Error()})
			return
		}
		md, _ := u["metadata"].(map[string]any)
		if md == nil {
			md = map[string]any{}
			u["metadata"] = md
		}
		md["uid"], md["resourceVersion"], md["creationTimestamp"] = "0b7f3c8e-0000-4000-8000-000000000001", "1", "2026-01-01T00:00:00Z"
		parts := strings.Split(r.URL.Path, "/")
		for i := 0; i+1 < len(parts); i++ {
			if parts[i] == "namespaces" {
				md["namespace"] = parts[i+1]
			}
		}
		name, _ := md["name"].(string)
		stored, _ := json.Marshal(u)
		f.objects[r.URL.Path+"/"+name] = stored
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(stored)
	default:
		writeJSON(w, 405, &metav1.Status{Status: metav1.StatusFailure, Code: 405, Message: "not supported by the fake"})
	}
}
