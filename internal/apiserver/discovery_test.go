package apiserver_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestAggregatedAndLegacyDiscoveryAgree asks client-go's discovery client for the
// server's resources twice: the default way (aggregated apidiscovery.k8s.io/v2 on
// /api and /apis, which kubectl and client-go v0.37 use) and the legacy way (one
// APIResourceList per group version). Both must list exactly the same resources
// with the same kind, scope, verbs, short names, categories and subresource kinds.
func TestAggregatedAndLegacyDiscoveryAgree(t *testing.T) {
	s := testserver.Start(t)

	for _, path := range []string{"/api", "/apis"} {
		ct := discoveryContentType(t, s.Config, path)
		if ct != "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" {
			t.Fatalf("%s with the aggregated Accept answered Content-Type %q", path, ct)
		}
	}

	aggregated := discoveryClient(t, s.Config, false)
	legacy := discoveryClient(t, s.Config, true)
	_, aggLists, err := aggregated.ServerGroupsAndResources()
	if err != nil {
		t.Fatalf("aggregated discovery: %v", err)
	}
	_, legLists, err := legacy.ServerGroupsAndResources()
	if err != nil {
		t.Fatalf("legacy discovery: %v", err)
	}
	agg, leg := flatten(aggLists), flatten(legLists)
	if len(agg) < 30 {
		t.Fatalf("aggregated discovery lists only %d resources", len(agg))
	}
	for key, want := range leg {
		got, ok := agg[key]
		if !ok {
			t.Errorf("%s is in legacy discovery only", key)
			continue
		}
		if got != want {
			t.Errorf("%s differs:\n aggregated: %s\n legacy:     %s", key, got, want)
		}
	}
	for key := range agg {
		if _, ok := leg[key]; !ok {
			t.Errorf("%s is in aggregated discovery only", key)
		}
	}
	for _, key := range []string{"v1/pods", "v1/pods/eviction", "v1/pods/binding", "apps/v1/deployments/scale", "v1/namespaces/finalize"} {
		if _, ok := agg[key]; !ok {
			t.Errorf("%s missing from discovery", key)
		}
	}
	if got := agg["apps/v1/deployments/scale"]; !strings.Contains(got, "gvk=autoscaling/v1, Kind=Scale") {
		t.Errorf("deployments/scale must answer autoscaling/v1 Scale: %s", got)
	}
	if got := agg["v1/pods/eviction"]; !strings.Contains(got, "gvk=policy/v1, Kind=Eviction") {
		t.Errorf("pods/eviction must answer policy/v1 Eviction (kubectl drain checks it): %s", got)
	}
}

func discoveryClient(t *testing.T, cfg *rest.Config, legacy bool) *discovery.DiscoveryClient {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(rest.CopyConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	dc.UseLegacyDiscovery = legacy
	return dc
}

func discoveryContentType(t *testing.T, cfg *rest.Config, path string) string {
	t.Helper()
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, cfg.Host+path, nil)
	req.Header.Set("Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	return resp.Header.Get("Content-Type")
}

// flatten keys resources by "<group/version>/<name>" and describes each in one
// comparable string. Legacy lists leave group/version empty when they equal the
// list's; aggregated ones always fill them, so both are normalized first.
func flatten(lists []*metav1.APIResourceList) map[string]string {
	out := map[string]string{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			g, v := r.Group, r.Version
			if g == "" && v == "" {
				g, v = gv.Group, gv.Version
			}
			verbs := slices.Clone([]string(r.Verbs))
			slices.Sort(verbs)
			desc := fmt.Sprintf("gvk=%s namespaced=%v verbs=%v", schema.GroupVersionKind{Group: g, Version: v, Kind: r.Kind}, r.Namespaced, verbs)
			if !strings.Contains(r.Name, "/") {
				desc += fmt.Sprintf(" singular=%s short=%v categories=%v", r.SingularName, r.ShortNames, r.Categories)
			}
			out[l.GroupVersion+"/"+r.Name] = desc
		}
	}
	return out
}
