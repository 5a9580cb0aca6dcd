package apiserver

import (
	"net/http"
	"strings"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

// requestInfo is what a resource URL names.
type requestInfo struct {
	group, version string
	namespace      string
	resource       string
	name           string
	subresource    string
	verb           string // get list watch create update patch delete deletecollection (options: proxy only)
	proxyPath      string // the proxy subresource's target path: what follows .../<name>/proxy
	res            *catalog.Resource
}

// parseResourcePath splits /api/v1/... and /apis/<g>/<v>/... into a requestInfo.
// ok is false for paths that are not resource paths (discovery, health ...).
func parseResourcePath(r *http.Request) (requestInfo, bool) {
	parts := splitPath(r.URL.Path)
	var ri requestInfo
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		ri.version, parts = parts[1], parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		ri.group, ri.version, parts = parts[1], parts[2], parts[3:]
	default:
		return ri, false
	}
	if parts[0] == "namespaces" && len(parts) >= 3 && !(len(parts) == 3 && isNamespaceSub(parts[2])) {
		ri.namespace, parts = parts[1], parts[2:]
	}
	ri.resource = parts[0]
	if len(parts) > 1 {
		ri.name = parts[1]
	}
	if len(parts) > 2 && parts[2] == "proxy" {
		// .../<name>/proxy/<path>: the rest of the URL (trailing slash included)
		// is the target's path, not part of the subresource.
		ri.subresource = "proxy"
		marker := "/" + parts[1] + "/proxy"
		if i := strings.Index(r.URL.Path, marker+"/"); i >= 0 {
			ri.proxyPath = r.URL.Path[i+len(marker):]
		}
	} else if len(parts) > 2 {
		ri.subresource = strings.Join(parts[2:], "/")
	}
	ri.verb = verbFor(r, ri.name != "")
	return ri, true
}

// isNamespaceSub tells /api/v1/namespaces/<n>/status apart from /api/v1/namespaces/<ns>/<resource>.
func isNamespaceSub(s string) bool { return s == "status" || s == "finalize" }

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func verbFor(r *http.Request, named bool) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if named {
			return "get"
		}
		if w := r.URL.Query().Get("watch"); w == "true" || w == "1" {
			return "watch"
		}
		return "list"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		if named {
			return "delete"
		}
		return "deletecollection"
	case http.MethodOptions:
		return "options" // only the proxy subresources accept it
	}
	return ""
}
