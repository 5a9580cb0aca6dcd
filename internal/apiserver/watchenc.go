package apiserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/printers"
)

// watchEncoder writes watch events in the negotiated form and flushes each one,
// so clients see events as they happen.
type watchEncoder struct {
	w       http.ResponseWriter
	flusher http.Flusher
	ri      requestInfo
	printer printers.Printer
	out     output
	include metav1.IncludeObjectPolicy
	buf     bytes.Buffer
	// tableHeaderSent: column definitions go with the first Table event only.
	tableHeaderSent bool
}

func newWatchEncoder(w http.ResponseWriter, r *http.Request, ri requestInfo, printer printers.Printer, include metav1.IncludeObjectPolicy) (*watchEncoder, error) {
	out := negotiate(r, readAs)
	flusher, _ := w.(http.Flusher)
	e := &watchEncoder{w: w, flusher: flusher, ri: ri, printer: printer, out: out, include: include}
	switch {
	case out.mediaType == mediaProtobuf:
		w.Header().Set("Content-Type", mediaProtobuf+";stream=watch")
	default:
		w.Header().Set("Content-Type", mediaJSON)
	}
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	e.flush()
	return e, nil
}

func (e *watchEncoder) flush() {
	if e.flusher != nil {
		e.flusher.Flush()
	}
}

func (e *watchEncoder) encode(ev watch.Event) error {
	obj := e.objectFor(ev)
	var err error
	if e.out.mediaType == mediaProtobuf {
		err = e.encodeProtobuf(ev.Type, obj)
	} else {
		err = e.encodeJSON(ev.Type, obj)
	}
	if err != nil {
		return err
	}
	e.flush()
	return nil
}

// objectFor returns the object to send, with kind and apiVersion set, converted to
// a Table or PartialObjectMetadata when the client asked for one.
func (e *watchEncoder) objectFor(ev watch.Event) runtime.Object {
	obj := ev.Object
	if st, ok := obj.(*metav1.Status); ok {
		st.Kind, st.APIVersion = "Status", "v1"
		return st
	}
	gvk := e.ri.res.GVK()
	if obj.GetObjectKind().GroupVersionKind() != gvk {
		// Bookmarks are built per watcher; other objects come decoded with their kind.
		obj = obj.DeepCopyObject()
		obj.GetObjectKind().SetGroupVersionKind(gvk)
	}
	switch e.out.as {
	case "Table":
		if ev.Type == watch.Bookmark {
			return obj
		}
		include := e.include
		if include == "" {
			include = metav1.IncludeMetadata
		}
		t, err := e.printer.Table([]runtime.Object{obj}, include, time.Now())
		if err != nil {
			return obj
		}
		if e.tableHeaderSent {
			t.ColumnDefinitions = nil
		}
		e.tableHeaderSent = true
		t.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("Table"))
		return t
	case "PartialObjectMetadata", "PartialObjectMetadataList":
		return partialMetadata(obj)
	}
	return obj
}

func (e *watchEncoder) encodeJSON(t watch.EventType, obj runtime.Object) error {
	raw, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	e.buf.Reset()
	e.buf.WriteString(`{"type":"`)
	e.buf.WriteString(string(t))
	e.buf.WriteString(`","object":`)
	e.buf.Write(raw)
	e.buf.WriteString("}\n")
	_, err = e.w.Write(e.buf.Bytes())
	return err
}

func (e *watchEncoder) encodeProtobuf(t watch.EventType, obj runtime.Object) error {
	raw, err := runtime.Encode(protoInfo.Serializer, obj)
	if err != nil {
		return err
	}
	we := &metav1.WatchEvent{Type: string(t), Object: runtime.RawExtension{Raw: raw}}
	frame, err := we.Marshal()
	if err != nil {
		return err
	}
	var size [4]byte
	n := len(frame)
	size[0], size[1], size[2], size[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	if _, err := e.w.Write(size[:]); err != nil {
		return err
	}
	_, err = e.w.Write(frame)
	return err
}
