package auth

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// publicPaths are served without authentication (upstream allows them to anyone
// through the system:public-info-viewer role), including subpaths like /readyz/etcd.
var publicPaths = []string{"/healthz", "/livez", "/readyz", "/version"}

func isPublic(path string) bool {
	for _, p := range publicPaths {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// Anonymous identity: a request without credentials, when anonymous
// authentication is on, is this user in this group (upstream's names).
const (
	AnonymousUser        = "system:anonymous"
	UnauthenticatedGroup = "system:unauthenticated"
)

// Middleware authenticates every request except the public health and version
// paths. It rejects unauthenticated requests with a 401 Status and passes the
// user to next through the request context.
func Middleware(a Authenticator, next http.Handler) http.Handler {
	return MiddlewareWith(a, false, next)
}

// MiddlewareWith is Middleware with anonymous authentication switchable. With
// anonymous on (upstream's default whenever authorization is not AlwaysAllow),
// a request that carries no credentials at all proceeds as system:anonymous in
// system:unauthenticated and authorization decides — /healthz and /version are
// then open through the system:public-info-viewer role, and anything else is a
// 403. Invalid credentials are still a 401.
func MiddlewareWith(a Authenticator, anonymous bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !anonymous && isPublic(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		u, ok, err := a.Authenticate(r)
		if !ok && err == nil && anonymous && !hasAuthorization(r) {
			u, ok = &User{Name: AnonymousUser, Groups: []string{UnauthenticatedGroup}}, true
		}
		if !ok {
			if err != nil {
				slog.Debug("authentication failed", "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
			}
			writeUnauthorized(w)
			return
		}
		r = r.WithContext(WithUser(r.Context(), u))
		// The credential has done its job; dropping it keeps it from being forwarded
		// by proxying handlers (pods/proxy, services/proxy), as upstream does.
		r.Header = r.Header.Clone()
		r.Header.Del("Authorization")
		next.ServeHTTP(w, r)
	})
}

// hasAuthorization: an Authorization header no authenticator understood (say,
// Basic) is a credential that failed, not the absence of one.
func hasAuthorization(r *http.Request) bool { return r.Header.Get("Authorization") != "" }

// writeUnauthorized writes upstream's 401 body: a v1 Status with reason Unauthorized.
func writeUnauthorized(w http.ResponseWriter) {
	st := apierrors.NewUnauthorized("Unauthorized").ErrStatus
	st.Kind, st.APIVersion = "Status", "v1"
	body, err := json.Marshal(st)
	if err != nil { // a fixed struct always marshals; keep the status code regardless
		body = []byte(`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusUnauthorized)
	w.Write(append(body, '\n'))
}
