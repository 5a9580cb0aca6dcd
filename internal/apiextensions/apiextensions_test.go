package apiextensions

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

func schemaOf(t *testing.T, y string) *Schema {
	t.Helper()
	s := &Schema{}
	if err := yaml.Unmarshal([]byte(y), s); err != nil {
		t.Fatal(err)
	}
	return s
}

func content(t *testing.T, j string) map[string]any {
	t.Helper()
	v, err := DecodeJSON([]byte(j))
	if err != nil {
		t.Fatal(err)
	}
	return v.(map[string]any)
}

const testSchema = `
type: object
properties:
  spec:
    type: object
    required: [size]
    properties:
      size: {type: integer, minimum: 1, maximum: 10}
      color: {type: string, enum: [blue, red], default: blue}
      name: {type: string, pattern: '^[a-z]+$', maxLength: 5}
      port: {x-kubernetes-int-or-string: true}
      ratio: {type: number, nullable: true}
      tags: {type: array, maxItems: 2, items: {type: string}}
      extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
      labels: {type: object, additionalProperties: {type: string}}
      items:
        type: array
        items:
          type: object
          properties:
            count: {type: integer, default: 7}
`

func TestValidate(t *testing.T) {
	s := schemaOf(t, testSchema)
	for _, tc := range []struct {
		obj  string
		want string // substring of the errors; "" for valid
	}{
		{`{"spec":{"size":3}}`, ""},
		{`{"spec":{"size":3,"port":"http","ratio":null,"tags":["a"],"labels":{"a":"b"}}}`, ""},
		{`{"spec":{"size":3,"port":80,"ratio":0.5}}`, ""},
		{`{"spec":{}}`, "spec.size: Required value"},
		{`{"spec":{"size":"3"}}`, `spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"`},
		{`{"spec":{"size":0}}`, "spec.size in body should be greater than or equal to 1"},
		{`{"spec":{"size":11}}`, "spec.size in body should be less than or equal to 10"},
		{`{"spec":{"size":1,"color":"green"}}`, `spec.color: Unsupported value: "green": supported values: "blue", "red"`},
		{`{"spec":{"size":1,"name":"A1"}}`, "spec.name in body should match '^[a-z]+$'"},
		{`{"spec":{"size":1,"name":"abcdef"}}`, "spec.name: Too long"},
		{`{"spec":{"size":1,"port":true}}`, "integer-or-string"},
		{`{"spec":{"size":1,"tags":["a","b","c"]}}`, "spec.tags: Too many"},
		{`{"spec":{"size":1,"labels":{"a":1}}}`, "spec.labels.a"},
		{`{"spec":{"size":1,"items":[{"count":"x"}]}}`, "spec.items[0].count"},
		{`{"spec":{"size":null}}`, "must be of type integer"},
	} {
		errs := Validate(s, content(t, tc.obj))
		got := errs.ToAggregate()
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("%s: unexpected errors %v", tc.obj, got)
		case tc.want != "" && (got == nil || !strings.Contains(got.Error(), tc.want)):
			t.Errorf("%s: got %v, want %q", tc.obj, got, tc.want)
		}
	}
}

func TestPruneAndDefault(t *testing.T) {
	s := schemaOf(t, testSchema)
	c := content(t, `{"spec":{"size":1,"bogus":1,"extra":{"any":{"thing":1}},"labels":{"a":"b"},"items":[{"count":1,"x":2},{}]},"top":1}`)
	Prune(s, c)
	Default(s, c)
	got, _ := json.Marshal(c)
	want := `{"spec":{"color":"blue","extra":{"any":{"thing":1}},"items":[{"count":1},{"count":7}],"labels":{"a":"b"},"size":1}}`
	if string(got) != want {
		t.Errorf("pruned and defaulted:\n got %s\nwant %s", got, want)
	}
}

