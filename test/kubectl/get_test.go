package kubectl_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestGet: the output formats, selectors, -A, get all and multi-type gets.
func TestGet(t *testing.T) {
	srv := testserver.Start(t)
	eachKubectl(t, srv, func(t *testing.T, k *kubectl) {
		node := "node-" + k.sfx
		k.createNode(node)
		k.ok("create", "-f", k.file("pods.yaml", podManifest("web-1", "app: web, tier: front")+"---\n"+podManifest("db-1", "app: db")))
		k.ok("apply", "-f", k.file("app.yaml", multi("g")))
		k.bind("web-1", node)

		t.Run("table and wide", func(t *testing.T) {
			k := k.in(t)
			out := k.ok("get", "pods")
			if h := strings.Join(header(out), "|"); h != "NAME|READY|STATUS|RESTARTS|AGE" {
				t.Fatalf("get pods header = %q\n%s", h, out)
			}
			if row := rowFields(out, "web-1"); len(row) != 5 || row[1] != "0/1" || row[2] != "Pending" || row[3] != "0" {
				t.Fatalf("get pods row web-1 = %q", row)
			}
			wide := k.ok("get", "pods", "-o", "wide")
			if h := strings.Join(header(wide), "|"); h != "NAME|READY|STATUS|RESTARTS|AGE|IP|NODE|NOMINATED NODE|READINESS GATES" {
				t.Fatalf("get pods -o wide header = %q", h)
			}
			if row := rowFields(wide, "web-1"); len(row) < 7 || row[6] != node {
				t.Fatalf("-o wide row web-1 = %q, want node %s", row, node)
			}
			if row := rowFields(wide, "db-1"); len(row) < 7 || row[6] != "<none>" {
				t.Fatalf("-o wide row db-1 = %q, want node <none>", row)
			}
			dep := k.ok("get", "deploy", "-o", "wide")
			if h := strings.Join(header(dep), "|"); h != "NAME|READY|UP-TO-DATE|AVAILABLE|AGE|CONTAINERS|IMAGES|SELECTOR" {
				t.Fatalf("get deploy -o wide header = %q", h)
			}
			if row := rowFields(dep, "g-web"); len(row) != 8 || row[1] != "0/2" || row[6] != "nginx:1.25" || row[7] != "app=g-web" {
				t.Fatalf("get deploy -o wide row = %q", row)
			}
			svc := k.ok("get", "svc", "g-web")
			if row := rowFields(svc, "g-web"); len(row) != 6 || row[1] != "ClusterIP" || !strings.HasPrefix(row[2], "10.43.") || row[4] != "80/TCP" {
				t.Fatalf("get svc row = %q", row)
			}
			nodes := k.ok("get", "nodes", node)
			if row := rowFields(nodes, node); len(row) != 5 || row[1] != "Ready" || row[4] != "v1.37.0" {
				t.Fatalf("get node row = %q", row)
			}
		})

		t.Run("yaml json jsonpath custom-columns name", func(t *testing.T) {
			k := k.in(t)
			y := k.ok("get", "pod", "web-1", "-o", "yaml")
			mustContain(t, "-o yaml", y, "apiVersion: v1\nkind: Pod\n", "  name: web-1\n", "  namespace: "+k.ns+"\n", "nodeName: "+node, "uid: ")
			var list struct {
				Kind  string `json:"kind"`
				Items []struct {
					Kind     string `json:"kind"`
					Metadata struct{ Name string }
				}
			}
			j := k.ok("get", "pods", "-o", "json")
			if err := json.Unmarshal([]byte(j), &list); err != nil || list.Kind != "List" || len(list.Items) != 2 || list.Items[0].Kind != "Pod" {
				t.Fatalf("-o json: %+v, err %v\n%s", list, err, j)
			}
			if got := k.ok("get", "pods", "-o", "jsonpath={.items[*].metadata.name}"); got != "db-1 web-1" {
				t.Fatalf("jsonpath names = %q", got)
			}
			if got := k.ok("get", "pod", "web-1", "-o", "jsonpath={.spec.nodeName}/{.status.phase}"); got != node+"/Pending" {
				t.Fatalf("jsonpath one pod = %q", got)
			}
			cc := k.ok("get", "pods", "-o", "custom-columns=NAME:.metadata.name,APP:.metadata.labels.app,NODE:.spec.nodeName")
			if strings.Join(strings.Fields(cc), " ") != "NAME APP NODE db-1 db <none> web-1 web "+node {
				t.Fatalf("custom-columns:\n%s", cc)
			}
			if got := k.ok("get", "pods,svc", "-o", "name"); got != "pod/db-1\npod/web-1\nservice/g-web\n" {
				t.Fatalf("-o name = %q", got)
			}
			if got := k.ok("get", "pods", "--sort-by=.metadata.name", "-o", "name"); got != "pod/db-1\npod/web-1\n" {
				t.Fatalf("--sort-by = %q", got)
			}
			sorted := k.ok("get", "pods", "--sort-by=.metadata.name")
			if strings.Index(sorted, "db-1") > strings.Index(sorted, "web-1") || !strings.Contains(sorted, "STATUS") {
				t.Fatalf("table --sort-by:\n%s", sorted)
			}
		})

		t.Run("selectors", func(t *testing.T) {
			k := k.in(t)
			if got := k.ok("get", "pods", "-l", "app=web", "-o", "name"); got != "pod/web-1\n" {
				t.Fatalf("-l app=web = %q", got)
			}
			if got := k.ok("get", "pods", "-l", "app in (web,db),tier!=front", "-o", "name"); got != "pod/db-1\n" {
				t.Fatalf("-l set-based = %q", got)
			}
			if got := k.ok("get", "pods", "--field-selector", "spec.nodeName="+node, "-o", "name"); got != "pod/web-1\n" {
				t.Fatalf("--field-selector spec.nodeName = %q", got)
			}
			if got := k.ok("get", "pods", "--field-selector", "spec.nodeName=", "-o", "name"); got != "pod/db-1\n" {
				t.Fatalf("--field-selector spec.nodeName= (empty) = %q", got)
			}
			if got := k.ok("get", "pods", "--field-selector", "metadata.name!=web-1,status.phase=Pending", "-o", "name"); got != "pod/db-1\n" {
				t.Fatalf("--field-selector two terms = %q", got)
			}
			mustContain(t, "unsupported field", k.fails("get", "pods", "--field-selector", "spec.bogus=x"),
				"Error from server (BadRequest)", "field label not supported: spec.bogus")
			r := k.run("get", "pods", "-l", "app=nothing")
			if r.err != nil || r.stdout != "" || !strings.Contains(r.stderr, "No resources found in "+k.ns+" namespace.") {
				t.Fatalf("empty selection:\n%s", r)
			}
			all := k.ok("get", "pods", "-A")
			if h := header(all); len(h) < 2 || h[0] != "NAMESPACE" || h[1] != "NAME" {
				t.Fatalf("-A header = %q", h)
			}
			if row := rowFields(all, k.ns); len(row) < 2 {
				t.Fatalf("-A has no row in %s:\n%s", k.ns, all)
			}
			if got := k.ok("get", "ns", "--field-selector", "metadata.name="+k.ns, "-o", "name"); got != "namespace/"+k.ns+"\n" {
				t.Fatalf("namespace by field = %q", got)
			}
			if got := k.ok("get", "pods", "--chunk-size=1", "-o", "name"); got != "pod/db-1\npod/web-1\n" {
				t.Fatalf("--chunk-size=1 (pagination) = %q", got)
			}
		})

		t.Run("all and multi-type", func(t *testing.T) {
			k := k.in(t)
			all := k.ok("get", "all")
			mustContain(t, "get all", all, "pod/web-1", "pod/db-1", "service/g-web", "deployment.apps/g-web")
			mustNotContain(t, "get all", all, "configmap/")
			multi := k.ok("get", "pods,svc")
			mustContain(t, "get pods,svc", multi, "pod/web-1", "service/g-web", "TYPE", "CLUSTER-IP")
			mustContain(t, "get one missing", k.fails("get", "pod", "nope"), `Error from server (NotFound): pods "nope" not found`)
			labels := k.ok("get", "pods", "--show-labels", "-L", "tier")
			if row := rowFields(labels, "web-1"); len(row) != 7 || row[5] != "front" || row[6] != "app=web,tier=front" {
				t.Fatalf("--show-labels -L tier row = %q\n%s", row, labels)
			}
		})
	})
}

