package kubectl_test

import (
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestMutations: label, annotate, patch (strategic, merge, json), edit and scale.
func TestMutations(t *testing.T) {
	srv := testserver.Start(t)
	eachKubectl(t, srv, func(t *testing.T, k *kubectl) {
		k.ok("apply", "-f", k.file("app.yaml", multi("m")))
		jp := func(path string) string { return k.ok("get", "deploy", "m-web", "-o", "jsonpath="+path) }

		t.Run("label annotate", func(t *testing.T) {
			k := k.in(t)
			mustContain(t, "label", k.ok("label", "deploy", "m-web", "env=prod"), "deployment.apps/m-web labeled")
			mustContain(t, "label without --overwrite", k.fails("label", "deploy", "m-web", "env=dev"),
				"'env' already has a value (prod), and --overwrite is false")
			k.ok("label", "deploy", "m-web", "env=dev", "--overwrite")
			mustContain(t, "annotate", k.ok("annotate", "deploy", "m-web", "note=hello world"), "deployment.apps/m-web annotated")
			if got := jp("{.metadata.labels.env}/{.metadata.annotations.note}"); got != "dev/hello world" {
				t.Fatalf("label/annotation = %q", got)
			}
			k.ok("label", "deploy", "m-web", "env-")
			if got := jp("{.metadata.labels}"); got != `{"app":"m-web"}` {
				t.Fatalf("labels after env- = %q", got)
			}
			if got := k.ok("get", "deploy", "-l", "app=m-web", "-o", "name"); got != "deployment.apps/m-web\n" {
				t.Fatalf("selecting by label = %q", got)
			}
		})

		t.Run("patch", func(t *testing.T) {
			k := k.in(t)
			gen := jp("{.metadata.generation}")
			mustContain(t, "strategic patch", k.ok("patch", "deploy", "m-web", "-p",
				`{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.26"}]}}}}`), "deployment.apps/m-web patched")
			// Strategic merge keys containers by name: the image changed, the container list did not grow.
			if got := jp("{.spec.template.spec.containers[*].image}"); got != "nginx:1.26" {
				t.Fatalf("image after strategic patch = %q", got)
			}
			if got := jp("{.metadata.generation}"); got == gen {
				t.Fatalf("generation did not move on a spec change (%s)", got)
			}
			k.ok("patch", "deploy", "m-web", "--type=merge", "-p", `{"spec":{"minReadySeconds":5}}`)
			k.ok("patch", "deploy", "m-web", "--type=json", "-p", `[{"op":"replace","path":"/spec/replicas","value":4}]`)
			if got := jp("{.spec.minReadySeconds}/{.spec.replicas}"); got != "5/4" {
				t.Fatalf("after merge and json patches = %q", got)
			}
			mustContain(t, "json patch test op", k.fails("patch", "deploy", "m-web", "--type=json", "-p",
				`[{"op":"test","path":"/spec/replicas","value":9}]`), "The request is invalid")
			mustContain(t, "invalid patch result", k.fails("patch", "deploy", "m-web", "-p", `{"spec":{"replicas":-1}}`),
				`The Deployment "m-web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`)
			mustContain(t, "no-op patch", k.ok("patch", "deploy", "m-web", "--type=merge", "-p", `{"spec":{"replicas":4}}`),
				"deployment.apps/m-web patched (no change)")
			mustContain(t, "patch missing", k.fails("patch", "deploy", "nope", "-p", `{}`), `deployments.apps "nope" not found`)
		})

		t.Run("edit", func(t *testing.T) {
			k := k.in(t)
			k.env = []string{"KUBE_EDITOR=" + k.script("edit.sh", `sed -i 's/image: nginx:1.26/image: nginx:1.27/' "$1"`)}
			mustContain(t, "edit", k.ok("edit", "deploy", "m-web"), "deployment.apps/m-web edited")
			if got := jp("{.spec.template.spec.containers[0].image}"); got != "nginx:1.27" {
				t.Fatalf("image after edit = %q", got)
			}
			k.env = []string{"EDITOR=" + k.script("noop.sh", "true")}
			r := k.run("edit", "deploy", "m-web")
			if r.err != nil || !strings.Contains(r.stdout+r.stderr, "Edit cancelled, no changes made.") {
				t.Fatalf("edit without changes:\n%s", r)
			}
			k.env = []string{"KUBE_EDITOR=" + k.script("bad.sh", `sed -i 's/replicas: 4/replicas: -3/' "$1"`)}
			mustContain(t, "edit to an invalid object", k.fails("edit", "deploy", "m-web"), `deployments.apps "m-web" is invalid`)
			k.env = nil
			if got := jp("{.spec.replicas}"); got != "4" {
				t.Fatalf("replicas after a rejected edit = %q", got)
			}
		})

		t.Run("scale", func(t *testing.T) {
			k := k.in(t)
			mustContain(t, "scale", k.ok("scale", "deploy", "m-web", "--replicas=2"), "deployment.apps/m-web scaled")
			if got := jp("{.spec.replicas}"); got != "2" {
				t.Fatalf("replicas after scale = %q", got)
			}
			mustContain(t, "scale with a precondition", k.ok("scale", "deploy", "m-web", "--current-replicas=2", "--replicas=5"), "scaled")
			mustContain(t, "scale with a failed precondition", k.fails("scale", "deploy", "m-web", "--current-replicas=2", "--replicas=7"),
				"Expected replicas to be 2, was 5")
			if got := k.ok("get", "--raw", "/apis/apps/v1/namespaces/"+k.ns+"/deployments/m-web/scale"); !strings.Contains(got, `"kind":"Scale"`) || !strings.Contains(got, `"replicas":5`) || !strings.Contains(got, `"selector":"app=m-web"`) {
				t.Fatalf("scale subresource: %s", got)
			}
		})
	})
}
