package kubectl_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestCordonDrain: cordon, uncordon and drain of a node with pods bound to it
// through pods/binding and protected by a PodDisruptionBudget. Drain evicts through
// pods/eviction, which honours the budget (429 while no disruption is allowed).
//
// No disruption controller runs in the test server, so the test writes the
// budget's status (disruptionsAllowed) itself through the status subresource.
func TestCordonDrain(t *testing.T) {
	srv := testserver.Start(t)
	eachKubectl(t, srv, func(t *testing.T, k *kubectl) {
		node := "drain-" + k.sfx
		k.createNode(node)

		mustContain(t, "cordon", k.ok("cordon", node), "node/"+node+" cordoned")
		if row := rowFields(k.ok("get", "node", node), node); len(row) < 2 || row[1] != "Ready,SchedulingDisabled" {
			t.Fatalf("cordoned node row = %q", row)
		}
		if got := k.ok("get", "nodes", "--field-selector", "spec.unschedulable=true", "-o", "name"); !strings.Contains(got, "node/"+node) {
			t.Fatalf("field selector spec.unschedulable=true = %q", got)
		}
		mustContain(t, "uncordon", k.ok("uncordon", node), "node/"+node+" uncordoned")
		if row := rowFields(k.ok("get", "node", node), node); len(row) < 2 || row[1] != "Ready" {
			t.Fatalf("uncordoned node row = %q", row)
		}
		mustContain(t, "taint", k.ok("taint", "node", node, "dedicated=test:NoSchedule"), "node/"+node+" tainted")
		mustContain(t, "describe tainted node", k.ok("describe", "node", node), "Taints:             dedicated=test:NoSchedule")
		k.ok("taint", "node", node, "dedicated-")

		k.ok("create", "-f", k.file("pods.yaml", podManifest("d-a", "app: guarded")+"---\n"+podManifest("d-b", "app: guarded")+"---\n"+podManifest("d-free", "app: free")))
		for _, p := range []string{"d-a", "d-b", "d-free"} {
			k.bind(p, node)
		}
		k.ok("create", "-f", k.file("pdb.yaml", `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: guard
spec:
  maxUnavailable: 1
  selector:
    matchLabels: {app: guarded}
`))
		k.setPDBStatus("guard", 0)

		// The budget allows nothing: drain evicts the free pod, retries the guarded ones
		// on 429 and gives up at its timeout.
		out := k.fails("drain", node, "--force", "--timeout=4s")
		mustContain(t, "blocked drain", out, "node/"+node+" cordoned", "Cannot evict pod as it would violate the pod's disruption budget", "pod/d-free evicted")
		if got := k.ok("get", "pods", "-o", "name"); got != "pod/d-a\npod/d-b\n" {
			t.Fatalf("pods after a blocked drain = %q", got)
		}

		k.setPDBStatus("guard", 2)
		out = k.ok("drain", node, "--force", "--timeout=20s")
		mustContain(t, "drain", out, "pod/d-a evicted", "pod/d-b evicted", "node/"+node+" drained")
		r := k.run("get", "pods")
		if r.err != nil || r.stdout != "" {
			t.Fatalf("pods left after drain:\n%s", r)
		}
		pdb, err := k.srv.Client.PolicyV1().PodDisruptionBudgets(k.ns).Get(ctx(), "guard", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pdb.Status.DisruptionsAllowed != 0 || len(pdb.Status.DisruptedPods) != 2 {
			t.Fatalf("evictions must spend the budget: allowed %d, disrupted %v", pdb.Status.DisruptionsAllowed, pdb.Status.DisruptedPods)
		}
		if row := rowFields(k.ok("get", "node", node), node); len(row) < 2 || row[1] != "Ready,SchedulingDisabled" {
			t.Fatalf("drained node row = %q", row)
		}
		mustContain(t, "pdb table", k.ok("get", "pdb", "guard"), "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS")
	})
}
