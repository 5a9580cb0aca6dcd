package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/skiff-sh/skiff/internal/auth"
)

func TestKubeletAPIAuthorization(t *testing.T) {
	for path, want := range map[string]string{
		"/stats/summary": "stats", "/metrics": "metrics", "/metrics/cadvisor": "metrics", "/pods": "pods",
		"/healthz": "healthz", "/exec/ns/p/c": "proxy", "/attach/ns/p/c": "proxy", "/portForward/ns/p": "proxy",
		"/containerLogs/ns/p/c": "proxy", "/logs/": "log", "/statsx": "proxy",
	} {
		if got := kubeletSubresource(path); got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}
	calls := 0
	s := &Server{cfg: Config{Authorize: func(_ context.Context, u *auth.User, verb, sub string) (bool, error) {
		calls++
		return u.Name == "kube-apiserver-kubelet-client" || (verb == "get" && sub == "stats"), nil
	}}}
	apiserver := &auth.User{Name: "kube-apiserver-kubelet-client"}
	otherNode := &auth.User{Name: "system:node:b", Groups: []string{"system:nodes"}}
	for _, tc := range []struct {
		user         *auth.User
		method, path string
		want         bool
	}{
		{apiserver, "POST", "/exec/ns/p/c", true},
		{otherNode, "POST", "/exec/ns/p/c", false},
		{otherNode, "GET", "/stats/summary", true},
		{otherNode, "POST", "/exec/ns/p/c", false}, // cached
	} {
		got, err := s.authorized(httptest.NewRequest(tc.method, tc.path, nil), tc.user)
		if err != nil || got != tc.want {
			t.Errorf("%s %s %s: %v %v, want %v", tc.user.Name, tc.method, tc.path, got, err, tc.want)
		}
	}
	if calls != 3 {
		t.Errorf("%d authorization calls, want 3 (the repeated decision is cached)", calls)
	}
}

func TestKubeletBearerTokens(t *testing.T) {
	reviews := 0
	s := &Server{cfg: Config{AuthenticateToken: func(_ context.Context, tok string) (*auth.User, bool, error) {
		reviews++
		if tok == "good" {
			return &auth.User{Name: "alice"}, true, nil
		}
		return nil, false, nil
	}}}
	req := func(h string) *http.Request {
		r := httptest.NewRequest("GET", "/pods", nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		return r
	}
	if _, ok, err := s.tokenUser(req("")); ok || err != nil {
		t.Errorf("no token: ok=%v err=%v", ok, err)
	}
	for range 2 {
		if u, ok, err := s.tokenUser(req("Bearer good")); !ok || err != nil || u.Name != "alice" {
			t.Errorf("good token: %v %v %v", u, ok, err)
		}
		if _, ok, err := s.tokenUser(req("Bearer bad")); ok || err == nil {
			t.Errorf("bad token: ok=%v err=%v", ok, err)
		}
	}
	if reviews != 2 {
		t.Errorf("%d token reviews, want 2 (answers are cached)", reviews)
	}
}