func TestObjectJSONRoundTrip(t *testing.T) {
	in := `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"ns","labels":{"a":"b"}},"spec":{"size":3,"ratio":0.5}}`
	o := &Object{}
	if err := json.Unmarshal([]byte(in), o); err != nil {
		t.Fatal(err)
	}
	if o.Name != "w" || o.Namespace != "ns" || o.Labels["a"] != "b" || o.Kind != "Widget" {
		t.Fatalf("decoded %+v", o)
	}
	if _, ok := o.Content["spec"].(map[string]any)["size"].(int64); !ok {
		t.Errorf("integers must decode as int64: %#v", o.Content["spec"])
	}
	cp := o.DeepCopyObject().(*Object)
	cp.Content["spec"].(map[string]any)["size"] = int64(4)
	if o.Content["spec"].(map[string]any)["size"] != int64(3) {
		t.Error("DeepCopy shares content")
	}
	out, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	_ = json.Unmarshal([]byte(in), &a)
	_ = json.Unmarshal(out, &b)
	if !jsonEqual(a, b) {
		t.Errorf("round trip:\n in %s\nout %s", in, out)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestPrinter(t *testing.T) {
	p := NewPrinter([]apiextensionsv1.CustomResourceColumnDefinition{
		{Name: "Size", Type: "integer", JSONPath: ".spec.size"},
		{Name: "Color", Type: "string", JSONPath: ".spec.color"},
		{Name: "Age", Type: "date", JSONPath: ".metadata.creationTimestamp"},
	})
	now := time.Now()
	o := &Object{ObjectMeta: metav1.ObjectMeta{Name: "w", CreationTimestamp: metav1.NewTime(now.Add(-90 * time.Second))},
		Content: map[string]any{"spec": map[string]any{"size": int64(3)}}}
	tbl, err := p.Table([]runtime.Object{o}, metav1.IncludeNone, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(tbl.ColumnDefinitions) != 4 || tbl.ColumnDefinitions[1].Name != "Size" {
		t.Fatalf("columns %+v", tbl.ColumnDefinitions)
	}
	cells := tbl.Rows[0].Cells
	if cells[0] != "w" || cells[1] != int64(3) || cells[2] != nil || cells[3] != "90s" {
		t.Errorf("cells %#v", cells)
	}
	def := NewPrinter(nil)
	if cols := def.Columns(); len(cols) != 2 || cols[1].Name != "Age" {
		t.Errorf("default columns %+v", cols)
	}
}

func validCRD() *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "example.com", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Kind: "Widget"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object"}}}},
		},
	}
}

func TestValidateCRD(t *testing.T) {
	ok := validCRD()
	DefaultCRD(ok)
	if ok.Spec.Names.Singular != "widget" || ok.Spec.Names.ListKind != "WidgetList" || ok.Spec.Conversion.Strategy != apiextensionsv1.NoneConverter {
		t.Fatalf("defaults: %+v %+v", ok.Spec.Names, ok.Spec.Conversion)
	}
	if errs := ValidateCRD(ok); len(errs) != 0 {
		t.Fatalf("valid CRD: %v", errs)
	}
	for _, tc := range []struct {
		mutate func(*apiextensionsv1.CustomResourceDefinition)
		want   string
	}{
		{func(c *apiextensionsv1.CustomResourceDefinition) { c.Name = "widgets.other.com" }, "metadata.name"},
		{func(c *apiextensionsv1.CustomResourceDefinition) {
			c.Spec.Group = "example"
			c.Name = "widgets.example"
		}, "should be a domain with at least one dot"},
		{func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Scope = "Global" }, "spec.scope: Unsupported value"},
		{func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Versions[0].Storage = false }, "exactly one version marked as storage version"},
		{func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Versions[0].Schema = nil }, "schemas are required"},
		{func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Versions[0].Schema.OpenAPIV3Schema.Type = "" }, "must not be empty at the root"},
		{func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Names.ShortNames = []string{"Bad_Name"} }, "spec.names.shortNames[0]"},
		{func(c *apiextensionsv1.CustomResourceDefinition) { c.Spec.Versions[0].Served = false }, "at least one version marked as served"},
	} {
		c := validCRD()
		tc.mutate(c)
		DefaultCRD(c)
		errs := ValidateCRD(c).ToAggregate()
		if errs == nil || !strings.Contains(errs.Error(), tc.want) {
			t.Errorf("got %v, want %q", errs, tc.want)
		}
	}
}
