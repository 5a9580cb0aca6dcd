package openapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	protomodels "k8s.io/kube-openapi/pkg/util/proto"
	explainv2 "k8s.io/kubectl/pkg/explain/v2"
	kubectlopenapi "k8s.io/kubectl/pkg/util/openapi"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

func (f *fakeAPI) config() *rest.Config { return &rest.Config{Host: f.srv.URL} }

func hasVerb(r catalog.Resource, verb string) bool { return slices.Contains(r.Verbs, verb) }

func get(t *testing.T, h http.Handler, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestGenerationIsLazyAndFast(t *testing.T) {
	d := New(catalog.Resources)
	if d.model != nil || d.v3Docs != nil || d.v2JSON.data != nil {
		t.Fatal("New generated documents eagerly")
	}
	start := time.Now()
	rec := get(t, d, "/openapi/v3", nil)
	v3 := time.Since(start)
	if rec.Code != 200 {
		t.Fatalf("v3 root: %d %s", rec.Code, rec.Body)
	}
	if d.v2JSON.data != nil {
		t.Fatal("serving v3 also built v2")
	}
	start = time.Now()
	rec = get(t, d, "/openapi/v2", map[string]string{"Accept": mimeV2ProtoAt})
	v2 := time.Since(start)
	if rec.Code != 200 {
		t.Fatalf("v2: %d %s", rec.Code, rec.Body)
	}
	total := 0
	for _, b := range d.v3Docs {
		total += len(b.data)
	}
	t.Logf("generation: v3 (model + %d documents, %d KiB) %v; v2 (JSON %d KiB + protobuf %d KiB) %v; %d definitions",
		len(d.v3Docs), total/1024, v3, len(d.v2JSON.data)/1024, len(d.v2Proto.data)/1024, v2, len(d.model.defs))
	// Generous bound: the machine is shared; typical is ~150 ms for everything.
	if v2+v3 > 3*time.Second {
		t.Errorf("generation took %v", v2+v3)
	}
}

func TestHTTPBehaviour(t *testing.T) {
	d := New(catalog.Resources)
	root := get(t, d, "/openapi/v3", map[string]string{"Accept": "application/json, */*"})
	if ct := root.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("root content type %q", ct)
	}
	var idx struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(root.Body.Bytes(), &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Paths) != len(catalog.GroupVersions()) {
		t.Errorf("root lists %d group versions, catalog serves %d", len(idx.Paths), len(catalog.GroupVersions()))
	}
	for _, gv := range catalog.GroupVersions() {
		e, ok := idx.Paths[gvPath(gv)]
		if !ok || !strings.HasPrefix(e.ServerRelativeURL, "/openapi/v3/"+gvPath(gv)+"?hash=") {
			t.Errorf("root entry for %v: %+v", gv, e)
		}
	}

	url := idx.Paths["apis/apps/v1"].ServerRelativeURL
	rec := get(t, d, url, map[string]string{"Accept": "application/json"})
	etag := rec.Header().Get("ETag")
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "public, immutable" || etag == "" ||
		rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("hashed GET: %d %v", rec.Code, rec.Header())
	}
	if !strings.Contains(url, strings.Trim(etag, `"`)) {
		t.Errorf("ETag %s does not match the hash in %s", etag, url)
	}
	if rec := get(t, d, url, map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified {
		t.Errorf("revalidation: %d", rec.Code)
	}
	if rec := get(t, d, "/openapi/v3/apis/apps/v1", nil); rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("unhashed GET: %d %v", rec.Code, rec.Header())
	}
	rec = get(t, d, "/openapi/v3/apis/apps/v1?hash=STALE", nil)
	if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != url {
		t.Errorf("stale hash: %d Location=%q want %q", rec.Code, rec.Header().Get("Location"), url)
	}
	for _, p := range []string{"/openapi/v3/apis/nope/v1", "/openapi/v3/api/v2", "/openapi/v4", "/openapi/v3/apis/apps"} {
		if rec := get(t, d, p, nil); rec.Code != 404 {
			t.Errorf("%s: %d, want 404", p, rec.Code)
		}
	}

	j := get(t, d, "/openapi/v2", map[string]string{"Accept": "application/json"})
	if j.Header().Get("Content-Type") != "application/json" || !json.Valid(j.Body.Bytes()) {
		t.Errorf("v2 JSON: %v", j.Header())
	}
	for _, accept := range []string{mimeV2ProtoAt, mimeV2Proto + ", application/json", mimeV2ProtoAt + ";q=1"} {
		pb := get(t, d, "/openapi/v2", map[string]string{"Accept": accept})
		var doc openapi_v2.Document
		if pb.Header().Get("Content-Type") != mimeV2Proto || proto.Unmarshal(pb.Body.Bytes(), &doc) != nil || doc.Swagger != "2.0" {
			t.Errorf("v2 protobuf for Accept %q: %v", accept, pb.Header())
		}
	}
	if rec := get(t, d, "/openapi/v2", map[string]string{"Accept": "text/html"}); rec.Code != http.StatusNotAcceptable {
		t.Errorf("v2 unacceptable: %d", rec.Code)
	}
}

