package apiserver

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

const (
	mediaJSON     = "application/json"
	mediaYAML     = "application/yaml"
	mediaProtobuf = "application/vnd.kubernetes.protobuf"
)

// output is the representation a client asked for in its Accept header.
type output struct {
	mediaType string // mediaJSON, mediaYAML or mediaProtobuf
	// as is "", "Table", "PartialObjectMetadata", "PartialObjectMetadataList" or
	// "APIGroupDiscoveryList" (the meta.k8s.io / apidiscovery.k8s.io transformations).
	as string
}

var (
	protoInfo, _ = runtime.SerializerInfoForMediaType(catalog.Codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	jsonInfo, _  = runtime.SerializerInfoForMediaType(catalog.Codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	yamlInfo, _  = runtime.SerializerInfoForMediaType(catalog.Codecs.SupportedMediaTypes(), runtime.ContentTypeYAML)
)

// negotiate picks the first Accept entry Skiff can produce. Unknown entries are
// skipped, never answered with 406 while JSON is an option.
func negotiate(r *http.Request, allowAs map[string]bool) output {
	accept := r.Header.Get("Accept")
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		as := params["as"]
		if as != "" {
			if !allowAs[as] || !asGroupOK(as, params) || mt != mediaJSON {
				continue
			}
			return output{mediaType: mediaJSON, as: as}
		}
		switch mt {
		case mediaJSON, "*/*", "application/*":
			return output{mediaType: mediaJSON}
		case mediaYAML:
			return output{mediaType: mediaYAML}
		case mediaProtobuf:
			return output{mediaType: mediaProtobuf}
		}
	}
	return output{mediaType: mediaJSON}
}

func asGroupOK(as string, params map[string]string) bool {
	if as == "APIGroupDiscoveryList" {
		return params["g"] == "apidiscovery.k8s.io" && params["v"] == "v2"
	}
	return params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1")
}

// writeObject encodes obj (whose TypeMeta must be set) in the negotiated form.
func writeObject(w http.ResponseWriter, out output, code int, obj runtime.Object) {
	var (
		data []byte
		err  error
	)
	contentType := out.mediaType
	switch out.mediaType {
	case mediaProtobuf:
		data, err = runtime.Encode(protoInfo.Serializer, obj)
	case mediaYAML:
		data, err = json.Marshal(obj)
		if err == nil {
			data, err = yaml.JSONToYAML(data)
		}
	default:
		contentType = mediaJSON
		data, err = json.Marshal(obj)
	}
	if err != nil {
		writeError(w, fmt.Errorf("encoding response: %w", err))
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(code)
	_, _ = w.Write(data)
}

// writeJSON writes any JSON value (discovery documents, tables).
func writeJSON(w http.ResponseWriter, contentType string, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(code)
	_, _ = w.Write(data)
}

// withKind returns obj with its TypeMeta set. Objects read from storage already
// carry it (the protobuf decoder sets it); those are shared with the watch cache
// and are never mutated here.
func withKind(obj runtime.Object, gvk schema.GroupVersionKind) runtime.Object {
	if obj.GetObjectKind().GroupVersionKind() != gvk {
		obj.GetObjectKind().SetGroupVersionKind(gvk)
	}
	return obj
}

// partialMetadata turns an object into PartialObjectMetadata for metadata-only clients.
func partialMetadata(obj runtime.Object) *metav1.PartialObjectMetadata {
	acc, err := metaAccessor(obj)
	if err != nil {
		return &metav1.PartialObjectMetadata{}
	}
	pom := &metav1.PartialObjectMetadata{ObjectMeta: *acc}
	pom.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("PartialObjectMetadata"))
	return pom
}
