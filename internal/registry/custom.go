package registry

import (
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apiextensions"
	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

// Custom builds the strategy of one served version of a CustomResourceDefinition:
// CRs are "just another strategy built at runtime". res is the catalog row the
// server derived from the CRD (its NewFunc makes *apiextensions.Object).
//
// With a status subresource, status is the controllers' (main writes keep the
// stored status, /status writes change only status, labels and annotations) and
// the generation grows on any other change; without one, the generation grows on
// any change outside metadata. Objects are defaulted, pruned and validated against
// the version's openAPIV3Schema.
func Custom(res *catalog.Resource, v *apiextensionsv1.CustomResourceDefinitionVersion) *Strategy {
	if v == nil {
		v = &apiextensionsv1.CustomResourceDefinitionVersion{}
	}
	var schema *apiextensionsv1.JSONSchemaProps
	if v.Schema != nil {
		schema = v.Schema.OpenAPIV3Schema
	}
	hasStatus := v.Subresources != nil && v.Subresources.Status != nil
	st := &Strategy{
		Resource: res,
		Default: func(obj runtime.Object) {
			o := obj.(*apiextensions.Object)
			apiextensions.Prune(schema, o.Content)
			apiextensions.Default(schema, o.Content)
		},
		Printer:          apiextensions.NewPrinter(v.AdditionalPrinterColumns),
		SelectableFields: func(runtime.Object) fields.Set { return fields.Set{} },
		fieldLabels:      map[string]bool{"metadata.name": true, "metadata.namespace": true},
	}
	st.Validate = func(obj runtime.Object) field.ErrorList {
		o := obj.(*apiextensions.Object)
		errs := validateCustomMeta(o, res.Namespaced)
		return append(errs, apiextensions.Validate(schema, o.Content)...)
	}
	st.ValidateUpdate = func(obj, _ runtime.Object) field.ErrorList { return st.Validate(obj) }
	st.PrepareForCreate = func(obj runtime.Object) {
		o := obj.(*apiextensions.Object)
		o.Generation = 1
		if hasStatus {
			delete(o.Content, "status")
		}
	}
	st.PrepareForUpdate = func(obj, old runtime.Object) {
		o, p := obj.(*apiextensions.Object), old.(*apiextensions.Object)
		if hasStatus {
			setStatus(o, p)
		}
		if !apiequality.Semantic.DeepEqual(desired(o, hasStatus), desired(p, hasStatus)) {
			o.Generation = p.Generation + 1
		}
	}
	if hasStatus {
		st.Status = &StatusStrategy{
			ResetOnCreate: true,
			PrepareForUpdate: func(obj, old runtime.Object) runtime.Object {
				out := old.DeepCopyObject().(*apiextensions.Object)
				in := obj.(*apiextensions.Object)
				setStatus(out, in)
				out.ResourceVersion = in.ResourceVersion
				out.Labels, out.Annotations = in.Labels, in.Annotations
				return out
			},
			ValidateUpdate: func(obj, _ runtime.Object) field.ErrorList { return st.Validate(obj) },
		}
	}
	if v.Subresources != nil && v.Subresources.Scale != nil {
		st.Scale = customScale(v.Subresources.Scale)
	}
	return st
}

// validateCustomMeta checks a custom resource's metadata: names are path segments
// (upstream's rule for custom resources), scope as the CRD says.
func validateCustomMeta(o *apiextensions.Object, namespaced bool) field.ErrorList {
	nameFn := func(name string, prefix bool) []string { return path.ValidatePathSegmentName(name, prefix) }
	return apimachineryvalidation.ValidateObjectMeta(&o.ObjectMeta, namespaced, nameFn, field.NewPath("metadata"))
}

// setStatus copies src's status into dst (removing it when src has none).
func setStatus(dst, src *apiextensions.Object) {
	if dst.Content == nil {
		dst.Content = map[string]any{}
	}
	if s, ok := src.Content["status"]; ok {
		dst.Content["status"] = runtime.DeepCopyJSONValue(s)
	} else {
		delete(dst.Content, "status")
	}
}

// desired is what a change of bumps the generation: everything but metadata
// (and status, when it is a subresource).
func desired(o *apiextensions.Object, hasStatus bool) map[string]any {
	out := make(map[string]any, len(o.Content))
	for k, v := range o.Content {
		if hasStatus && k == "status" {
			continue
		}
		out[k] = v
	}
	return out
}

// customScale reads and writes replicas at the CRD's JSON paths (".spec.replicas").
func customScale(sc *apiextensionsv1.CustomResourceSubresourceScale) *ScaleStrategy {
	fieldsOf := func(p string) []string { return strings.Split(strings.TrimPrefix(p, "."), ".") }
	return &ScaleStrategy{
		Replicas: func(obj runtime.Object) (int32, int32, string) {
			o := obj.(*apiextensions.Object)
			spec, _, _ := unstructured.NestedInt64(o.Content, fieldsOf(sc.SpecReplicasPath)...)
			status, _, _ := unstructured.NestedInt64(o.Content, fieldsOf(sc.StatusReplicasPath)...)
			var selector string
			if sc.LabelSelectorPath != nil {
				selector, _, _ = unstructured.NestedString(o.Content, fieldsOf(*sc.LabelSelectorPath)...)
			}
			return int32(spec), int32(status), selector
		},
		SetReplicas: func(obj runtime.Object, n int32) {
			o := obj.(*apiextensions.Object)
			if o.Content == nil {
				o.Content = map[string]any{}
			}
			_ = unstructured.SetNestedField(o.Content, int64(n), fieldsOf(sc.SpecReplicasPath)...)
		},
	}
}
