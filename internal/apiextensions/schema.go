package apiextensions

import (
	"fmt"
	"regexp"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Schema is a structural openAPIV3Schema (apiextensions.k8s.io/v1 requires one).
type Schema = apiextensionsv1.JSONSchemaProps

// Validate checks a custom resource's content (everything but apiVersion, kind and
// metadata) against the version's schema. Errors carry field paths and messages
// shaped like upstream's ("spec.replicas in body must be of type integer").
// x-kubernetes-validations (CEL) rules are not evaluated.
func Validate(s *Schema, content map[string]any) field.ErrorList {
	if s == nil {
		return nil
	}
	var errs field.ErrorList
	validateObject(s, content, nil, &errs)
	return errs
}

func child(p *field.Path, name string) *field.Path {
	if p == nil {
		return field.NewPath(name)
	}
	return p.Child(name)
}

func bodyPath(p *field.Path) string {
	if p == nil {
		return "body"
	}
	return p.String() + " in body"
}

func preserves(s *Schema) bool { return s.XPreserveUnknownFields != nil && *s.XPreserveUnknownFields }

// jsonType names the JSON type of a value as the schema's "type" does.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case int64:
		return "integer"
	case float64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func validateValue(s *Schema, v any, p *field.Path, errs *field.ErrorList) {
	if v == nil {
		if !s.Nullable && s.Type != "" {
			*errs = append(*errs, field.Invalid(p, "null", fmt.Sprintf("%s must be of type %s: %q", bodyPath(p), s.Type, "null")))
		}
		return
	}
	t := jsonType(v)
	if s.XIntOrString {
		if t != "integer" && t != "string" {
			*errs = append(*errs, field.Invalid(p, t, fmt.Sprintf("%s must be of type integer-or-string: %q", bodyPath(p), t)))
			return
		}
	} else if s.Type != "" && s.Type != t && !(s.Type == "number" && t == "integer") {
		*errs = append(*errs, field.Invalid(p, t, fmt.Sprintf("%s must be of type %s: %q", bodyPath(p), s.Type, t)))
		return
	}
	validateEnum(s, v, p, errs)
	switch x := v.(type) {
	case map[string]any:
		validateObject(s, x, p, errs)
	case []any:
		validateArray(s, x, p, errs)
	case string:
		validateString(s, x, p, errs)
	case int64:
		validateNumber(s, float64(x), v, p, errs)
	case float64:
		validateNumber(s, x, v, p, errs)
	}
	validateCombinators(s, v, p, errs)
}

func validateEnum(s *Schema, v any, p *field.Path, errs *field.ErrorList) {
	if len(s.Enum) == 0 {
		return
	}
	var allowed []string
	for _, e := range s.Enum {
		ev, err := DecodeJSON(e.Raw)
		if err == nil && apiequality.Semantic.DeepEqual(ev, v) {
			return
		}
		allowed = append(allowed, strings.Trim(string(e.Raw), `"`))
	}
	*errs = append(*errs, field.NotSupported(p, v, allowed))
}

func validateObject(s *Schema, obj map[string]any, p *field.Path, errs *field.ErrorList) {
	for _, name := range s.Required {
		if _, ok := obj[name]; !ok {
			*errs = append(*errs, field.Required(child(p, name), ""))
		}
	}
	if s.MaxProperties != nil && int64(len(obj)) > *s.MaxProperties {
		*errs = append(*errs, field.TooMany(p, len(obj), int(*s.MaxProperties)))
	}
	if s.MinProperties != nil && int64(len(obj)) < *s.MinProperties {
		*errs = append(*errs, field.Invalid(p, len(obj), fmt.Sprintf("%s should have at least %d properties", bodyPath(p), *s.MinProperties)))
	}
	for name, v := range obj {
		if prop, ok := s.Properties[name]; ok {
			validateValue(&prop, v, child(p, name), errs)
		} else if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
			validateValue(s.AdditionalProperties.Schema, v, child(p, name), errs)
		}
	}
}

func validateArray(s *Schema, list []any, p *field.Path, errs *field.ErrorList) {
	if s.MaxItems != nil && int64(len(list)) > *s.MaxItems {
		*errs = append(*errs, field.TooMany(p, len(list), int(*s.MaxItems)))
	}
	if s.MinItems != nil && int64(len(list)) < *s.MinItems {
		*errs = append(*errs, field.Invalid(p, len(list), fmt.Sprintf("%s should have at least %d items", bodyPath(p), *s.MinItems)))
	}
	if s.Items != nil && s.Items.Schema != nil {
		for i, v := range list {
			validateValue(s.Items.Schema, v, p.Index(i), errs)
		}
	}
	if s.UniqueItems {
		for i := range list {
			for j := 0; j < i; j++ {
				if apiequality.Semantic.DeepEqual(list[i], list[j]) {
					*errs = append(*errs, field.Duplicate(p.Index(i), list[i]))
				}
			}
		}
	}
}

func validateString(s *Schema, v string, p *field.Path, errs *field.ErrorList) {
	n := int64(len([]rune(v)))
	if s.MaxLength != nil && n > *s.MaxLength {
		*errs = append(*errs, field.TooLong(p, v, int(*s.MaxLength)))
	}
	if s.MinLength != nil && n < *s.MinLength {
		*errs = append(*errs, field.Invalid(p, v, fmt.Sprintf("%s should be at least %d chars long", bodyPath(p), *s.MinLength)))
	}
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err == nil && !re.MatchString(v) {
			*errs = append(*errs, field.Invalid(p, v, fmt.Sprintf("%s should match '%s'", bodyPath(p), s.Pattern)))
		}
	}
}

