package openapi

import (
	"encoding/json"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// node is one schema in a format-neutral form. Definitions and properties are
// both nodes; rendering turns them into swagger 2.0 or OpenAPI 3.0 JSON, which
// differ mainly in how references and one-of types are written.
type node struct {
	Ref         string // definition name (not a JSON pointer); other fields then only annotate the reference
	Description string
	Type        string
	Format      string
	// OneOf lists alternative primitive types; only OpenAPI 3 can express it,
	// swagger 2.0 falls back to Type/Format.
	OneOf                []string
	Items                *node
	AdditionalProperties *node
	Properties           map[string]*node
	Required             []string

	PatchStrategy string
	PatchMergeKey string
	ListType      string
	ListMapKeys   []string
	IntOrString   bool
	GVK           []gvkExt
}

// gvkExt is the value of x-kubernetes-group-version-kind (field order as upstream: group, kind, version).
type gvkExt struct {
	Group   string `json:"group"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
}

func toExt(gvk schema.GroupVersionKind) gvkExt {
	return gvkExt{Group: gvk.Group, Kind: gvk.Kind, Version: gvk.Version}
}

// refs calls f with the name of every definition n points to directly.
func (n *node) refs(f func(string)) {
	if n == nil {
		return
	}
	if n.Ref != "" {
		f(n.Ref)
	}
	n.Items.refs(f)
	n.AdditionalProperties.refs(f)
	for _, p := range n.Properties {
		p.refs(f)
	}
}

// Interfaces apimachinery's special types implement to describe their custom
// JSON form (the same hooks upstream's openapi-gen reads).
type (
	schemaTyper   interface{ OpenAPISchemaType() []string }
	schemaFormer  interface{ OpenAPISchemaFormat() string }
	v3OneOfTyper  interface{ OpenAPIV3OneOfTypes() []string }
	swaggerDocer  interface{ SwaggerDoc() map[string]string }
	jsonMarshaler = json.Marshaler
)

var marshalerType = reflect.TypeOf((*jsonMarshaler)(nil)).Elem()

// Descriptions for special types whose packages carry no SwaggerDoc. Our own words.
var specialDocs = map[string]string{
	"io.k8s.apimachinery.pkg.api.resource.Quantity": "Quantity is a fixed-point decimal number with an optional " +
		"suffix: a binary SI suffix (Ki, Mi, Gi, Ti, Pi, Ei), a decimal SI suffix (n, u, m, \"\", k, M, G, T, P, E) " +
		"or a decimal exponent (e3, E6). It is written as a string such as \"100m\", \"1.5Gi\" or \"2e3\".",
	"io.k8s.apimachinery.pkg.util.intstr.IntOrString": "IntOrString holds either an integer or a string; " +
		"in JSON it is written as the bare number or the bare string.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.Time": "Time is a timestamp in RFC 3339 form with second precision, " +
		"always written in UTC, e.g. \"2024-01-02T15:04:05Z\".",
	"io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "MicroTime is a timestamp in RFC 3339 form with microsecond precision, " +
		"e.g. \"2024-01-02T15:04:05.000001Z\".",
	"io.k8s.apimachinery.pkg.apis.meta.v1.Duration": "Duration is a length of time written as a Go duration " +
		"string, e.g. \"30s\" or \"1h5m\".",
	"io.k8s.apimachinery.pkg.runtime.RawExtension": "RawExtension holds an embedded object in its JSON form; " +
		"its schema depends on the object's own apiVersion and kind.",
}

// optionalWithoutOmitempty lists fields of the served types (k8s.io/api v0.37)
// that are marked +optional in their Go source although their JSON tag lacks
// omitempty. The markers do not survive compilation, so the exceptions to the
// "no omitempty means required" rule are kept here.
var optionalWithoutOmitempty = setOf(
	"io.k8s.api.core.v1.TypedObjectReference.apiGroup",
	"io.k8s.api.core.v1.TypedLocalObjectReference.apiGroup",
	"io.k8s.api.core.v1.AzureFilePersistentVolumeSource.secretNamespace",
	"io.k8s.api.core.v1.ProjectedVolumeSource.sources",
	"io.k8s.api.core.v1.GRPCAction.service",
	"io.k8s.api.core.v1.NodeRuntimeHandler.name",
	"io.k8s.api.core.v1.ContainerImage.names",
	"io.k8s.api.core.v1.Event.reportingComponent",
	"io.k8s.api.core.v1.Event.reportingInstance",
	"io.k8s.api.apps.v1.StatefulSetOrdinals.start",
	"io.k8s.api.apps.v1.StatefulSetSpec.serviceName",
	"io.k8s.api.apps.v1.StatefulSetStatus.availableReplicas",
	"io.k8s.api.apps.v1.StatefulSetCondition.type",
	"io.k8s.api.apps.v1.StatefulSetCondition.status",
	"io.k8s.api.apps.v1.DeploymentCondition.type",
	"io.k8s.api.apps.v1.DeploymentCondition.status",
	"io.k8s.api.apps.v1.DaemonSetCondition.type",
	"io.k8s.api.apps.v1.DaemonSetCondition.status",
	"io.k8s.api.apps.v1.ReplicaSetCondition.type",
	"io.k8s.api.apps.v1.ReplicaSetCondition.status",
	"io.k8s.api.apps.v1.ControllerRevision.revision",
	"io.k8s.api.batch.v1.PodFailurePolicyOnPodConditionsPattern.status",
	"io.k8s.api.rbac.v1.RoleRef.apiGroup",
	"io.k8s.api.rbac.v1.Role.rules",
	"io.k8s.api.rbac.v1.ClusterRole.rules",
	"io.k8s.api.policy.v1.PodDisruptionBudgetStatus.disruptionsAllowed",
	"io.k8s.api.policy.v1.PodDisruptionBudgetStatus.currentHealthy",
	"io.k8s.api.policy.v1.PodDisruptionBudgetStatus.desiredHealthy",
	"io.k8s.api.policy.v1.PodDisruptionBudgetStatus.expectedPods",
	"io.k8s.api.discovery.v1.EndpointSlice.endpoints",
	"io.k8s.api.discovery.v1.EndpointSlice.ports",
	"io.k8s.api.scheduling.v1.PriorityClass.value",
)

func setOf(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// defName derives the upstream-style definition name from a Go type's package
// path: k8s.io/api/core/v1.Pod -> io.k8s.api.core.v1.Pod.
func defName(t reflect.Type) string {
	pkg := t.PkgPath()
	host, rest, _ := strings.Cut(pkg, "/")
	labels := strings.Split(host, ".")
	for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
		labels[i], labels[j] = labels[j], labels[i]
	}
	parts := labels
	if rest != "" {
		parts = append(parts, strings.Split(rest, "/")...)
	}
	return strings.Join(parts, ".") + "." + t.Name()
}

// builder turns Go types into definitions by reflection. It is used by a
// single goroutine (inside sync.Once) and discarded once the model is built.
type builder struct {
	defs   map[string]*node
	byType map[reflect.Type]string
	gvks   map[reflect.Type][]gvkExt
}

func newBuilder() *builder {
	return &builder{defs: map[string]*node{}, byType: map[reflect.Type]string{}, gvks: map[reflect.Type][]gvkExt{}}
}

// addGVK tags the definition of t (when it is generated) with a served kind.
func (b *builder) addGVK(t reflect.Type, gvk schema.GroupVersionKind) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	e := toExt(gvk)
	for _, have := range b.gvks[t] {
		if have == e {
			return
		}
	}
	b.gvks[t] = append(b.gvks[t], e)
}

// ref returns the definition name of struct type t, generating it on first use.
func (b *builder) ref(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if name, ok := b.byType[t]; ok {
		return name
	}
	name := defName(t)
	b.byType[t] = name
	def := &node{}
	b.defs[name] = def // before filling, so recursive types terminate
	b.fillDef(t, name, def)
	def.GVK = b.gvks[t]
	return name
}

// fillDef writes the schema of named type t into def.
func (b *builder) fillDef(t reflect.Type, name string, def *node) {
	zero := reflect.Zero(t).Interface()
	def.Description = typeDoc(zero, name)
	if st, ok := zero.(schemaTyper); ok {
		if types := st.OpenAPISchemaType(); len(types) > 0 {
			def.Type = types[0]
		}
		if sf, ok := zero.(schemaFormer); ok {
			def.Format = sf.OpenAPISchemaFormat()
		}
		if oo, ok := zero.(v3OneOfTyper); ok {
			def.OneOf = oo.OpenAPIV3OneOfTypes()
		}
		def.IntOrString = def.Format == "int-or-string"
		return
	}
	// Custom JSON without a declared schema (RawExtension, FieldsV1) or a struct
	// without JSON fields (Patch): an arbitrary object.
	if t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) {
		def.Type = "object"
		return
	}
	def.Type = "object"
	b.fields(t, def)
}

// typeDoc is the type's own description ("" key of SwaggerDoc) or our text for special types.
func typeDoc(zero any, name string) string {
	if d, ok := zero.(swaggerDocer); ok {
		if s := d.SwaggerDoc()[""]; s != "" {
			return s
		}
	}
	return specialDocs[name]
}

// fields adds the JSON fields of struct t (following inline embedding) to def.
func (b *builder) fields(t reflect.Type, def *node) {
	var docs map[string]string
	if d, ok := reflect.Zero(t).Interface().(swaggerDocer); ok {
		docs = d.SwaggerDoc()
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if name == "" && (f.Anonymous || hasOpt(opts, "inline")) && ft.Kind() == reflect.Struct {
			b.fields(ft, def) // TypeMeta, VolumeSource, ...: fields appear at this level
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		prop := b.schemaOf(f.Type)
		prop.Description = docs[name]
		b.patchMeta(f, ft, prop)
		if def.Properties == nil {
			def.Properties = map[string]*node{}
		}
		def.Properties[name] = prop
		optional := hasOpt(opts, "omitempty") || hasOpt(opts, "omitzero") || optionalWithoutOmitempty[defName(t)+"."+name]
		if !optional {
			def.Required = append(def.Required, name)
		}
	}
}

// patchMeta copies strategic-merge-patch tags into the extensions kubectl's
// patch computation reads, and derives a list-map type where items merge by key.
func (b *builder) patchMeta(f reflect.StructField, ft reflect.Type, prop *node) {
	prop.PatchStrategy = f.Tag.Get("patchStrategy")
	prop.PatchMergeKey = f.Tag.Get("patchMergeKey")
	if prop.PatchMergeKey == "" || !strings.Contains(prop.PatchStrategy, "merge") || ft.Kind() != reflect.Slice {
		return
	}
	prop.ListType = "map"
	prop.ListMapKeys = []string{prop.PatchMergeKey}
	// Ports are unique per (port, protocol), not per port alone.
	if strings.Contains(strings.ToLower(prop.PatchMergeKey), "port") && hasJSONField(ft.Elem(), "protocol") {
		prop.ListMapKeys = append(prop.ListMapKeys, "protocol")
	}
}

func hasJSONField(t reflect.Type, name string) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := 0; i < t.NumField(); i++ {
		n, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if n == name {
			return true
		}
	}
	return false
}

func hasOpt(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// schemaOf returns a fresh node for a field of type t: a reference for
// structs and special types, an inline schema otherwise.
func (b *builder) schemaOf(t reflect.Type) *node {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Struct {
		return &node{Ref: b.ref(t)}
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return &node{Type: "string", Format: "byte"}
		}
		return &node{Type: "array", Items: b.schemaOf(t.Elem())}
	case reflect.Map:
		return &node{Type: "object", AdditionalProperties: b.schemaOf(t.Elem())}
	case reflect.String:
		return &node{Type: "string"}
	case reflect.Bool:
		return &node{Type: "boolean"}
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int, reflect.Uint8, reflect.Uint16:
		return &node{Type: "integer", Format: "int32"}
	case reflect.Int64, reflect.Uint32, reflect.Uint64, reflect.Uint:
		return &node{Type: "integer", Format: "int64"}
	case reflect.Float32:
		return &node{Type: "number", Format: "float"}
	case reflect.Float64:
		return &node{Type: "number", Format: "double"}
	default: // interface{} and anything else: any JSON value
		return &node{}
	}
}
