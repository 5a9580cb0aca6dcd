package apiserver

import (
	"net/http/httptest"
	"testing"

	"github.com/skiff-sh/skiff/internal/authz"
)

func TestRequestAttributes(t *testing.T) {
	cases := []struct {
		method, url string
		want        authz.Attributes
	}{
		{"GET", "/api/v1/namespaces/ns/pods", authz.Attributes{ResourceRequest: true, Verb: "list", APIVersion: "v1", Resource: "pods", Namespace: "ns"}},
		{"GET", "/api/v1/namespaces/ns/pods?watch=true", authz.Attributes{ResourceRequest: true, Verb: "watch", APIVersion: "v1", Resource: "pods", Namespace: "ns"}},
		{"GET", "/api/v1/namespaces/ns/pods/p?watch=1", authz.Attributes{ResourceRequest: true, Verb: "watch", APIVersion: "v1", Resource: "pods", Namespace: "ns", Name: "p"}},
		{"DELETE", "/apis/apps/v1/namespaces/ns/deployments", authz.Attributes{ResourceRequest: true, Verb: "deletecollection", APIGroup: "apps", APIVersion: "v1", Resource: "deployments", Namespace: "ns"}},
		{"PUT", "/apis/apps/v1/namespaces/ns/deployments/d/scale", authz.Attributes{ResourceRequest: true, Verb: "update", APIGroup: "apps", APIVersion: "v1", Resource: "deployments", Subresource: "scale", Namespace: "ns", Name: "d"}},
		{"POST", "/api/v1/namespaces/ns/pods/p/exec", authz.Attributes{ResourceRequest: true, Verb: "create", APIVersion: "v1", Resource: "pods", Subresource: "exec", Namespace: "ns", Name: "p"}},
		{"GET", "/api/v1/namespaces/ns", authz.Attributes{ResourceRequest: true, Verb: "get", APIVersion: "v1", Resource: "namespaces", Namespace: "ns", Name: "ns"}},
		{"PUT", "/api/v1/namespaces/ns/finalize", authz.Attributes{ResourceRequest: true, Verb: "update", APIVersion: "v1", Resource: "namespaces", Subresource: "finalize", Namespace: "ns", Name: "ns"}},
		{"GET", "/api/v1/nodes/n", authz.Attributes{ResourceRequest: true, Verb: "get", APIVersion: "v1", Resource: "nodes", Name: "n"}},
		{"GET", "/apis/apps/v1", authz.Attributes{Verb: "get"}},
		{"GET", "/api", authz.Attributes{Verb: "get"}},
		{"GET", "/openapi/v3", authz.Attributes{Verb: "get"}},
		{"POST", "/healthz", authz.Attributes{Verb: "post"}},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, c.url, nil)
		got := requestAttributes(r)
		c.want.Path = r.URL.Path
		if got != c.want {
			t.Errorf("%s %s:\n got %+v\nwant %+v", c.method, c.url, got, c.want)
		}
	}
}

func TestWebSocketExecIsAlsoCreate(t *testing.T) {
	r := httptest.NewRequest("GET", "/api/v1/namespaces/ns/pods/p/exec?command=sh", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	checks := attributesToCheck(r, requestAttributes(r))
	if len(checks) != 2 || checks[0].Verb != "get" || checks[1].Verb != "create" {
		t.Fatalf("checks: %+v", checks)
	}
	r.Header.Del("Upgrade")
	if checks := attributesToCheck(r, requestAttributes(r)); len(checks) != 1 {
		t.Fatalf("plain GET exec: %+v", checks)
	}
}
