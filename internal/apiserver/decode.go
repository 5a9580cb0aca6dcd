package apiserver

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

// fieldValidation is the request's ?fieldValidation= (Strict, Warn or Ignore; default Warn).
func fieldValidation(r *http.Request) string {
	switch v := r.URL.Query().Get("fieldValidation"); v {
	case "Strict", "Ignore":
		return v
	}
	return "Warn"
}

// readBody reads the request body, mapping an oversized body to 413.
func readBody(r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", maxBodyBytes))
	}
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return data, nil
}

// readObject reads the request body and decodes it into a new object of gvk.
func readObject(w http.ResponseWriter, r *http.Request, gvk schema.GroupVersionKind) (runtime.Object, error) {
	data, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return decodeBody(w, r, gvk, data)
}

// decodeBody decodes a JSON, YAML or protobuf body into a new object of gvk.
// Unknown or duplicate fields fail under Strict and become warnings under Warn.
func decodeBody(w http.ResponseWriter, r *http.Request, gvk schema.GroupVersionKind, data []byte) (runtime.Object, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mt = mediaJSON
	}
	var info runtime.SerializerInfo
	switch mt {
	case mediaJSON:
		info = jsonInfo
	case mediaYAML, "application/yml", "text/yaml":
		info = yamlInfo
	case mediaProtobuf:
		info = protoInfo
	default:
		return nil, unsupportedMediaType(mt, []string{mediaJSON, mediaYAML, mediaProtobuf})
	}
	return decodeWith(w, r, info, gvk, data)
}

func decodeWith(w http.ResponseWriter, r *http.Request, info runtime.SerializerInfo, gvk schema.GroupVersionKind, data []byte) (runtime.Object, error) {
	if !catalog.Scheme.Recognizes(gvk) {
		return decodeCustom(info, gvk, data) // a custom resource (crd.go)
	}
	into, err := newObject(gvk)
	if err != nil {
		return nil, err
	}
	dec := info.Serializer
	mode := fieldValidation(r)
	if mode != "Ignore" && info.StrictSerializer != nil {
		dec = info.StrictSerializer
	}
	obj, actual, err := dec.Decode(data, &gvk, into)
	if err != nil && runtime.IsStrictDecodingError(err) && obj != nil {
		if mode == "Strict" {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err))
		}
		for _, msg := range strictErrors(err) {
			addWarning(w, msg)
		}
		err = nil
	}
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, gvk.Kind, err))
	}
	if actual != nil && *actual != gvk {
		if actual.GroupVersion() != gvk.GroupVersion() {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", actual.GroupVersion(), gvk.GroupVersion()))
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s)", actual.Kind, gvk.Kind))
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, nil
}

func strictErrors(err error) []string {
	if sde, ok := runtime.AsStrictDecodingError(err); ok {
		var out []string
		for _, e := range sde.Errors() {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}

// addWarning adds a Warning header kubectl prints as "Warning: <text>".
func addWarning(w http.ResponseWriter, msg string) {
	w.Header().Add("Warning", fmt.Sprintf("299 - %q", msg))
}

func newObject(gvk schema.GroupVersionKind) (runtime.Object, error) {
	obj, err := schemeNew(gvk)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return obj, nil
}
