package kubectl_test

import (
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestDeleteAndWait: delete with propagation policies (the finalizers and
// deletionTimestamp they leave), grace periods, label selectors and --all;
// wait --for=condition and --for=delete.
func TestDeleteAndWait(t *testing.T) {
	srv := testserver.Start(t)
	eachKubectl(t, srv, func(t *testing.T, k *kubectl) {
		t.Run("cascade", func(t *testing.T) {
			k := k.in(t)
			k.ok("apply", "-f", k.file("app.yaml", multi("x")))
			mustContain(t, "delete --cascade=orphan", k.ok("delete", "deploy", "x-web", "--cascade=orphan", "--wait=false"), `deployment.apps "x-web" deleted`)
			got := k.ok("get", "deploy", "x-web", "-o", "jsonpath={.metadata.finalizers}|{.metadata.deletionTimestamp}")
			if !strings.HasPrefix(got, `["orphan"]|20`) {
				t.Fatalf("orphan delete: finalizers|deletionTimestamp = %q", got)
			}
			k.ok("delete", "cm", "x-cfg", "--cascade=foreground", "--wait=false")
			got = k.ok("get", "cm", "x-cfg", "-o", "jsonpath={.metadata.finalizers}|{.metadata.deletionTimestamp}")
			if !strings.HasPrefix(got, `["foregroundDeletion"]|20`) {
				t.Fatalf("foreground delete: finalizers|deletionTimestamp = %q", got)
			}
			mustContain(t, "adding a finalizer while deleting", k.fails("patch", "cm", "x-cfg", "--type=merge", "-p", `{"metadata":{"finalizers":["foregroundDeletion","x/y"]}}`),
				"no new finalizers can be added if the object is being deleted")
			// Removing the last finalizer completes the deletion (a garbage collector's job).
			k.ok("patch", "cm", "x-cfg", "--type=json", "-p", `[{"op":"remove","path":"/metadata/finalizers"}]`)
			mustContain(t, "get after finalizers removed", k.fails("get", "cm", "x-cfg"), `configmaps "x-cfg" not found`)
			k.ok("patch", "deploy", "x-web", "--type=merge", "-p", `{"metadata":{"finalizers":null}}`)
			k.fails("get", "deploy", "x-web")
			mustContain(t, "delete (background, waits)", k.ok("delete", "svc", "x-web"), `service "x-web" deleted`)
			mustContain(t, "delete missing", k.fails("delete", "pod", "nope"), `Error from server (NotFound): pods "nope" not found`)
		})

		t.Run("grace period and selectors", func(t *testing.T) {
			k := k.in(t)
			node := "del-" + k.sfx
			k.createNode(node)
			slow := strings.Replace(podManifest("slow", "app: slow"), "terminationGracePeriodSeconds: 0", "terminationGracePeriodSeconds: 60", 1)
			k.ok("create", "-f", k.file("pods.yaml", slow+"---\n"+podManifest("l-1", "app: l")+"---\n"+podManifest("l-2", "app: l")+"---\n"+podManifest("keep", "app: keep")))
			k.bind("slow", node)
			// A bound pod waits for its kubelet: the delete only marks it.
			k.ok("delete", "pod", "slow", "--grace-period=30", "--wait=false")
			got := k.ok("get", "pod", "slow", "-o", "jsonpath={.metadata.deletionGracePeriodSeconds}|{.metadata.deletionTimestamp}")
			if !strings.HasPrefix(got, "30|20") {
				t.Fatalf("graceful delete: gracePeriod|deletionTimestamp = %q", got)
			}
			if row := rowFields(k.ok("get", "pod", "slow"), "slow"); len(row) < 3 || row[2] != "Terminating" {
				t.Fatalf("graceful delete: status column = %q", row)
			}
			// --force --grace-period=0 is what a user does when the kubelet is gone.
			r := k.run("delete", "pod", "slow", "--force", "--grace-period=0")
			if r.err != nil || !strings.Contains(r.stdout, `pod "slow"`) || !strings.Contains(r.stderr, "Immediate deletion does not wait") {
				t.Fatalf("force delete:\n%s", r)
			}
			k.fails("get", "pod", "slow")

			out := k.ok("delete", "pods", "-l", "app=l")
			mustContain(t, "delete -l", out, `pod "l-1" deleted`, `pod "l-2" deleted`)
			mustNotContain(t, "delete -l", out, "keep")
			if got := k.ok("get", "pods", "-o", "name"); got != "pod/keep\n" {
				t.Fatalf("pods after delete -l = %q", got)
			}
			mustContain(t, "delete --all", k.ok("delete", "pods", "--all"), `pod "keep" deleted`)
		})

		t.Run("wait", func(t *testing.T) {
			k := k.in(t)
			k.ok("create", "-f", k.file("w.yaml", podManifest("waiter", "app: w")))
			w := k.start("wait", "--for=condition=Ready", "pod/waiter", "--timeout=20s")
			time.Sleep(500 * time.Millisecond)
			if _, done := w.exited(0); done {
				t.Fatalf("wait returned before the condition was set:\n%s%s", w.out, w.err)
			}
			k.ok("patch", "pod", "waiter", "--subresource=status", "--type=merge", "-p",
				`{"status":{"conditions":[{"type":"Ready","status":"True"}]}}`)
			err, done := w.exited(15 * time.Second)
			if !done || err != nil || !strings.Contains(w.out.String(), "pod/waiter condition met") {
				t.Fatalf("wait --for=condition=Ready: done=%v err=%v\n%s%s", done, err, w.out, w.err)
			}
			if got := k.ok("wait", "--for=condition=Ready=true", "pod/waiter", "--timeout=5s"); !strings.Contains(got, "condition met") {
				t.Fatalf("wait on a met condition = %q", got)
			}
			mustContain(t, "wait timeout", k.fails("wait", "--for=condition=Initialized", "pod/waiter", "--timeout=1s"), "timed out waiting for the condition")

			// -v=6 logs each request: delete only once kubectl is watching the pod
			// (started later, it finds nothing to wait for and prints nothing).
			d := k.start("wait", "--for=delete", "pod/waiter", "--timeout=20s", "-v=6")
			deadline := time.Now().Add(15 * time.Second)
			for !strings.Contains(d.err.String(), "watch=true") && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			k.ok("delete", "pod", "waiter", "--wait=false")
			err, done = d.exited(15 * time.Second)
			if !done || err != nil || !strings.Contains(d.out.String(), "pod/waiter condition met") {
				t.Fatalf("wait --for=delete: done=%v err=%v\n%s%s", done, err, d.out, d.err)
			}
			mustContain(t, "wait on a missing object", k.fails("wait", "--for=condition=Ready", "pod/nope", "--timeout=2s"),
				`Error from server (NotFound): pods "nope" not found`)
		})
	})
}