// TestClientGoV3 parses every group version with client-go's own OpenAPI v3
// client and checks what kubectl relies on.
func TestClientGoV3(t *testing.T) {
	f := newFakeAPI(t)
	dc := discovery.NewDiscoveryClientForConfigOrDie(f.config())
	oc := dc.OpenAPIV3()
	root := openapi3.NewRoot(oc)
	gvs, err := root.GroupVersions()
	if err != nil {
		t.Fatal(err)
	}
	if len(gvs) != len(catalog.GroupVersions()) {
		t.Errorf("client sees %v", gvs)
	}
	for _, gv := range catalog.GroupVersions() {
		doc, err := root.GVSpec(gv)
		if err != nil {
			t.Fatalf("%v: %v", gv, err)
		}
		for path, item := range doc.Paths.Paths {
			if op := item.Patch; op != nil {
				names := map[string]bool{}
				for _, p := range op.Parameters {
					if p.In == "query" {
						names[p.Name] = true
					}
				}
				if !names["fieldValidation"] || !names["fieldManager"] || !names["dryRun"] {
					t.Errorf("%s PATCH query parameters: %v", path, names)
				}
				if _, ok := op.RequestBody.Content["application/strategic-merge-patch+json"]; !ok {
					t.Errorf("%s PATCH does not accept strategic merge patch", path)
				}
			}
		}
		m, err := root.GVSpecAsMap(gv)
		if err != nil {
			t.Fatal(err)
		}
		schemas := m["components"].(map[string]any)["schemas"].(map[string]any)
		checkRefs(t, gv.String(), m, schemas)
	}

	verifier := resource.NewQueryParamVerifierV3(dynamic.NewForConfigOrDie(f.config()), oc, resource.QueryParamFieldValidation)
	for _, r := range catalog.Resources {
		if !hasVerb(r, "patch") {
			continue
		}
		if err := verifier.HasSupport(r.GVK()); err != nil {
			t.Errorf("fieldValidation not detected for %v: %v", r.GVK(), err)
		}
	}
	if err := verifier.HasSupport(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Bogus"}); err == nil {
		t.Error("verifier accepted an unknown kind")
	}
}

// checkRefs fails for any $ref that does not name a schema of the same document.
func checkRefs(t *testing.T, where string, v any, schemas map[string]any) {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok {
			name, found := strings.CutPrefix(ref, "#/components/schemas/")
			if _, ok := schemas[name]; !found || !ok {
				t.Errorf("%s: dangling reference %s", where, ref)
			}
		}
		for _, e := range x {
			checkRefs(t, where, e, schemas)
		}
	case []any:
		for _, e := range x {
			checkRefs(t, where, e, schemas)
		}
	}
}

// TestExplainLibrary renders kubectl's explain (the library behind `kubectl
// explain`, v3 path) for every served resource.
func TestExplainLibrary(t *testing.T) {
	f := newFakeAPI(t)
	oc := discovery.NewDiscoveryClientForConfigOrDie(f.config()).OpenAPIV3()
	for _, r := range catalog.Resources {
		var buf bytes.Buffer
		if err := explainv2.PrintModelDescription(nil, &buf, oc, r.GroupVersionResource, false, 0, "plaintext"); err != nil {
			t.Errorf("explain %v: %v", r.GroupVersionResource, err)
			continue
		}
		if !strings.Contains(buf.String(), "KIND:       "+r.Kind) || !strings.Contains(buf.String(), "metadata\t<ObjectMeta>") {
			t.Errorf("explain %v:\n%s", r.GroupVersionResource, buf.String())
		}
	}
	var buf bytes.Buffer
	deploy := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	err := explainv2.PrintModelDescription([]string{"spec", "template", "spec", "containers", "ports"}, &buf, oc, deploy, false, 0, "plaintext")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FIELD: ports <[]ContainerPort>", "containerPort\t<integer> -required-", "protocol\t<string>"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("explain deployment.spec.template.spec.containers.ports lacks %q:\n%s", want, buf.String())
		}
	}
}