func validateNumber(s *Schema, f float64, v any, p *field.Path, errs *field.ErrorList) {
	if s.Maximum != nil {
		if s.ExclusiveMaximum && f >= *s.Maximum {
			*errs = append(*errs, field.Invalid(p, v, fmt.Sprintf("%s should be less than %v", bodyPath(p), *s.Maximum)))
		} else if f > *s.Maximum {
			*errs = append(*errs, field.Invalid(p, v, fmt.Sprintf("%s should be less than or equal to %v", bodyPath(p), *s.Maximum)))
		}
	}
	if s.Minimum != nil {
		if s.ExclusiveMinimum && f <= *s.Minimum {
			*errs = append(*errs, field.Invalid(p, v, fmt.Sprintf("%s should be greater than %v", bodyPath(p), *s.Minimum)))
		} else if f < *s.Minimum {
			*errs = append(*errs, field.Invalid(p, v, fmt.Sprintf("%s should be greater than or equal to %v", bodyPath(p), *s.Minimum)))
		}
	}
	if s.MultipleOf != nil && *s.MultipleOf != 0 {
		q := f / *s.MultipleOf
		if q != float64(int64(q)) {
			*errs = append(*errs, field.Invalid(p, v, fmt.Sprintf("%s should be a multiple of %v", bodyPath(p), *s.MultipleOf)))
		}
	}
}

// validateCombinators handles allOf, anyOf, oneOf and not (value validations only,
// as structural schemas allow).
func validateCombinators(s *Schema, v any, p *field.Path, errs *field.ErrorList) {
	for i := range s.AllOf {
		validateValue(&s.AllOf[i], v, p, errs)
	}
	passes := func(alt *Schema) bool {
		var e field.ErrorList
		validateValue(alt, v, p, &e)
		return len(e) == 0
	}
	if len(s.AnyOf) > 0 {
		ok := false
		for i := range s.AnyOf {
			ok = ok || passes(&s.AnyOf[i])
		}
		if !ok {
			*errs = append(*errs, field.Invalid(p, v, fmt.Sprintf("%s must validate at least one schema (anyOf)", bodyPath(p))))
		}
	}
	if len(s.OneOf) > 0 {
		n := 0
		for i := range s.OneOf {
			if passes(&s.OneOf[i]) {
				n++
			}
		}
		if n != 1 {
			*errs = append(*errs, field.Invalid(p, v, fmt.Sprintf("%s must validate one and only one schema (oneOf)", bodyPath(p))))
		}
	}
	if s.Not != nil && passes(s.Not) {
		*errs = append(*errs, field.Invalid(p, v, fmt.Sprintf("%s must not validate the schema (not)", bodyPath(p))))
	}
}

// Prune drops the fields the schema does not specify, as upstream does for
// structural schemas: an object keeps only its properties (or any key with
// additionalProperties, each value pruned by it) unless it preserves unknown
// fields; embedded resources keep apiVersion, kind and metadata.
func Prune(s *Schema, content map[string]any) {
	if s == nil {
		return
	}
	pruneObject(s, content, true)
}

func pruneValue(s *Schema, v any) {
	switch x := v.(type) {
	case map[string]any:
		pruneObject(s, x, false)
	case []any:
		if s.Items != nil && s.Items.Schema != nil {
			for _, e := range x {
				pruneValue(s.Items.Schema, e)
			}
		}
	}
}

func pruneObject(s *Schema, obj map[string]any, root bool) {
	for name, v := range obj {
		if prop, ok := s.Properties[name]; ok {
			pruneValue(&prop, v)
			continue
		}
		if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
			pruneValue(s.AdditionalProperties.Schema, v)
			continue
		}
		if preserves(s) || (s.AdditionalProperties != nil && s.AdditionalProperties.Allows) {
			continue
		}
		if (root || s.XEmbeddedResource) && (name == "apiVersion" || name == "kind" || name == "metadata") {
			continue
		}
		delete(obj, name)
	}
}

// Default sets the schema's defaults on unset fields (recursively, including in
// array items and additionalProperties values).
func Default(s *Schema, content map[string]any) {
	if s == nil {
		return
	}
	defaultObject(s, content)
}

func defaultValue(s *Schema, v any) {
	switch x := v.(type) {
	case map[string]any:
		defaultObject(s, x)
	case []any:
		if s.Items != nil && s.Items.Schema != nil {
			for _, e := range x {
				defaultValue(s.Items.Schema, e)
			}
		}
	}
}

func defaultObject(s *Schema, obj map[string]any) {
	for name, prop := range s.Properties {
		if _, set := obj[name]; !set && prop.Default != nil {
			if d, err := DecodeJSON(prop.Default.Raw); err == nil {
				obj[name] = d
			}
		}
	}
	for name, v := range obj {
		if prop, ok := s.Properties[name]; ok {
			defaultValue(&prop, v)
		} else if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
			defaultValue(s.AdditionalProperties.Schema, v)
		}
	}
}
