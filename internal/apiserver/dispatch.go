package apiserver

import (
	"net/http"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

// resolve finds the served resource a request names and checks the verb applies.
func (s *Server) resolve(ri *requestInfo) error {
	ri.res = s.lookup(ri.group, ri.version, ri.resource) // compiled catalog, then CRDs
	if ri.res == nil || (ri.namespace != "" && !ri.res.Namespaced) {
		return notFoundPath()
	}
	if ri.subresource != "" {
		sub := ri.res.Subresource(ri.subresource)
		if sub == nil || ri.name == "" {
			return notFoundPath()
		}
		if !subresourceAllows(sub, ri.verb) && !(ri.subresource == "proxy" && ri.verb == "options") {
			return methodNotAllowed(ri.verb, *ri)
		}
		return nil
	}
	if !ri.res.HasVerb(ri.verb) {
		return methodNotAllowed(ri.verb, *ri)
	}
	return nil
}

func subresourceAllows(sub *catalog.Subresource, verb string) bool {
	for _, v := range sub.Verbs {
		if v == verb {
			return true
		}
	}
	return false
}

// dispatch runs the verb on the resource or subresource.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	if isCustom(ri.res) && !customRequestOK(w, r, ri) { // crd.go: no protobuf, no strategic merge
		return
	}
	switch ri.subresource {
	case "":
	case "status", "approval":
		s.serveMain(w, r, ri)
		return
	case "scale":
		s.serveScale(w, r, ri)
		return
	case "binding":
		s.serveBinding(w, r, ri)
		return
	case "eviction":
		s.serveEviction(w, r, ri)
		return
	case "token":
		s.serveToken(w, r, ri)
		return
	case "finalize":
		s.serveMain(w, r, ri)
		return
	case "log", "exec", "attach", "portforward":
		s.serveNodeProxy(w, r, ri)
		return
	case "proxy":
		s.serveProxy(w, r, ri)
		return
	}
	switch ri.res.Resource {
	case "selfsubjectreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews",
		"subjectaccessreviews", "localsubjectaccessreviews":
		s.serveReview(w, r, ri)
		return
	}
	if ri.res.Resource == "tokenreviews" {
		s.serveTokenReview(w, r, ri) // tokenreview.go
		return
	}
	if ri.res.Resource == "bindings" {
		s.serveBinding(w, r, ri)
		return
	}
	s.serveMain(w, r, ri)
}

func (s *Server) serveMain(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	switch ri.verb {
	case "get":
		if q := r.URL.Query().Get("watch"); q == "true" || q == "1" {
			s.watchNamed(w, r, ri)
			return
		}
		s.get(w, r, ri)
	case "list":
		s.list(w, r, ri)
	case "watch":
		s.watch(w, r, ri)
	case "create":
		s.create(w, r, ri)
	case "update":
		s.update(w, r, ri)
	case "patch":
		s.patch(w, r, ri)
	case "delete":
		s.delete(w, r, ri)
	case "deletecollection":
		s.deleteCollection(w, r, ri)
	default:
		writeError(w, methodNotAllowed(ri.verb, ri))
	}
}