// TestClientGoV2 loads v2 the way kubectl does (protobuf through the discovery
// client) and builds kubectl's models and patch metadata from it.
func TestClientGoV2(t *testing.T) {
	f := newFakeAPI(t)
	doc, err := discovery.NewDiscoveryClientForConfigOrDie(f.config()).OpenAPISchema()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := protomodels.NewOpenAPIData(doc); err != nil {
		t.Fatal(err)
	}
	res, err := kubectlopenapi.NewOpenAPIData(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range catalog.Resources {
		if res.LookupResource(r.GVK()) == nil {
			t.Errorf("v2 has no model for %v", r.GVK())
		}
		if hasVerb(r, "patch") && !slices.Contains(res.GetConsumes(r.GVK(), "PATCH"), "application/strategic-merge-patch+json") {
			t.Errorf("v2 PATCH of %v does not consume strategic merge patch", r.GVK())
		}
	}
	meta := strategicpatch.NewPatchMetaFromOpenAPI(res.LookupResource(schema.GroupVersionKind{Version: "v1", Kind: "Pod"}))
	spec, _, err := meta.LookupPatchMetadataForStruct("spec")
	if err != nil {
		t.Fatal(err)
	}
	_, pm, err := spec.LookupPatchMetadataForSlice("containers")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pm.GetPatchStrategies(), []string{"merge"}) || pm.GetPatchMergeKey() != "name" {
		t.Errorf("pod.spec.containers patch meta: %v key %q", pm.GetPatchStrategies(), pm.GetPatchMergeKey())
	}
}

// TestPatchesMatchGoTypes computes the same three-way apply patch from the Go
// struct tags (kubectl's last resort) and from both documents: they must agree.
func TestPatchesMatchGoTypes(t *testing.T) {
	f := newFakeAPI(t)
	dc := discovery.NewDiscoveryClientForConfigOrDie(f.config())
	gvk := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}

	original := deployYAMLJSON(t, "nginx:1.25", `[{"name":"A","value":"1"},{"name":"B","value":"2"}]`,
		`[{"containerPort":80},{"containerPort":53,"protocol":"UDP"}]`, `{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}`)
	modified := deployYAMLJSON(t, "nginx:1.26", `[{"name":"B","value":"3"},{"name":"C","value":"4"}]`,
		`[{"containerPort":80}]`, `{"type":"Recreate"}`)
	current := original

	fromStruct, err := strategicpatch.NewPatchMetaFromStruct(&appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current, fromStruct, false)
	if err != nil {
		t.Fatal(err)
	}

	v2doc, err := dc.OpenAPISchema()
	if err != nil {
		t.Fatal(err)
	}
	res, err := kubectlopenapi.NewOpenAPIData(v2doc)
	if err != nil {
		t.Fatal(err)
	}
	fromV2, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current,
		strategicpatch.NewPatchMetaFromOpenAPI(res.LookupResource(gvk)), false)
	if err != nil {
		t.Fatal(err)
	}

	// As kubectl's patcher does: find the component schema tagged with the GVK.
	v3doc, err := openapi3.NewRoot(dc.OpenAPIV3()).GVSpec(gvk.GroupVersion())
	if err != nil {
		t.Fatal(err)
	}
	var fromV3 []byte
	for _, s := range v3doc.Components.Schemas {
		var exts []map[string]string
		if s.Extensions.GetObject("x-kubernetes-group-version-kind", &exts) != nil || len(exts) != 1 || exts[0]["kind"] != "Deployment" {
			continue
		}
		meta := strategicpatch.PatchMetaFromOpenAPIV3{Schema: s, SchemaList: v3doc.Components.Schemas}
		if fromV3, err = strategicpatch.CreateThreeWayMergePatch(original, modified, current, meta, false); err != nil {
			t.Fatal(err)
		}
	}
	if !jsonEqual(t, want, fromV2) || !jsonEqual(t, want, fromV3) {
		t.Errorf("patches differ:\nstruct %s\nv2     %s\nv3     %s", want, fromV2, fromV3)
	}
	if !strings.Contains(string(want), "$setElementOrder/containers") || !strings.Contains(string(want), "$retainKeys") {
		t.Errorf("fixture does not exercise merge and retainKeys: %s", want)
	}
}

