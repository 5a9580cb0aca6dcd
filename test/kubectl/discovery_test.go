package kubectl_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestDiscoveryExplainRaw: api-resources, api-versions, version, explain, get --raw.
func TestDiscoveryExplainRaw(t *testing.T) {
	srv := testserver.Start(t)
	eachKubectl(t, srv, func(t *testing.T, k *kubectl) {
		out := k.ok("api-resources")
		if h := header(out); strings.Join(h, "|") != "NAME|SHORTNAMES|APIVERSION|NAMESPACED|KIND" {
			t.Fatalf("api-resources header = %q", h)
		}
		for name, want := range map[string]string{
			"pods":                   "pods po v1 true Pod",
			"services":               "services svc v1 true Service",
			"nodes":                  "nodes no v1 false Node",
			"namespaces":             "namespaces ns v1 false Namespace",
			"deployments":            "deployments deploy apps/v1 true Deployment",
			"poddisruptionbudgets":   "poddisruptionbudgets pdb policy/v1 true PodDisruptionBudget",
			"replicationcontrollers": "replicationcontrollers rc v1 true ReplicationController",
		} {
			if got := strings.Join(rowFields(out, name), " "); got != want {
				t.Errorf("api-resources row %s = %q, want %q", name, got, want)
			}
		}
		cluster := k.ok("api-resources", "--namespaced=false", "-o", "name")
		mustContain(t, "api-resources --namespaced=false", cluster, "nodes\n", "namespaces\n")
		mustNotContain(t, "api-resources --namespaced=false", cluster, "pods\n")
		mustContain(t, "api-resources --api-group=apps", k.ok("api-resources", "--api-group=apps", "-o", "name"), "deployments.apps", "statefulsets.apps")
		mustContain(t, "api-versions", k.ok("api-versions"), "apps/v1\n", "v1\n", "policy/v1\n")
		// The embedded kubectl's own version is not stamped at build time, so `skiff kubectl
		// version` exits 1 on "could not parse pre-release/metadata" after printing
		// both versions (reported; the build of cmd/skiff owns it). Assert the server part.
		mustContain(t, "version", k.run("version").stdout, "Server Version: v1.37")

		ex := k.ok("explain", "pod.spec.containers")
		mustContain(t, "explain pod.spec.containers", ex, "KIND:", "Pod", "FIELD: containers <[]Container>",
			"DESCRIPTION:", "image\t<string>", "name\t<string> -required-")
		mustContain(t, "explain deployment.spec.replicas", k.ok("explain", "deployment.spec.replicas"),
			"GROUP:", "apps", "FIELD: replicas <integer>")

		k.ok("create", "configmap", "rawcm", "--from-literal=a=b")
		var list struct {
			Kind  string `json:"kind"`
			Items []struct {
				Metadata struct{ Name string } `json:"metadata"`
			} `json:"items"`
		}
		raw := k.ok("get", "--raw", "/api/v1/namespaces/"+k.ns+"/configmaps")
		if err := json.Unmarshal([]byte(raw), &list); err != nil || list.Kind != "ConfigMapList" || len(list.Items) == 0 {
			t.Fatalf("get --raw configmaps: kind %q, %d items, err %v:\n%s", list.Kind, len(list.Items), err, raw)
		}
		mustContain(t, "get --raw one object", k.ok("get", "--raw", "/api/v1/namespaces/"+k.ns+"/configmaps/rawcm"),
			`"kind":"ConfigMap"`, `"name":"rawcm"`)
		mustContain(t, "get --raw missing", k.fails("get", "--raw", "/api/v1/namespaces/"+k.ns+"/configmaps/nope"),
			`Error from server (NotFound): configmaps "nope" not found`)
	})
}
