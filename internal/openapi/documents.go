package openapi

import (
	"encoding/json"
	"reflect"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

// model is everything both document formats are rendered from.
type model struct {
	defs   map[string]*node
	groups []groupPaths // served group versions in discovery order
}

type groupPaths struct {
	gv    schema.GroupVersion
	paths []pathItem
}

// buildModel walks the Go types of every resource (and what they reference).
func buildModel(resources []catalog.Resource) *model {
	b := newBuilder()
	var gvs []schema.GroupVersion
	seen := map[schema.GroupVersion]bool{}
	for i := range resources {
		r := &resources[i]
		if gv := r.GroupVersion(); !seen[gv] {
			seen[gv] = true
			gvs = append(gvs, gv)
		}
		registerKinds(b, r)
	}
	// Kinds every group version serves, tagged like upstream so clients can map them back.
	for _, gv := range gvs {
		b.addGVK(reflect.TypeOf(metav1.DeleteOptions{}), gv.WithKind("DeleteOptions"))
		b.addGVK(reflect.TypeOf(metav1.WatchEvent{}), gv.WithKind("WatchEvent"))
	}
	b.addGVK(reflect.TypeOf(metav1.Status{}), schema.GroupVersionKind{Version: "v1", Kind: "Status"})
	b.ref(reflect.TypeOf(metav1.WatchEvent{})) // advertised in v2 like upstream, though no watch path names it

	m := &model{}
	byGV := map[schema.GroupVersion]int{}
	for _, gv := range gvs {
		byGV[gv] = len(m.groups)
		m.groups = append(m.groups, groupPaths{gv: gv})
	}
	for i := range resources {
		g := &m.groups[byGV[resources[i].GroupVersion()]]
		g.paths = append(g.paths, b.resourcePaths(&resources[i])...)
	}
	m.defs = b.defs
	return m
}

// registerKinds records the GVKs a resource sends and receives, so their
// definitions carry x-kubernetes-group-version-kind.
func registerKinds(b *builder, r *catalog.Resource) {
	kinds := []schema.GroupVersionKind{r.GVK(), r.ListGVK()}
	for _, s := range r.Subresources {
		kinds = append(kinds, s.Kind)
	}
	for _, gvk := range kinds {
		if t, ok := typeOfKind(gvk); ok {
			b.addGVK(t, gvk)
		}
	}
}

type info struct {
	Title   string `json:"title"`
	Version string `json:"version"`
}

var docInfo = info{Title: "Kubernetes", Version: "unversioned"}

// ---- swagger 2.0 ----

type v2Doc struct {
	Swagger     string                    `json:"swagger"`
	Info        info                      `json:"info"`
	Paths       map[string]map[string]any `json:"paths"`
	Definitions map[string]*jsonSchema    `json:"definitions"`
}

type v2Param struct {
	Name        string      `json:"name"`
	In          string      `json:"in"`
	Description string      `json:"description,omitempty"`
	Type        string      `json:"type,omitempty"`
	Required    bool        `json:"required,omitempty"`
	Unique      bool        `json:"uniqueItems,omitempty"`
	Schema      *jsonSchema `json:"schema,omitempty"`
}

type v2Response struct {
	Description string      `json:"description"`
	Schema      *jsonSchema `json:"schema,omitempty"`
}

type v2Op struct {
	Consumes    []string              `json:"consumes"`
	Description string                `json:"description"`
	OperationID string                `json:"operationId"`
	Parameters  []v2Param             `json:"parameters,omitempty"`
	Produces    []string              `json:"produces"`
	Responses   map[string]v2Response `json:"responses"`
	Schemes     []string              `json:"schemes"`
	Tags        []string              `json:"tags"`
	Action      string                `json:"x-kubernetes-action"`
	GVK         gvkExt                `json:"x-kubernetes-group-version-kind"`
}

func v2Params(ps []param) []v2Param {
	out := make([]v2Param, 0, len(ps))
	for _, p := range ps {
		out = append(out, v2Param{Name: p.Name, In: p.In, Description: p.Description, Type: p.Type,
			Required: p.Required, Unique: p.Unique})
	}
	return out
}

func responseSchema(f format, ref string) *jsonSchema {
	if ref == "" {
		return &jsonSchema{Type: "string"}
	}
	return f.refTo(ref)
}

var statusText = map[string]string{"200": "OK", "201": "Created", "202": "Accepted", "401": "Unauthorized"}

func (o *operation) v2() v2Op {
	out := v2Op{Consumes: anyMedia, Description: o.desc, OperationID: o.id, Produces: o.produces,
		Schemes: []string{"https"}, Tags: []string{o.tag}, Action: o.action, GVK: toExt(o.gvk),
		Responses: map[string]v2Response{"401": {Description: statusText["401"]}}}
	if o.patch {
		out.Consumes = patchTypes
	}
	if o.body != "" {
		out.Parameters = append(out.Parameters, v2Param{Name: "body", In: "body",
			Required: o.method != "delete", Schema: swagger2.refTo(o.body)})
	}
	out.Parameters = append(out.Parameters, v2Params(o.query)...)
	for _, r := range o.responses {
		out.Responses[r.code] = v2Response{Description: statusText[r.code], Schema: responseSchema(swagger2, r.ref)}
	}
	return out
}

func (m *model) swagger() ([]byte, error) {
	doc := v2Doc{Swagger: "2.0", Info: docInfo, Paths: map[string]map[string]any{},
		Definitions: make(map[string]*jsonSchema, len(m.defs))}
	for name, n := range m.defs {
		doc.Definitions[name] = swagger2.render(n)
	}
	for _, g := range m.groups {
		for _, p := range g.paths {
			item := map[string]any{"parameters": v2Params(p.params)}
			for _, o := range p.ops {
				item[o.method] = o.v2()
			}
			doc.Paths[p.path] = item
		}
	}
	return json.Marshal(doc)
}

// ---- OpenAPI 3.0 ----

type v3Doc struct {
	OpenAPI    string                    `json:"openapi"`
	Info       info                      `json:"info"`
	Paths      map[string]map[string]any `json:"paths"`
	Components v3Components              `json:"components"`
}

type v3Components struct {
	Schemas map[string]*jsonSchema `json:"schemas"`
}

type v3Param struct {
	Name        string      `json:"name"`
	In          string      `json:"in"`
	Description string      `json:"description,omitempty"`
	Required    bool        `json:"required,omitempty"`
	Schema      *jsonSchema `json:"schema"`
}

type v3Media struct {
	Schema *jsonSchema `json:"schema"`
}

type v3Body struct {
	Content  map[string]v3Media `json:"content"`
	Required bool               `json:"required,omitempty"`
}

type v3Response struct {
	Description string             `json:"description"`
	Content     map[string]v3Media `json:"content,omitempty"`
}

type v3Op struct {
	Description string                `json:"description"`
	OperationID string                `json:"operationId"`
	Parameters  []v3Param             `json:"parameters,omitempty"`
	RequestBody *v3Body               `json:"requestBody,omitempty"`
	Responses   map[string]v3Response `json:"responses"`
	Tags        []string              `json:"tags"`
	Action      string                `json:"x-kubernetes-action"`
	GVK         gvkExt                `json:"x-kubernetes-group-version-kind"`
}

func v3Params(ps []param) []v3Param {
	out := make([]v3Param, 0, len(ps))
	for _, p := range ps {
		out = append(out, v3Param{Name: p.Name, In: p.In, Description: p.Description, Required: p.Required,
			Schema: &jsonSchema{Type: p.Type}})
	}
	return out
}

func (o *operation) v3() v3Op {
	out := v3Op{Description: o.desc, OperationID: o.id, Parameters: v3Params(o.query), Tags: []string{o.tag},
		Action: o.action, GVK: toExt(o.gvk), Responses: map[string]v3Response{"401": {Description: statusText["401"]}}}
	if o.body != "" {
		types := anyMedia
		if o.patch {
			types = patchTypes
		}
		body := &v3Body{Content: map[string]v3Media{}, Required: o.method != "delete"}
		for _, t := range types {
			body.Content[t] = v3Media{Schema: openAPI3.refTo(o.body)}
		}
		out.RequestBody = body
	}
	for _, r := range o.responses {
		resp := v3Response{Description: statusText[r.code], Content: map[string]v3Media{}}
		for _, t := range o.produces {
			resp.Content[t] = v3Media{Schema: responseSchema(openAPI3, r.ref)}
		}
		out.Responses[r.code] = resp
	}
	return out
}

// refs lists the definitions an operation names directly.
func (o *operation) refs() []string {
	var out []string
	if o.body != "" {
		out = append(out, o.body)
	}
	for _, r := range o.responses {
		if r.ref != "" {
			out = append(out, r.ref)
		}
	}
	return out
}

// openAPI3Docs renders one document per group version. Definitions are
// rendered once and shared; each document lists only the ones it reaches.
func (m *model) openAPI3Docs() (map[string][]byte, error) {
	rendered := make(map[string]*jsonSchema, len(m.defs))
	for name, n := range m.defs {
		rendered[name] = openAPI3.render(n)
	}
	out := make(map[string][]byte, len(m.groups))
	for _, g := range m.groups {
		doc := v3Doc{OpenAPI: "3.0.0", Info: docInfo, Paths: map[string]map[string]any{},
			Components: v3Components{Schemas: map[string]*jsonSchema{}}}
		var roots []string
		for _, p := range g.paths {
			item := map[string]any{"parameters": v3Params(p.params)}
			for _, o := range p.ops {
				item[o.method] = o.v3()
				roots = append(roots, o.refs()...)
			}
			doc.Paths[p.path] = item
		}
		for _, name := range m.closure(roots) {
			doc.Components.Schemas[name] = rendered[name]
		}
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, err
		}
		out[gvPath(g.gv)] = b
	}
	return out, nil
}

// closure returns the given definitions and everything they reference, sorted.
func (m *model) closure(roots []string) []string {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		m.defs[name].refs(visit)
	}
	for _, r := range roots {
		visit(r)
	}
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