// TestGetWatch: get -w prints new and changed objects as they happen, for a
// collection and for one named object (whose first, synthetic event kubectl swallows).
func TestGetWatch(t *testing.T) {
	srv := testserver.Start(t)
	eachKubectl(t, srv, func(t *testing.T, k *kubectl) {
		k.ok("create", "-f", k.file("p.yaml", podManifest("w-0", "app: w")))

		coll := k.start("get", "pods", "-w")
		one := k.start("get", "pod", "w-0", "-w")
		js := k.start("get", "pods", "-w", "-o", "json")
		if !coll.waitFor(10*time.Second, func(s string) bool { return strings.Contains(s, "w-0") }) {
			t.Fatalf("get pods -w: no initial list:\n%s", coll.stop())
		}
		if !one.waitFor(10*time.Second, func(s string) bool { return strings.Contains(s, "w-0") }) {
			t.Fatalf("get pod w-0 -w: no initial line:\n%s", one.stop())
		}
		time.Sleep(300 * time.Millisecond) // let the watches open before changing things

		k.ok("create", "-f", k.file("p1.yaml", podManifest("w-1", "app: w")))
		if !coll.waitFor(10*time.Second, func(s string) bool { return strings.Contains(s, "w-1") }) {
			t.Fatalf("get pods -w did not print the new pod:\n%s", coll.stop())
		}
		k.ok("label", "pod", "w-0", "seen=yes")
		if !one.waitFor(10*time.Second, func(s string) bool { return countLines(s, "w-0 ") == 2 }) {
			t.Fatalf("get pod w-0 -w did not print the change (want the initial line and one more):\n%s", one.stop())
		}
		if !coll.waitFor(10*time.Second, func(s string) bool { return countLines(s, "w-0 ") == 2 }) {
			t.Fatalf("get pods -w did not print the modified pod:\n%s", coll.stop())
		}
		if !js.waitFor(10*time.Second, func(s string) bool {
			return strings.Count(s, `"seen": "yes"`) == 1 && strings.Contains(s, `"name": "w-1"`)
		}) {
			t.Fatalf("get pods -w -o json did not stream the objects:\n%s", js.stop())
		}
		// Selector transitions: a pod leaving the selection is a DELETED line.
		sel := k.start("get", "pods", "-l", "app=w", "-w", "--output-watch-events")
		if !sel.waitFor(10*time.Second, func(s string) bool { return strings.Contains(s, "ADDED") && strings.Contains(s, "w-1") }) {
			t.Fatalf("get pods -l -w --output-watch-events: no initial events:\n%s", sel.stop())
		}
		time.Sleep(300 * time.Millisecond)
		k.ok("label", "pod", "w-1", "app=gone", "--overwrite")
		if !sel.waitFor(10*time.Second, func(s string) bool {
			// The output is read as it streams: a row may still be half written.
			f := rowFields(s, "DELETED")
			return len(f) >= 2 && f[1] == "w-1"
		}) {
			t.Fatalf("relabelled pod did not leave the watched selection:\n%s", sel.stop())
		}
		if h := header(sel.stop()); len(h) < 2 || h[0] != "EVENT" || h[1] != "NAME" {
			t.Fatalf("--output-watch-events header = %q", h)
		}
		if err, done := coll.exited(0); done {
			t.Fatalf("get pods -w exited by itself: %v", err)
		}
		out := coll.stop()
		if h := header(out); len(h) == 0 || h[0] != "NAME" || countLines(out, "NAME ") != 1 {
			t.Fatalf("get pods -w must print the header once:\n%s", out)
		}
		one.stop()
		js.stop()
	})
}
