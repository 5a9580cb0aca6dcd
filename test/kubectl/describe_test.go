package kubectl_test

import (
	"regexp"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestDescribe: describe pod, node and deployment, each with its events (which
// kubectl finds through event field selectors, including the empty-namespace match
// for node events).
func TestDescribe(t *testing.T) {
	srv := testserver.Start(t)
	eachKubectl(t, srv, func(t *testing.T, k *kubectl) {
		node := "dn-" + k.sfx
		n := k.createNode(node)
		k.ok("create", "-f", k.file("pod.yaml", podManifest("dp", "app: dp")))
		k.bind("dp", node)
		k.ok("apply", "-f", k.file("app.yaml", multi("dd")))

		k.event("dp.scheduled", corev1.ObjectReference{Kind: "Pod", Namespace: k.ns, Name: "dp", UID: k.podUID("dp"), APIVersion: "v1"},
			"Scheduled", "Successfully assigned "+k.ns+"/dp to "+node)
		k.event("dn.ready."+k.sfx, corev1.ObjectReference{Kind: "Node", Name: node, UID: n.UID}, "NodeReady", "Node "+node+" status is now: NodeReady")
		dep, err := k.srv.Client.AppsV1().Deployments(k.ns).Get(ctx(), "dd-web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		k.event("dd.scaled", corev1.ObjectReference{Kind: "Deployment", Namespace: k.ns, Name: "dd-web", UID: dep.UID, APIVersion: "apps/v1"},
			"ScalingReplicaSet", "Scaled up replica set dd-web-5d4f to 2")

		pod := k.ok("describe", "pod", "dp")
		mustContain(t, "describe pod", pod, "Name:             dp", "Namespace:        "+k.ns, "Node:             "+node,
			"Labels:           app=dp", "Status:           Pending", "Containers:", "Image:        busybox:1.36", "Events:")
		mustMatch(t, "describe pod events", pod, `Normal\s+Scheduled\s+\S+\s+skiff-test\s+Successfully assigned `+k.ns+`/dp to `+node)

		nd := k.ok("describe", "node", node)
		mustContain(t, "describe node", nd, "Name:               "+node, "Unschedulable:      false", "InternalIP:  10.9.0.7",
			"Kubelet Version:            v1.37.0", "Non-terminated Pods:          (1 in total)", "Allocated resources:")
		mustMatch(t, "describe node pods", nd, `\s`+k.ns+`\s+dp\s+0 \(0%\)`)
		mustMatch(t, "describe node events", nd, `Normal\s+NodeReady\s+\S+\s+skiff-test\s+Node `+node+` status is now: NodeReady`)
		mustMatch(t, "describe node conditions", nd, `Ready\s+True\s.*KubeletReady`)

		d := k.ok("describe", "deployment", "dd-web")
		mustContain(t, "describe deployment", d, "Name:                   dd-web", "Selector:               app=dd-web",
			"Replicas:               2 desired | 0 updated | 0 total | 0 available | 0 unavailable",
			"StrategyType:           RollingUpdate", "Image:         nginx:1.25")
		mustMatch(t, "describe deployment events", d, `Normal\s+ScalingReplicaSet\s+\S+\s+skiff-test\s+Scaled up replica set dd-web-5d4f to 2`)

		svc := k.ok("describe", "svc", "dd-web")
		mustContain(t, "describe service", svc, "Name:", "dd-web", "Selector:", "app=dd-web", "Port:", "80/TCP")

		mustContain(t, "describe missing", k.fails("describe", "pod", "nope"), `Error from server (NotFound): pods "nope" not found`)
		ev := k.ok("get", "events")
		mustMatch(t, "get events", ev, `Normal\s+Scheduled\s+pod/dp\s+Successfully assigned`)
	})
}

func mustMatch(t *testing.T, what, out, re string) {
	t.Helper()
	if !regexp.MustCompile(re).MatchString(out) {
		t.Fatalf("%s: want a match for %q in:\n%s", what, re, out)
	}
}
