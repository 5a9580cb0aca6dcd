package openapi

// jsonSchema is the wire form of a schema in either format. Field order only
// affects readability; clients look keys up by name.
type jsonSchema struct {
	Ref                  string                 `json:"$ref,omitempty"`
	AllOf                []*jsonSchema          `json:"allOf,omitempty"`
	Description          string                 `json:"description,omitempty"`
	Type                 string                 `json:"type,omitempty"`
	Format               string                 `json:"format,omitempty"`
	OneOf                []*jsonSchema          `json:"oneOf,omitempty"`
	Items                *jsonSchema            `json:"items,omitempty"`
	AdditionalProperties *jsonSchema            `json:"additionalProperties,omitempty"`
	Properties           map[string]*jsonSchema `json:"properties,omitempty"`
	Required             []string               `json:"required,omitempty"`
	XIntOrString         bool                   `json:"x-kubernetes-int-or-string,omitempty"`
	XListMapKeys         []string               `json:"x-kubernetes-list-map-keys,omitempty"`
	XListType            string                 `json:"x-kubernetes-list-type,omitempty"`
	XPatchMergeKey       string                 `json:"x-kubernetes-patch-merge-key,omitempty"`
	XPatchStrategy       string                 `json:"x-kubernetes-patch-strategy,omitempty"`
	XGVK                 []gvkExt               `json:"x-kubernetes-group-version-kind,omitempty"`
}

// format selects the dialect a node is rendered in.
type format struct {
	refPrefix string
	v3        bool
}

var (
	swagger2 = format{refPrefix: "#/definitions/"}
	openAPI3 = format{refPrefix: "#/components/schemas/", v3: true}
)

func (f format) refTo(name string) *jsonSchema { return &jsonSchema{Ref: f.refPrefix + name} }

// render converts a node; nil stays nil.
func (f format) render(n *node) *jsonSchema {
	if n == nil {
		return nil
	}
	out := &jsonSchema{
		Description:    n.Description,
		Type:           n.Type,
		Format:         n.Format,
		Items:          f.render(n.Items),
		Required:       n.Required,
		XListMapKeys:   n.ListMapKeys,
		XListType:      n.ListType,
		XPatchMergeKey: n.PatchMergeKey,
		XPatchStrategy: n.PatchStrategy,
		XGVK:           n.GVK,
	}
	out.AdditionalProperties = f.render(n.AdditionalProperties)
	if len(n.Properties) > 0 {
		out.Properties = make(map[string]*jsonSchema, len(n.Properties))
		for k, p := range n.Properties {
			out.Properties[k] = f.render(p)
		}
	}
	if f.v3 && len(n.OneOf) > 0 {
		// OpenAPI 3 can say "string or number" exactly; swagger 2.0 keeps the single declared type.
		out.Type = ""
		for _, t := range n.OneOf {
			out.OneOf = append(out.OneOf, &jsonSchema{Type: t})
		}
		out.XIntOrString = n.IntOrString
	}
	if n.Ref != "" {
		out.Type, out.Format = "", ""
		if f.v3 && (out.Description != "" || out.XPatchStrategy != "" || out.XPatchMergeKey != "") {
			// OpenAPI 3.0 ignores siblings of $ref; upstream wraps the reference in allOf
			// so the description and patch extensions survive.
			out.AllOf = []*jsonSchema{f.refTo(n.Ref)}
		} else {
			out.Ref = f.refPrefix + n.Ref
		}
	}
	return out
}
