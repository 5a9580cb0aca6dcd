package registry

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apiextensions"
	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

type crd = apiextensionsv1.CustomResourceDefinition

// crdKind is the CustomResourceDefinition strategy: the generic kind behaviour
// with apiextensions' own defaults and validation. The server owns the status
// (conditions and acceptedNames come from the CRD controller in internal/apiserver)
// except storedVersions, which starts as the storage version.
type crdKind struct{ kind[*crd] }

func init() {
	register(crdKind{kind[*crd]{
		group: "apiextensions.k8s.io", resource: "customresourcedefinitions",
		defaults: apiextensions.DefaultCRD,
		spec:     func(c *crd) any { return c.Spec },
		status:   &status[*crd]{set: func(dst, src *crd) { dst.Status = src.Status }},
		prepareCreate: func(c *crd) {
			c.Status.StoredVersions = []string{apiextensions.StorageVersion(c)}
			addFinalizer(&c.Finalizers, apiextensions.Finalizer)
		},
		prepareUpdate: func(c, old *crd) {
			// A new storage version joins storedVersions: objects may now be stored in it.
			if sv := apiextensions.StorageVersion(c); sv != "" && !contains(c.Status.StoredVersions, sv) {
				c.Status.StoredVersions = append(c.Status.StoredVersions, sv)
			}
		},
	}})
}

func (k crdKind) build(res *catalog.Resource, opts Options) (*Strategy, error) {
	st, err := k.kind.build(res, opts)
	if err != nil {
		return nil, err
	}
	st.Validate = func(obj runtime.Object) field.ErrorList { return apiextensions.ValidateCRD(obj.(*crd)) }
	st.ValidateUpdate = func(obj, old runtime.Object) field.ErrorList {
		return apiextensions.ValidateCRDUpdate(obj.(*crd), old.(*crd))
	}
	st.Status.ValidateUpdate = func(obj, _ runtime.Object) field.ErrorList {
		return apiextensions.ValidateCRDStatus(obj.(*crd))
	}
	return st, nil
}

func (k crdKind) groupResource() schema.GroupResource { return k.kind.groupResource() }

func addFinalizer(list *[]string, f string) {
	if !contains(*list, f) {
		*list = append(*list, f)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
