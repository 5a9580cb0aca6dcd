package ctrltest

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	metadatafake "k8s.io/client-go/metadata/fake"
)

// NewMetadataClient returns a fake metadata client holding objs. Every kind
// in kinds (and every kind of objs) is registered as PartialObjectMetadata,
// which the fake needs to list and watch it.
func NewMetadataClient(kinds []schema.GroupVersionKind, objs ...*metav1.PartialObjectMetadata) *metadatafake.FakeMetadataClient {
	s := metadatafake.NewTestScheme()
	metav1.AddMetaToScheme(s)
	reg := func(gvk schema.GroupVersionKind) {
		if s.Recognizes(gvk) {
			return
		}
		s.AddKnownTypeWithName(gvk, &metav1.PartialObjectMetadata{})
		s.AddKnownTypeWithName(gvk.GroupVersion().WithKind(gvk.Kind+"List"), &metav1.PartialObjectMetadataList{})
	}
	for _, k := range kinds {
		reg(k)
	}
	ro := make([]runtime.Object, 0, len(objs))
	for _, o := range objs {
		reg(o.GroupVersionKind())
		fill(o)
		ro = append(ro, o)
	}
	return metadatafake.NewSimpleMetadataClient(s, ro...)
}

// Meta builds a PartialObjectMetadata.
func Meta(apiVersion, kind, namespace, name string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: apiVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
}
