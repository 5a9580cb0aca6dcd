package kubectl_test

import (
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestAuthGeneratorsAndNodeProxy: auth whoami / can-i, the generator commands
// (which send protobuf bodies), create token, and logs/exec, which must fail fast
// with a clear message while no kubelet can be reached.
func TestAuthGeneratorsAndNodeProxy(t *testing.T) {
	srv := testserver.Start(t)
	eachKubectl(t, srv, func(t *testing.T, k *kubectl) {
		who := k.ok("auth", "whoami")
		mustMatch(t, "auth whoami", who, `Username\s+\S+`)
		mustMatch(t, "auth whoami groups", who, `Groups\s+\[.*system:masters.*\]`)
		if got := k.ok("auth", "can-i", "create", "pods"); got != "yes\n" {
			t.Fatalf("auth can-i create pods = %q", got)
		}
		if got := k.ok("auth", "can-i", "delete", "nodes", "--all-namespaces"); got != "yes\n" {
			t.Fatalf("auth can-i delete nodes = %q", got)
		}
		mustContain(t, "auth can-i --list", k.ok("auth", "can-i", "--list"), "*.*")

		mustContain(t, "create deployment", k.ok("create", "deployment", "gen", "--image=nginx:1.25", "--replicas=2"), "deployment.apps/gen created")
		mustContain(t, "expose", k.ok("expose", "deployment", "gen", "--port=80", "--target-port=8080"), "service/gen exposed")
		mustContain(t, "create secret", k.ok("create", "secret", "generic", "s", "--from-literal=k=v"), "secret/s created")
		mustContain(t, "create job", k.ok("create", "job", "j", "--image=busybox"), "job.batch/j created")
		mustContain(t, "create cronjob", k.ok("create", "cronjob", "cj", "--image=busybox", "--schedule=*/5 * * * *"), "cronjob.batch/cj created")
		mustContain(t, "set image", k.ok("set", "image", "deployment/gen", "nginx=nginx:1.26"), "deployment.apps/gen image updated")
		if row := rowFields(k.ok("get", "svc", "gen"), "gen"); len(row) != 6 || row[4] != "80/TCP" {
			t.Fatalf("exposed service row = %q", row)
		}
		if row := rowFields(k.ok("get", "secret", "s"), "s"); len(row) != 4 || row[1] != "Opaque" || row[2] != "1" {
			t.Fatalf("secret row = %q", row)
		}
		if row := rowFields(k.ok("get", "cronjob", "cj"), "cj"); len(row) < 3 || row[1] != "*/5" {
			t.Fatalf("cronjob row = %q", row)
		}

		t.Run("create token", func(t *testing.T) {
			k := k.in(t)
			k.ok("create", "serviceaccount", "bot")
			tok := strings.TrimSpace(k.ok("create", "token", "bot"))
			if strings.Count(tok, ".") != 2 {
				t.Fatalf("create token: not a JWT: %q", tok)
			}
		})

		t.Run("logs and exec without a kubelet", func(t *testing.T) {
			k := k.in(t)
			k.ok("create", "-f", k.file("p.yaml", podManifest("lp", "app: lp")+"---\n"+podManifest("unbound", "app: lp")))
			node := "logs-" + k.sfx
			k.createNode(node)
			k.bind("lp", node)
			for _, args := range [][]string{{"logs", "unbound"}, {"exec", "unbound", "--", "true"}} {
				mustContain(t, strings.Join(args, " "), k.fails(args...), "pod unbound does not have a host assigned")
			}
			// A bound pod: the API server proxies to a kubelet that does not exist. The
			// answer must be an error naming the problem, promptly, never a hang.
			for _, args := range [][]string{{"logs", "lp"}, {"exec", "lp", "--", "true"}} {
				out := k.fails(args...)
				if !strings.Contains(out, "Error from server") && !strings.Contains(out, "error:") {
					t.Fatalf("kubectl %s: want a clear error, got:\n%s", strings.Join(args, " "), out)
				}
			}
		})
	})
}
