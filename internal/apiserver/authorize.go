package apiserver

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/authz"
)

// withAuthorization refuses, with upstream's 403 Status, every request the
// authorizer does not allow. It runs after authentication (and impersonation),
// before any routing, so an unauthorized caller learns nothing about whether a
// resource exists.
func (s *Server) withAuthorization(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attrs := requestAttributes(r)
		for _, a := range attributesToCheck(r, attrs) {
			if err := s.authorize(r.Context(), a); err != nil {
				writeError(w, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// authorize returns nil when a is allowed, else the error to send: 403, or 500
// when no authorizer allowed and one failed (as upstream's filter does).
func (s *Server) authorize(ctx context.Context, a authz.Attributes) error {
	d, reason, err := s.authorizer().Authorize(ctx, a)
	if d == authz.Allow {
		return nil
	}
	if err != nil {
		slog.Warn("authorization failed", "user", a.User.Name, "verb", a.Verb, "resource", a.ResourceWithSub(), "path", a.Path, "err", err)
		return apierrors.NewInternalError(err)
	}
	return authz.Forbidden(a, reason)
}

// attributesToCheck: one check per request, except a WebSocket upgrade of
// pods/exec, attach or portforward. That arrives as a GET, so it is authorized
// as get and, like upstream since AuthorizePodWebsocketUpgradeCreatePermission
// (on by default), also as create — the verb the same session needs over SPDY's POST.
func attributesToCheck(r *http.Request, a authz.Attributes) []authz.Attributes {
	if a.ResourceRequest && a.Verb == "get" && a.Resource == "pods" && isWebSocketUpgrade(r) {
		switch a.Subresource {
		case "exec", "attach", "portforward":
			c := a
			c.Verb = "create"
			return []authz.Attributes{a, c}
		}
	}
	return []authz.Attributes{a}
}

func isWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

// requestAttributes describes a request in authorization's terms, as upstream's
// RequestInfoFactory does: /api/... and /apis/... paths with a resource are
// resource requests (a watch is a get or list with ?watch, a namespace's own
// URL names that namespace); everything else — discovery, /healthz, /version,
// /openapi/*, /metrics — is a non-resource request whose verb is the method.
func requestAttributes(r *http.Request) authz.Attributes {
	u, _ := auth.UserFrom(r.Context())
	a := authz.Attributes{User: u, Path: r.URL.Path}
	ri, ok := parseResourcePath(r)
	if !ok || ri.verb == "" {
		a.Verb = strings.ToLower(r.Method)
		return a
	}
	a.ResourceRequest = true
	a.Verb = ri.verb
	if ri.verb == "get" && isWatchQuery(r) {
		a.Verb = "watch"
	}
	a.APIGroup, a.APIVersion = ri.group, ri.version
	a.Resource, a.Subresource = ri.resource, ri.subresource
	a.Namespace, a.Name = ri.namespace, ri.name
	if ri.resource == "namespaces" && ri.namespace == "" {
		// GET /api/v1/namespaces/foo is inside namespace foo: a RoleBinding in foo
		// granting namespaces/get lets its subject read its own namespace.
		a.Namespace = ri.name
	}
	return a
}

func isWatchQuery(r *http.Request) bool {
	w := r.URL.Query().Get("watch")
	return w == "true" || w == "1"
}
