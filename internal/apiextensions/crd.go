package apiextensions

import (
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Finalizer is the finalizer the server puts on every CRD: its custom resources
// are deleted before the CRD goes.
const Finalizer = "customresourcecleanup.apiextensions.k8s.io"

// DefaultCRD fills the fields upstream defaults: conversion strategy None, the
// singular name (lower-case kind) and the list kind (<Kind>List).
func DefaultCRD(crd *apiextensionsv1.CustomResourceDefinition) {
	if crd.Spec.Conversion == nil {
		crd.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.NoneConverter}
	}
	n := &crd.Spec.Names
	if n.Singular == "" {
		n.Singular = strings.ToLower(n.Kind)
	}
	if n.ListKind == "" && n.Kind != "" {
		n.ListKind = n.Kind + "List"
	}
}

// StorageVersion is the name of the version marked storage (empty if none).
func StorageVersion(crd *apiextensionsv1.CustomResourceDefinition) string {
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			return v.Name
		}
	}
	return ""
}

// ValidateCRD checks a CustomResourceDefinition as upstream does for the rules this
// server implements (CEL rules in schemas are not evaluated yet).
func ValidateCRD(crd *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMeta(&crd.ObjectMeta, false,
		apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	spec := &crd.Spec
	if want := spec.Names.Plural + "." + spec.Group; crd.Name != want {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), crd.Name,
			"must be spec.names.plural+\".\"+spec.group"))
	}
	return append(errs, validateSpec(spec, field.NewPath("spec"))...)
}

// ValidateCRDUpdate checks an update: the group and scope cannot change.
func ValidateCRDUpdate(crd, old *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	errs := ValidateCRD(crd)
	if crd.Spec.Group != old.Spec.Group {
		errs = append(errs, field.Invalid(field.NewPath("spec", "group"), crd.Spec.Group, "field is immutable"))
	}
	if crd.Spec.Scope != old.Spec.Scope {
		errs = append(errs, field.Invalid(field.NewPath("spec", "scope"), crd.Spec.Scope, "field is immutable"))
	}
	return errs
}

// ValidateCRDStatus checks a status write: the storage version must stay listed
// in status.storedVersions.
func ValidateCRDStatus(crd *apiextensionsv1.CustomResourceDefinition) field.ErrorList {
	p := field.NewPath("status", "storedVersions")
	sv := StorageVersion(crd)
	for _, v := range crd.Status.StoredVersions {
		if v == sv {
			return nil
		}
	}
	if len(crd.Status.StoredVersions) == 0 {
		return field.ErrorList{field.Invalid(p, crd.Status.StoredVersions, "must have at least one stored version")}
	}
	return field.ErrorList{field.Invalid(p, crd.Status.StoredVersions, "must have the storage version "+sv)}
}

func validateSpec(spec *apiextensionsv1.CustomResourceDefinitionSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.Group == "" {
		errs = append(errs, field.Required(p.Child("group"), ""))
	} else {
		for _, msg := range utilvalidation.IsDNS1123Subdomain(spec.Group) {
			errs = append(errs, field.Invalid(p.Child("group"), spec.Group, msg))
		}
		if len(strings.Split(spec.Group, ".")) < 2 {
			errs = append(errs, field.Invalid(p.Child("group"), spec.Group, "should be a domain with at least one dot"))
		}
	}
	switch spec.Scope {
	case "":
		errs = append(errs, field.Required(p.Child("scope"), ""))
	case apiextensionsv1.ClusterScoped, apiextensionsv1.NamespaceScoped:
	default:
		errs = append(errs, field.NotSupported(p.Child("scope"), spec.Scope, []string{"Cluster", "Namespaced"}))
	}
	errs = append(errs, validateNames(&spec.Names, p.Child("names"))...)
	errs = append(errs, validateVersions(spec.Versions, p.Child("versions"))...)
	if c := spec.Conversion; c != nil && c.Strategy != apiextensionsv1.NoneConverter {
		errs = append(errs, field.NotSupported(p.Child("conversion", "strategy"), c.Strategy, []string{"None"}))
	}
	return errs
}

func validateNames(n *apiextensionsv1.CustomResourceDefinitionNames, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	label := func(fp *field.Path, v string, required bool) {
		if v == "" {
			if required {
				errs = append(errs, field.Required(fp, ""))
			}
			return
		}
		for _, msg := range utilvalidation.IsDNS1035Label(v) {
			errs = append(errs, field.Invalid(fp, v, msg))
		}
	}
	label(p.Child("plural"), n.Plural, true)
	label(p.Child("singular"), n.Singular, true)
	for i, s := range n.ShortNames {
		label(p.Child("shortNames").Index(i), s, true)
	}
	for i, c := range n.Categories {
		label(p.Child("categories").Index(i), c, true)
	}
	kind := func(fp *field.Path, v string) {
		if v == "" {
			errs = append(errs, field.Required(fp, ""))
			return
		}
		for _, msg := range utilvalidation.IsDNS1035Label(strings.ToLower(v)) {
			errs = append(errs, field.Invalid(fp, v, msg))
		}
	}
	kind(p.Child("kind"), n.Kind)
	kind(p.Child("listKind"), n.ListKind)
	if n.Kind != "" && n.Kind == n.ListKind {
		errs = append(errs, field.Invalid(p.Child("listKind"), n.ListKind, "kind and listKind may not be the same"))
	}
	return errs
}

