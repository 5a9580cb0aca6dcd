package kubectl_test

import (
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/internal/testserver"
)

const multiManifest = `apiVersion: v1
kind: ConfigMap
metadata:
  name: NAME-cfg
data:
  a: "1"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: NAME-web
  labels: {app: NAME-web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: NAME-web}
  template:
    metadata:
      labels: {app: NAME-web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
---
apiVersion: v1
kind: Service
metadata:
  name: NAME-web
spec:
  selector: {app: NAME-web}
  ports:
  - port: 80
`

func multi(name string) string { return strings.ReplaceAll(multiManifest, "NAME", name) }

// TestCreateApplyDiffDryRun: create -f and apply -f of a multi-object file, the
// client-side → server-side apply migration, server-side apply conflicts between
// two field managers, --dry-run=server, diff and the error messages users expect.
func TestCreateApplyDiffDryRun(t *testing.T) {
	srv := testserver.Start(t)
	eachKubectl(t, srv, func(t *testing.T, k *kubectl) {
		t.Run("create -f", func(t *testing.T) {
			k := k.in(t)
			f := k.file("created.yaml", multi("c"))
			out := k.ok("create", "-f", f)
			mustContain(t, "create -f", out, "configmap/c-cfg created", "deployment.apps/c-web created", "service/c-web created")
			again := k.fails("create", "-f", f)
			mustContain(t, "create -f twice", again,
				`Error from server (AlreadyExists): error when creating "`+f+`": configmaps "c-cfg" already exists`,
				`deployments.apps "c-web" already exists`, `services "c-web" already exists`)
			mustContain(t, "delete -f", k.ok("delete", "-f", f), `configmap "c-cfg" deleted`, `deployment.apps "c-web" deleted`)
			mustContain(t, "get after delete -f", k.fails("get", "deploy", "c-web"), `Error from server (NotFound): deployments.apps "c-web" not found`)
		})

		t.Run("apply -f twice then configured", func(t *testing.T) {
			k := k.in(t)
			f := k.file("applied.yaml", multi("a"))
			mustContain(t, "apply 1", k.ok("apply", "-f", f), "configmap/a-cfg created", "deployment.apps/a-web created", "service/a-web created")
			mustContain(t, "apply 2", k.ok("apply", "-f", f), "configmap/a-cfg unchanged", "deployment.apps/a-web unchanged", "service/a-web unchanged")
			k.file("applied.yaml", strings.Replace(multi("a"), "replicas: 2", "replicas: 3", 1))
			out := k.ok("apply", "-f", f)
			mustContain(t, "apply 3", out, "configmap/a-cfg unchanged", "deployment.apps/a-web configured", "service/a-web unchanged")
			if got := k.ok("get", "deploy", "a-web", "-o", "jsonpath={.spec.replicas}"); got != "3" {
				t.Fatalf("replicas after apply = %q, want 3", got)
			}

			// Server-side apply after client-side apply migrates the CSA ownership
			// without conflicts (upstream does; Skiff used to warn about .spec.selector).
			r := k.run("apply", "--server-side", "-f", f)
			if r.err != nil {
				t.Fatalf("apply --server-side after client-side apply:\n%s", r)
			}
			mustContain(t, "apply --server-side", r.stdout, "deployment.apps/a-web serverside-applied", "service/a-web serverside-applied")
			mustNotContain(t, "apply --server-side stderr", r.stderr, "Warning", "conflict", "failed to migrate")
			mf := k.ok("get", "deploy", "a-web", "-o", "yaml", "--show-managed-fields")
			mustContain(t, "managed fields after migration", mf, "manager: kubectl\n", "operation: Apply")
			mustNotContain(t, "managed fields after migration", mf, "manager: kubectl-client-side-apply")
			r = k.run("apply", "--server-side", "-f", f)
			if r.err != nil || r.stderr != "" {
				t.Fatalf("second apply --server-side:\n%s", r)
			}
		})

		t.Run("server-side apply conflict", func(t *testing.T) {
			k := k.in(t)
			cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  k: one\n"
			f1 := k.file("ssa1.yaml", cm)
			f2 := k.file("ssa2.yaml", strings.Replace(cm, "one", "two", 1))
			mustContain(t, "ssa alice", k.ok("apply", "--server-side", "--field-manager=alice", "-f", f1), "configmap/ssa serverside-applied")
			out := k.fails("apply", "--server-side", "--field-manager=bob", "-f", f2)
			mustContain(t, "ssa bob conflict", out, `Apply failed with 1 conflict: conflict with "alice"`, ".data.k", "--force-conflicts")
			if got := k.ok("get", "cm", "ssa", "-o", "jsonpath={.data.k}"); got != "one" {
				t.Fatalf("after a conflict data.k = %q, want one", got)
			}
			mustContain(t, "ssa bob force", k.ok("apply", "--server-side", "--field-manager=bob", "--force-conflicts", "-f", f2), "configmap/ssa serverside-applied")
			if got := k.ok("get", "cm", "ssa", "-o", "jsonpath={.data.k}"); got != "two" {
				t.Fatalf("after --force-conflicts data.k = %q, want two", got)
			}
			managers := k.ok("get", "cm", "ssa", "-o", "jsonpath={.metadata.managedFields[*].manager}", "--show-managed-fields")
			if managers != "bob" {
				t.Fatalf("managers after forced apply = %q, want bob (alice lost her only field)", managers)
			}
		})

		t.Run("dry-run=server persists nothing", func(t *testing.T) {
			k := k.in(t)
			mustContain(t, "create --dry-run=server", k.ok("create", "configmap", "dry", "--from-literal=a=b", "--dry-run=server"),
				"configmap/dry created (server dry run)")
			f := k.file("dry.yaml", podManifest("drypod", "app: dry"))
			mustContain(t, "apply --dry-run=server", k.ok("apply", "-f", f, "--dry-run=server"), "pod/drypod created (server dry run)")
			mustContain(t, "apply --server-side --dry-run=server", k.ok("apply", "--server-side", "-f", f, "--dry-run=server"),
				"pod/drypod serverside-applied (server dry run)")
			mustContain(t, "get dry configmap", k.fails("get", "cm", "dry"), `configmaps "dry" not found`)
			mustContain(t, "get dry pod", k.fails("get", "pod", "drypod"), `pods "drypod" not found`)
		})

		t.Run("diff", func(t *testing.T) {
			k := k.in(t)
			f := k.file("diff.yaml", multi("d"))
			k.ok("apply", "-f", f)
			if r := k.run("diff", "-f", f); r.err != nil || r.stdout != "" {
				t.Fatalf("diff of an applied file: want exit 0 and no output:\n%s", r)
			}
			k.file("diff.yaml", strings.Replace(multi("d"), "nginx:1.25", "nginx:1.26", 1))
			r := k.run("diff", "-f", f)
			if r.err == nil {
				t.Fatalf("diff with a change must exit 1:\n%s", r)
			}
			mustContain(t, "diff output", r.stdout, "-      - image: nginx:1.25", "+      - image: nginx:1.26", "apps.v1.Deployment."+k.ns+".d-web")
			mustNotContain(t, "diff output", r.stdout, "v1.ConfigMap") // unchanged objects are not shown
			if got := k.ok("get", "deploy", "d-web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); got != "nginx:1.25" {
				t.Fatalf("diff persisted its change: image = %q", got)
			}
		})

		t.Run("errors", func(t *testing.T) {
			k := k.in(t)
			bad := k.file("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers:\n  - name: c\n")
			mustContain(t, "create invalid pod", k.fails("create", "-f", bad), `The Pod "bad" is invalid: spec.containers[0].image: Required value`)
			mustContain(t, "apply invalid pod", k.fails("apply", "-f", bad), `The Pod "bad" is invalid: spec.containers[0].image: Required value`)
			unk := k.file("unknown.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unk\nfoo: bar\n")
			mustContain(t, "create with an unknown field", k.fails("create", "-f", unk),
				`Error from server (BadRequest): error when creating "`+unk+`": ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "foo"`)
			mustContain(t, "get unknown type", k.fails("get", "flurbs"), `the server doesn't have a resource type "flurbs"`)
		})
	})
}
