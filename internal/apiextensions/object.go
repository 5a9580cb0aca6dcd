// Package apiextensions holds what CustomResourceDefinitions need beyond their Go
// types (k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1): the Go form of
// a custom resource (Object), the CRD's own defaults and validation, and the
// structural-schema validation, pruning and defaulting of custom resources.
package apiextensions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Object is one custom resource. Its metadata is a real ObjectMeta, so the API
// server's request path (server-owned metadata, finalizers, deletion, managed
// fields, PartialObjectMetadata) treats it like any built-in object; every other
// top-level field (spec, status, anything the schema allows) is kept as JSON values
// (map[string]any, []any, string, bool, int64, float64, nil) in Content.
type Object struct {
	metav1.TypeMeta
	metav1.ObjectMeta
	Content map[string]any
}

// ObjectList is a list of custom resources (<Kind>List).
type ObjectList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`
	Items           []Object `json:"items"`
}

var (
	_ runtime.Object            = &Object{}
	_ metav1.ObjectMetaAccessor = &Object{}
	_ runtime.Object            = &ObjectList{}
)

// GetObjectKind returns the TypeMeta (apiVersion and kind).
func (o *Object) GetObjectKind() schema.ObjectKind { return &o.TypeMeta }

// DeepCopyObject copies the object, content included.
func (o *Object) DeepCopyObject() runtime.Object { return o.DeepCopy() }

// DeepCopy copies the object, content included.
func (o *Object) DeepCopy() *Object {
	if o == nil {
		return nil
	}
	out := &Object{TypeMeta: o.TypeMeta}
	o.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	if o.Content != nil {
		out.Content = runtime.DeepCopyJSON(o.Content)
	}
	return out
}

// GetObjectKind returns the list's TypeMeta.
func (l *ObjectList) GetObjectKind() schema.ObjectKind { return &l.TypeMeta }

// DeepCopyObject copies the list.
func (l *ObjectList) DeepCopyObject() runtime.Object {
	out := &ObjectList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]Object, len(l.Items))
		for i := range l.Items {
			out.Items[i] = *l.Items[i].DeepCopy()
		}
	}
	return out
}

// MarshalJSON writes apiVersion, kind, metadata and the content (keys sorted) as one object.
func (o Object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	field := func(name string, v any) error {
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		buf.Write(k)
		buf.WriteByte(':')
		data, err := json.Marshal(v)
		buf.Write(data)
		return err
	}
	if o.APIVersion != "" {
		_ = field("apiVersion", o.APIVersion)
	}
	if o.Kind != "" {
		_ = field("kind", o.Kind)
	}
	if err := field("metadata", &o.ObjectMeta); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(o.Content))
	for k := range o.Content {
		if k != "apiVersion" && k != "kind" && k != "metadata" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := field(k, o.Content[k]); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON reads an object: apiVersion, kind and metadata into their typed
// fields, everything else into Content with integers kept as int64.
func (o *Object) UnmarshalJSON(data []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return err
	}
	if top == nil {
		return fmt.Errorf("expected a JSON object")
	}
	*o = Object{Content: make(map[string]any, len(top))}
	for k, raw := range top {
		var err error
		switch k {
		case "apiVersion":
			err = json.Unmarshal(raw, &o.APIVersion)
		case "kind":
			err = json.Unmarshal(raw, &o.Kind)
		case "metadata":
			err = json.Unmarshal(raw, &o.ObjectMeta)
		default:
			o.Content[k], err = DecodeJSON(raw)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return nil
}

// DecodeJSON decodes a JSON document into JSON values, integers as int64 and
// other numbers as float64 (the forms k8s.io/apimachinery's unstructured helpers use).
func DecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return convertNumbers(v), nil
}

func convertNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = convertNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = convertNumbers(e)
		}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	}
	return v
}

// Codec stores custom resources as JSON in etcd (custom resources have no
// protobuf form). Decoded objects carry gvk.
type Codec struct{ GVK schema.GroupVersionKind }

// Encode writes obj as JSON with its apiVersion and kind.
func (c Codec) Encode(obj runtime.Object, w io.Writer) error {
	o, ok := obj.(*Object)
	if !ok {
		return fmt.Errorf("apiextensions: cannot store %T as a custom resource", obj)
	}
	o.SetGroupVersionKind(c.GVK)
	data, err := json.Marshal(o)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// Decode reads a stored custom resource (into is ignored unless it is an *Object).
func (c Codec) Decode(data []byte, _ *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	o, ok := into.(*Object)
	if !ok || o == nil {
		o = &Object{}
	}
	if err := o.UnmarshalJSON(data); err != nil {
		return nil, nil, err
	}
	o.SetGroupVersionKind(c.GVK)
	gvk := c.GVK
	return o, &gvk, nil
}

// Identifier names the codec.
func (c Codec) Identifier() runtime.Identifier { return "skiff-storage-custom-json" }
