package apiserver

import (
	"math/rand/v2"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/storage"
)

var readAs = map[string]bool{"Table": true, "PartialObjectMetadata": true, "PartialObjectMetadataList": true}

func (s *Server) store(ri requestInfo) storage.Interface {
	if isCustom(ri.res) {
		return s.custom.store(ri.res)
	}
	return s.stores[ri.res.GroupResource()]
}

// key is the etcd key of a named object.
func (s *Server) key(ri requestInfo, name string) string {
	p := s.storagePrefix(ri.res)
	if ri.res.Namespaced {
		return p + ri.namespace + "/" + name
	}
	return p + name
}

// collectionPrefix is the key prefix of a namespace's objects (or all of them).
func (s *Server) collectionPrefix(ri requestInfo) string {
	p := s.storagePrefix(ri.res)
	if ri.res.Namespaced && ri.namespace != "" {
		return p + ri.namespace + "/"
	}
	return p
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	obj, err := s.store(ri).Get(r.Context(), s.key(ri, ri.name), r.URL.Query().Get("resourceVersion"))
	if err != nil {
		writeError(w, err)
		return
	}
	out := negotiate(r, readAs)
	obj = withKind(obj, ri.res.GVK())
	switch out.as {
	case "Table":
		s.writeTable(w, ri, []runtime.Object{obj}, metav1.ListMeta{}, metav1.IncludeObjectPolicy(r.URL.Query().Get("includeObject")))
	case "PartialObjectMetadata", "PartialObjectMetadataList":
		writeObject(w, out, 200, partialMetadata(obj))
	default:
		writeObject(w, out, 200, obj)
	}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	p, err := parseListParams(r.URL.Query(), s.strategy(ri), false)
	if err != nil {
		writeError(w, err)
		return
	}
	res, err := s.store(ri).List(r.Context(), s.collectionPrefix(ri), storage.ListOptions{
		ResourceVersion: p.resourceVersion, ResourceVersionMatch: p.resourceVersionMatch,
		Limit: p.limit, Continue: p.continueToken, Predicate: p.predicate,
	})
	if err != nil {
		writeError(w, err)
		return
	}
	lm := metav1.ListMeta{ResourceVersion: itoa(int64(res.ResourceVersion)), Continue: res.Continue, RemainingItemCount: res.RemainingItemCount}
	out := negotiate(r, readAs)
	switch out.as {
	case "Table":
		s.writeTable(w, ri, res.Items, lm, p.includeObject)
	case "PartialObjectMetadata", "PartialObjectMetadataList":
		list := &metav1.PartialObjectMetadataList{ListMeta: lm, Items: make([]metav1.PartialObjectMetadata, 0, len(res.Items))}
		list.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("PartialObjectMetadataList"))
		for _, o := range res.Items {
			list.Items = append(list.Items, *partialMetadata(o))
		}
		writeObject(w, out, 200, list)
	default:
		list, err := buildList(ri, res.Items, lm)
		if err != nil {
			writeError(w, err)
			return
		}
		writeObject(w, out, 200, list)
	}
}

func (s *Server) writeTable(w http.ResponseWriter, ri requestInfo, objs []runtime.Object, lm metav1.ListMeta, include metav1.IncludeObjectPolicy) {
	if include == "" {
		include = metav1.IncludeMetadata
	}
	for _, o := range objs {
		withKind(o, ri.res.GVK())
	}
	t, err := s.strategy(ri).Printer.Table(objs, include, time.Now())
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	t.ListMeta = lm
	t.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("Table"))
	writeJSON(w, mediaJSON, 200, t)
}

// watch streams changes; the stream ends after timeoutSeconds (default 30-60 min,
// spread so reflectors don't re-list together) or when the server shuts down.
func (s *Server) watch(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	p, err := parseListParams(r.URL.Query(), s.strategy(ri), true)
	if err != nil {
		writeError(w, err)
		return
	}
	s.serveWatch(w, r, ri, p)
}

// watchNamed is the old GET <object>?watch=true form: a watch on one name.
func (s *Server) watchNamed(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	q := r.URL.Query()
	q.Set("fieldSelector", "metadata.name="+ri.name)
	p, err := parseListParams(q, s.strategy(ri), true)
	if err != nil {
		writeError(w, err)
		return
	}
	s.serveWatch(w, r, ri, p)
}

func (s *Server) serveWatch(w http.ResponseWriter, r *http.Request, ri requestInfo, p *listParams) {
	timeout := p.timeout
	if timeout == 0 {
		timeout = time.Duration(30+rand.IntN(30)) * time.Minute
	}
	ctx := r.Context()
	wi, err := s.store(ri).Watch(ctx, s.collectionPrefix(ri), storage.WatchOptions{
		ResourceVersion: p.resourceVersion, SendInitialEvents: p.sendInitialEvents,
		AllowBookmarks: p.allowBookmarks, Predicate: p.predicate,
	})
	if err != nil {
		writeError(w, err)
		return
	}
	defer wi.Stop()
	enc, err := newWatchEncoder(w, r, ri, s.strategy(ri).Printer, p.includeObject)
	if err != nil {
		writeError(w, err)
		return
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return
			}
			if err := enc.encode(ev); err != nil {
				return
			}
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		case <-s.shutdown:
			return
		}
	}
}
