package apiserver

import (
	"io"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// kindCodec stores objects as Kubernetes protobuf (the "k8s\x00" envelope carries the
// kind, so decoded objects come back with apiVersion and kind set) and reads JSON too.
type kindCodec struct {
	gvk schema.GroupVersionKind
}

func storageCodec(gvk schema.GroupVersionKind) runtime.Codec { return kindCodec{gvk: gvk} }

func (c kindCodec) Encode(obj runtime.Object, w io.Writer) error {
	if obj.GetObjectKind().GroupVersionKind() != c.gvk {
		obj.GetObjectKind().SetGroupVersionKind(c.gvk)
	}
	return protoInfo.Serializer.Encode(obj, w)
}

func (c kindCodec) Identifier() runtime.Identifier { return "skiff-storage-protobuf" }

func (c kindCodec) Decode(data []byte, defaults *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	if len(data) > 0 && data[0] == '{' {
		return jsonInfo.Serializer.Decode(data, &c.gvk, into)
	}
	return protoInfo.Serializer.Decode(data, &c.gvk, into)
}
