package apiserver

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/authz"
)

// withImpersonation honours Impersonate-User, -Group, -Uid and -Extra-<key>
// (kubectl --as, --as-group, --as-uid): each requested identity part is
// authorized separately with the impersonate verb — users, groups, uids and
// userextras/<key> (serviceaccounts in their namespace for a
// system:serviceaccount: user) — and only then does the request proceed as the
// impersonated user, who gets system:authenticated (or, for
// system:anonymous, system:unauthenticated) like any authenticated user.
func (s *Server) withImpersonation(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		checks, err := impersonationChecks(r.Header)
		if err != nil {
			writeError(w, err)
			return
		}
		if len(checks) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		requestor, ok := auth.UserFrom(r.Context())
		if !ok {
			writeError(w, apierrors.NewInternalError(fmt.Errorf("no user found for request")))
			return
		}
		_, groupsGiven := r.Header[authenticationv1.ImpersonateGroupHeader]
		as := &auth.User{Extra: map[string][]string{}}
		for _, c := range checks {
			c.attrs.User = requestor
			if err := s.authorize(r.Context(), c.attrs); err != nil {
				writeError(w, err)
				return
			}
			c.apply(as, groupsGiven)
		}
		if len(as.Extra) == 0 {
			as.Extra = nil
		}
		as.Groups = withDefaultGroup(as.Name, as.Groups)
		r = r.WithContext(auth.WithUser(r.Context(), as))
		r.Header = r.Header.Clone()
		for h := range r.Header {
			if strings.HasPrefix(h, "Impersonate-") {
				r.Header.Del(h)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// impersonationCheck is one part of the identity asked for and the access
// needed to take it.
type impersonationCheck struct {
	attrs authz.Attributes
	apply func(as *auth.User, groupsGiven bool)
}

func impersonationChecks(h http.Header) ([]impersonationCheck, error) {
	var out []impersonationCheck
	userName := h.Get(authenticationv1.ImpersonateUserHeader)
	if userName != "" {
		out = append(out, userCheck(userName))
	}
	for _, g := range h[authenticationv1.ImpersonateGroupHeader] {
		g := g
		out = append(out, impersonationCheck{
			attrs: authz.Attributes{Verb: "impersonate", ResourceRequest: true, APIVersion: "v1", Resource: "groups", Name: g},
			apply: func(as *auth.User, _ bool) { as.Groups = append(as.Groups, g) },
		})
	}
	for name, values := range h {
		if !strings.HasPrefix(name, authenticationv1.ImpersonateUserExtraHeaderPrefix) {
			continue
		}
		key := strings.ToLower(name[len(authenticationv1.ImpersonateUserExtraHeaderPrefix):])
		if k, err := url.PathUnescape(key); err == nil {
			key = k
		}
		for _, v := range values {
			v := v
			out = append(out, impersonationCheck{
				attrs: authz.Attributes{Verb: "impersonate", ResourceRequest: true, APIGroup: "authentication.k8s.io",
					APIVersion: "v1", Resource: "userextras", Subresource: key, Name: v},
				apply: func(as *auth.User, _ bool) { as.Extra[key] = append(as.Extra[key], v) },
			})
		}
	}
	if uid := h.Get(authenticationv1.ImpersonateUIDHeader); uid != "" {
		out = append(out, impersonationCheck{
			attrs: authz.Attributes{Verb: "impersonate", ResourceRequest: true, APIGroup: "authentication.k8s.io",
				APIVersion: "v1", Resource: "uids", Name: uid},
			apply: func(as *auth.User, _ bool) { as.UID = uid },
		})
	}
	if len(out) > 0 && userName == "" {
		return nil, apierrors.NewBadRequest("requested impersonation of groups, extra or a uid without impersonating a user")
	}
	return out, nil
}

// userCheck: a system:serviceaccount:<ns>:<name> user is impersonated through
// the serviceaccounts resource in its namespace and, unless groups are given,
// gets the service account groups; any other name through users.
func userCheck(name string) impersonationCheck {
	if ns, sa, ok := splitServiceAccount(name); ok {
		return impersonationCheck{
			attrs: authz.Attributes{Verb: "impersonate", ResourceRequest: true, APIVersion: "v1",
				Resource: "serviceaccounts", Namespace: ns, Name: sa},
			apply: func(as *auth.User, groupsGiven bool) {
				as.Name = name
				if !groupsGiven {
					as.Groups = append(as.Groups, "system:serviceaccounts", "system:serviceaccounts:"+ns)
				}
			},
		}
	}
	return impersonationCheck{
		attrs: authz.Attributes{Verb: "impersonate", ResourceRequest: true, APIVersion: "v1", Resource: "users", Name: name},
		apply: func(as *auth.User, _ bool) { as.Name = name },
	}
}

func splitServiceAccount(user string) (ns, name string, ok bool) {
	rest, found := strings.CutPrefix(user, "system:serviceaccount:")
	if !found {
		return "", "", false
	}
	ns, name, ok = strings.Cut(rest, ":")
	if !ok || ns == "" || name == "" || strings.Contains(name, ":") {
		return "", "", false
	}
	return ns, name, true
}

// withDefaultGroup adds system:authenticated (system:unauthenticated for the
// anonymous user) unless one of the two is already there, as upstream.
func withDefaultGroup(name string, groups []string) []string {
	want := auth.AuthenticatedGroup
	if name == auth.AnonymousUser {
		want = auth.UnauthenticatedGroup
	}
	for _, g := range groups {
		if g == want || (want == auth.AuthenticatedGroup && g == auth.UnauthenticatedGroup) {
			return groups
		}
	}
	return append(groups, want)
}