func deployYAMLJSON(t *testing.T, image, env, ports, strategy string) []byte {
	t.Helper()
	s := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},
	"spec":{"replicas":2,"strategy":` + strategy + `,"selector":{"matchLabels":{"app":"web"}},
	"template":{"metadata":{"labels":{"app":"web"}},"spec":{
	"containers":[{"name":"web","image":"` + image + `","env":` + env + `,"ports":` + ports + `},{"name":"side","image":"busybox"}],
	"volumes":[{"name":"data","emptyDir":{}}]}}}}`
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return b
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// lookup walks a decoded JSON document along keys.
func lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDocumentShapes spot-checks paths, operations and special types against
// what upstream publishes for the same resources.
func TestDocumentShapes(t *testing.T) {
	d := New(catalog.Resources)
	d.v3Once.Do(d.buildV3)
	d.v2Once.Do(d.buildV2)
	core, apps := decode(t, d.v3Docs["api/v1"].data), decode(t, d.v3Docs["apis/apps/v1"].data)
	v2 := decode(t, d.v2JSON.data)
	gvkOf := func(op any) string {
		g, _ := lookup(op, "x-kubernetes-group-version-kind").(map[string]any)
		return g["group"].(string) + "/" + g["version"].(string) + "/" + g["kind"].(string)
	}
	ops := []struct {
		doc                      map[string]any
		path, method, id, action string
		gvk                      string
	}{
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "patch", "patchAppsV1NamespacedDeploymentScale", "patch", "autoscaling/v1/Scale"},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status", "put", "replaceAppsV1NamespacedDeploymentStatus", "put", "apps/v1/Deployment"},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}/eviction", "post", "createCoreV1NamespacedPodEviction", "post", "policy/v1/Eviction"},
		{core, "/api/v1/pods", "get", "listCoreV1PodForAllNamespaces", "list", "/v1/Pod"},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}/exec", "post", "connectCoreV1PostNamespacedPodExec", "connect", "/v1/PodExecOptions"},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}/log", "get", "readCoreV1NamespacedPodLog", "get", "/v1/Pod"},
		{core, "/api/v1/namespaces/{name}/finalize", "put", "replaceCoreV1NamespaceFinalize", "put", "/v1/Namespace"},
		{core, "/api/v1/nodes", "delete", "deleteCollectionCoreV1Node", "deletecollection", "/v1/Node"},
		{core, "/api/v1/namespaces/{namespace}/bindings", "post", "createCoreV1NamespacedBinding", "post", "/v1/Binding"},
	}
	for _, c := range ops {
		op := lookup(c.doc, "paths", c.path, c.method)
		if op == nil {
			t.Errorf("%s %s missing", c.method, c.path)
			continue
		}
		if id := lookup(op, "operationId"); id != c.id || lookup(op, "x-kubernetes-action") != c.action || gvkOf(op) != c.gvk {
			t.Errorf("%s %s: id %v action %v gvk %s", c.method, c.path, id, lookup(op, "x-kubernetes-action"), gvkOf(op))
		}
	}
	if lookup(core, "paths", "/api/v1/namespaces", "delete") != nil {
		t.Error("namespaces advertise deletecollection, which the catalog does not serve")
	}
	if lookup(core, "paths", "/apis/apps/v1/deployments") != nil || lookup(core, "components", "schemas", "io.k8s.api.apps.v1.Deployment") != nil {
		t.Error("api/v1 document contains apps/v1 content")
	}

	s3 := func(name string, keys ...string) any {
		return lookup(core, append([]string{"components", "schemas", name}, keys...)...)
	}
	s2 := func(name string, keys ...string) any {
		return lookup(v2, append([]string{"definitions", name}, keys...)...)
	}
	const meta = "io.k8s.apimachinery.pkg.apis.meta.v1."
	checks := []struct {
		what      string
		got, want any
	}{
		{"v3 Quantity oneOf", len(s3("io.k8s.apimachinery.pkg.api.resource.Quantity", "oneOf").([]any)), 2},
		{"v2 Quantity type", s2("io.k8s.apimachinery.pkg.api.resource.Quantity", "type"), "string"},
		{"v2 IntOrString format", s2("io.k8s.apimachinery.pkg.util.intstr.IntOrString", "format"), "int-or-string"},
		{"Time format", s3(meta+"Time", "format"), "date-time"},
		{"MicroTime format", s3(meta+"MicroTime", "format"), "date-time"},
		{"FieldsV1 type", s3(meta+"FieldsV1", "type"), "object"},
		{"Patch type", s3(meta+"Patch", "type"), "object"},
		{"Secret.data values", s3("io.k8s.api.core.v1.Secret", "properties", "data", "additionalProperties", "format"), "byte"},
		{"ObjectMeta.uid", s3(meta+"ObjectMeta", "properties", "uid", "type"), "string"},
		{"v2 ObjectMeta.creationTimestamp", s2(meta+"ObjectMeta", "properties", "creationTimestamp", "$ref"), "#/definitions/" + meta + "Time"},
		{"v2 Pod kind optional", slices.Contains(anyStrings(s2("io.k8s.api.core.v1.Pod", "required")), "kind"), false},
		{"Container required", anyStrings(s3("io.k8s.api.core.v1.Container", "required")), []string{"name"}},
		{"Role rules optional", s2("io.k8s.api.rbac.v1.Role", "required"), nil},
		{"env merge key", s3("io.k8s.api.core.v1.Container", "properties", "env", "x-kubernetes-patch-merge-key"), "name"},
		{"volumes strategy", s3("io.k8s.api.core.v1.PodSpec", "properties", "volumes", "x-kubernetes-patch-strategy"), "merge,retainKeys"},
		{"service ports keys", anyStrings(s3("io.k8s.api.core.v1.ServiceSpec", "properties", "ports", "x-kubernetes-list-map-keys")), []string{"port", "protocol"}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v want %#v", c.what, c.got, c.want)
		}
	}
	// allOf/array indices are not map keys: check those by hand.
	if ref := s3(meta+"ObjectMeta", "properties", "creationTimestamp", "allOf").([]any)[0].(map[string]any)["$ref"]; ref != "#/components/schemas/"+meta+"Time" {
		t.Errorf("creationTimestamp ref %v", ref)
	}
	if g := s3("io.k8s.api.core.v1.PodList", "x-kubernetes-group-version-kind").([]any)[0].(map[string]any); g["kind"] != "PodList" {
		t.Errorf("PodList GVK %v", g)
	}
	delGVKs := lookup(apps, "components", "schemas", meta+"DeleteOptions", "x-kubernetes-group-version-kind").([]any)
	if len(delGVKs) != len(catalog.GroupVersions()) {
		t.Errorf("DeleteOptions GVKs: %v", delGVKs)
	}
	if s2(meta+"WatchEvent", "x-kubernetes-group-version-kind") == nil {
		t.Error("v2 lacks WatchEvent")
	}
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, e := range l {
		out = append(out, e.(string))
	}
	return out
}

// TestConcurrentFirstRequests: the first requests race to build the documents;
// every caller must get the same bytes.
func TestConcurrentFirstRequests(t *testing.T) {
	d := New(catalog.Resources)
	paths := []string{"/openapi/v3", "/openapi/v3/api/v1", "/openapi/v2", "/openapi/v3/apis/apps/v1"}
	bodies := make([][]byte, 4*len(paths))
	done := make(chan struct{})
	for i := range bodies {
		go func() {
			defer func() { done <- struct{}{} }()
			bodies[i] = get(t, d, paths[i%len(paths)], nil).Body.Bytes()
		}()
	}
	for range bodies {
		<-done
	}
	for i := len(paths); i < len(bodies); i++ {
		if len(bodies[i]) == 0 || !bytes.Equal(bodies[i], bodies[i%len(paths)]) {
			t.Errorf("%s: responses differ between concurrent callers", paths[i%len(paths)])
		}
	}
}
