package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/skiff-sh/skiff/internal/auth"
)

// Kubelet API authorization, as upstream's kubelet does it: the caller (from its
// client certificate) must be allowed the verb on nodes/<subresource> of this node,
// where the subresource follows from the path (stats, metrics, log, pods, healthz;
// proxy for everything else — exec, attach, portForward, containerLogs). The
// answer comes from the API server (a SubjectAccessReview) and is cached briefly.

// AuthorizeFunc asks whether user may verb nodes/<subresource> of this node.
type AuthorizeFunc func(ctx context.Context, user *auth.User, verb, subresource string) (bool, error)

// kubeletSubresource maps a request path to the nodes subresource it needs.
func kubeletSubresource(path string) string {
	for _, m := range []struct{ prefix, sub string }{
		{"/stats", "stats"}, {"/metrics", "metrics"}, {"/logs", "log"}, {"/spec", "spec"},
		{"/healthz", "healthz"}, {"/pods", "pods"}, {"/configz", "configz"}, {"/checkpoint", "checkpoint"},
	} {
		if path == m.prefix || strings.HasPrefix(path, m.prefix+"/") {
			return m.sub
		}
	}
	return "proxy"
}

func verbOf(method string) string {
	switch method {
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return "get"
}

// decisionCache remembers answers: allowed for 5 minutes, denied for 30 seconds
// (upstream's webhook authorizer defaults).
type decisionCache struct {
	mu sync.Mutex
	m  map[string]cachedDecision
}

type cachedDecision struct {
	allowed bool
	until   time.Time
}

func (c *decisionCache) get(key string, now time.Time) (bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.m[key]
	if !ok || now.After(d.until) {
		return false, false
	}
	return d.allowed, true
}

func (c *decisionCache) put(key string, allowed bool, now time.Time) {
	ttl := 30 * time.Second
	if allowed {
		ttl = 5 * time.Minute
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 10000 {
		c.m = map[string]cachedDecision{}
	}
	c.m[key] = cachedDecision{allowed: allowed, until: now.Add(ttl)}
}

// authorized checks the request's user against cfg.Authorize (always true without one).
func (s *Server) authorized(r *http.Request, u *auth.User) (bool, error) {
	if s.cfg.Authorize == nil {
		return true, nil
	}
	verb, sub := verbOf(r.Method), kubeletSubresource(r.URL.Path)
	key := u.Name + "\x00" + strings.Join(u.Groups, ",") + "\x00" + verb + "\x00" + sub
	now := time.Now()
	if allowed, ok := s.decisions.get(key, now); ok {
		return allowed, nil
	}
	allowed, err := s.cfg.Authorize(r.Context(), u, verb, sub)
	if err != nil {
		return false, err
	}
	s.decisions.put(key, allowed, now)
	return allowed, nil
}

// serveAs authorizes u's request and serves it, or answers 403 (500 when the API
// server could not be asked).
func (s *Server) serveAs(w http.ResponseWriter, r *http.Request, u *auth.User, next http.Handler) {
	allowed, err := s.authorized(r, u)
	if err != nil {
		http.Error(w, "Authorization error (user="+u.Name+")", http.StatusInternalServerError)
		return
	}
	if !allowed {
		http.Error(w, "Forbidden (user="+u.Name+", verb="+verbOf(r.Method)+", resource=nodes, subresource="+kubeletSubresource(r.URL.Path)+")", http.StatusForbidden)
		return
	}
	next.ServeHTTP(w, r)
}

// TokenFunc authenticates a bearer token (a TokenReview); ok=false means not authenticated.
type TokenFunc func(ctx context.Context, token string) (u *auth.User, ok bool, err error)

// tokenCache remembers token reviews for 2 minutes (upstream's webhook default).
type tokenCache struct {
	mu sync.Mutex
	m  map[string]cachedToken
}

type cachedToken struct {
	user  *auth.User
	until time.Time
}

// tokenUser authenticates the request's bearer token, if it has one and tokens
// are accepted. ok=false with a nil error: no token.
func (s *Server) tokenUser(r *http.Request) (*auth.User, bool, error) {
	h := r.Header.Get("Authorization")
	scheme, token, found := strings.Cut(h, " ")
	if s.cfg.AuthenticateToken == nil || !found || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(token) == "" {
		return nil, false, nil
	}
	token = strings.TrimSpace(token)
	now := time.Now()
	s.tokens.mu.Lock()
	c, hit := s.tokens.m[token]
	s.tokens.mu.Unlock()
	if hit && now.Before(c.until) {
		if c.user == nil {
			return nil, false, errors.New("invalid token")
		}
		return c.user, true, nil
	}
	u, ok, err := s.cfg.AuthenticateToken(r.Context(), token)
	if err != nil {
		return nil, false, err
	}
	if !ok {
		u = nil
	}
	s.tokens.mu.Lock()
	if s.tokens.m == nil || len(s.tokens.m) > 10000 {
		s.tokens.m = map[string]cachedToken{}
	}
	s.tokens.m[token] = cachedToken{user: u, until: now.Add(2 * time.Minute)}
	s.tokens.mu.Unlock()
	if u == nil {
		return nil, false, errors.New("invalid token")
	}
	return u, true, nil
}