func validateVersions(versions []apiextensionsv1.CustomResourceDefinitionVersion, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(versions) == 0 {
		return field.ErrorList{field.Invalid(p, versions, "must have exactly one version marked as storage version")}
	}
	storage, served := 0, 0
	seen := map[string]bool{}
	for i := range versions {
		v := &versions[i]
		vp := p.Index(i)
		if v.Storage {
			storage++
		}
		if v.Served {
			served++
		}
		if seen[v.Name] {
			errs = append(errs, field.Invalid(vp.Child("name"), v.Name, "must be unique"))
		}
		seen[v.Name] = true
		for _, msg := range utilvalidation.IsDNS1035Label(v.Name) {
			errs = append(errs, field.Invalid(vp.Child("name"), v.Name, msg))
		}
		errs = append(errs, validateVersionSchema(v, vp)...)
		errs = append(errs, validateSubresources(v.Subresources, vp.Child("subresources"))...)
		for j, c := range v.AdditionalPrinterColumns {
			cp := vp.Child("additionalPrinterColumns").Index(j)
			if c.Name == "" {
				errs = append(errs, field.Required(cp.Child("name"), ""))
			}
			if c.JSONPath == "" {
				errs = append(errs, field.Required(cp.Child("jsonPath"), ""))
			}
			switch c.Type {
			case "integer", "number", "string", "boolean", "date":
			default:
				errs = append(errs, field.NotSupported(cp.Child("type"), c.Type, []string{"integer", "number", "string", "boolean", "date"}))
			}
		}
	}
	if storage != 1 {
		errs = append(errs, field.Invalid(p, versions, "must have exactly one version marked as storage version"))
	}
	if served == 0 {
		errs = append(errs, field.Invalid(p, versions, "must have at least one version marked as served"))
	}
	return errs
}

// validateVersionSchema requires a structural schema with type object at the root,
// as apiextensions.k8s.io/v1 does.
func validateVersionSchema(v *apiextensionsv1.CustomResourceDefinitionVersion, vp *field.Path) field.ErrorList {
	sp := vp.Child("schema", "openAPIV3Schema")
	if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
		return field.ErrorList{field.Required(sp, "schemas are required")}
	}
	s := v.Schema.OpenAPIV3Schema
	if s.Type == "" {
		return field.ErrorList{field.Required(sp.Child("type"), "must not be empty at the root")}
	}
	if s.Type != "object" {
		return field.ErrorList{field.Invalid(sp.Child("type"), s.Type, "must be object at the root")}
	}
	return validateStructural(s, sp)
}

// validateStructural checks the parts of "structural" this server relies on:
// every property and item schema has a type unless it preserves unknown fields
// or is an int-or-string.
func validateStructural(s *apiextensionsv1.JSONSchemaProps, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for name, prop := range s.Properties {
		pp := p.Child("properties").Key(name)
		if prop.Type == "" && !prop.XIntOrString && (prop.XPreserveUnknownFields == nil || !*prop.XPreserveUnknownFields) {
			errs = append(errs, field.Required(pp.Child("type"), "must not be empty for specified object fields"))
		}
		errs = append(errs, validateStructural(&prop, pp)...)
	}
	if s.Items != nil && s.Items.Schema != nil {
		ip := p.Child("items")
		it := s.Items.Schema
		if it.Type == "" && !it.XIntOrString && (it.XPreserveUnknownFields == nil || !*it.XPreserveUnknownFields) {
			errs = append(errs, field.Required(ip.Child("type"), "must not be empty for specified array items"))
		}
		errs = append(errs, validateStructural(it, ip)...)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		errs = append(errs, validateStructural(s.AdditionalProperties.Schema, p.Child("additionalProperties"))...)
	}
	return errs
}

func validateSubresources(sr *apiextensionsv1.CustomResourceSubresources, p *field.Path) field.ErrorList {
	if sr == nil || sr.Scale == nil {
		return nil
	}
	var errs field.ErrorList
	sp := p.Child("scale")
	if !strings.HasPrefix(sr.Scale.SpecReplicasPath, ".spec.") {
		errs = append(errs, field.Invalid(sp.Child("specReplicasPath"), sr.Scale.SpecReplicasPath, "should start with .spec"))
	}
	if !strings.HasPrefix(sr.Scale.StatusReplicasPath, ".status.") {
		errs = append(errs, field.Invalid(sp.Child("statusReplicasPath"), sr.Scale.StatusReplicasPath, "should start with .status"))
	}
	return errs
}
