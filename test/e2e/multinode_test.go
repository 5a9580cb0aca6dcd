package e2e

// Multi-node e2e (issue #8): a 3-node cluster on one machine built with
// test/e2e/testbed — n0 runs `skiff server` (control plane + its local node), n1
// and n2 run `skiff agent` joining it, each with its own data dir and containerd.
// One cluster serves every subtest, in order, to keep the run short.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/testbin"
	"github.com/skiff-sh/skiff/test/e2e/testbed"
	"github.com/skiff-sh/skiff/test/images/imagebuild"
)

const (
	workerLabel = "e2e.skiff.sh/worker"
	webPort     = 8080
)

// cluster is the running 3-node test cluster.
type cluster struct {
	*testbed.Cluster
}

func startCluster(t *testing.T) *cluster {
	testbed.RequireCluster(t)
	imgDir, err := os.MkdirTemp("", "skiff-e2e-images-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(imgDir) })
	if _, err := imagebuild.Build(context.Background(), imgDir); err != nil {
		t.Fatal(err)
	}
	c := &cluster{testbed.StartCluster(t, testbed.ClusterConfig{Nodes: 3, Bin: testbin.Path(t), Images: imgDir,
		ServerArgs: []string{"--node-monitor-period", "1s", "--node-monitor-grace-period", "15s"}})}
	for _, n := range []string{"n1", "n2"} {
		patch := fmt.Sprintf(`{"metadata":{"labels":{%q:"true"}}}`, workerLabel)
		if _, err := c.Client.CoreV1().Nodes().Patch(context.Background(), c.Names[n], "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *cluster) node(t *testing.T, n string) *corev1.Node {
	t.Helper()
	nd, err := c.Client.CoreV1().Nodes().Get(context.Background(), c.Names[n], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return nd
}

// nodeOf maps a Node name back to the bed node.
func (c *cluster) nodeOf(name string) string {
	for k, v := range c.Names {
		if v == name {
			return k
		}
	}
	return ""
}

// inNode runs an HTTP GET from the node's network namespace (its host network).
// The connection is dialed on the thread switched into the namespace (the
// socket stays in it); http.Transport would dial on another goroutine and thread.
func (c *cluster) inNode(t *testing.T, node, rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	var conn net.Conn
	c.Bed.InNode(t, node, func() { conn, err = net.DialTimeout("tcp", addr, 5*time.Second) })
	if err != nil {
		return "", fmt.Errorf("from %s: %w", node, err)
	}
	tr := &http.Transport{DisableKeepAlives: true,
		DialContext: func(context.Context, string, string) (net.Conn, error) { return conn, nil }}
	return httpGetStatus(&http.Client{Transport: tr, Timeout: 6 * time.Second}, rawURL)
}

// freshClient opens a new connection per request: a kept-alive connection stays
// with the backend it was balanced to, which would hide rule changes.
func freshClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}

// httpGetStatus is a GET that fails on a non-200 answer.
func httpGetStatus(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	return string(b), nil
}

// webDeployment spreads testapp pods over the worker nodes; pods tolerate an
// unreachable node only 2 s so the kill test sees them move quickly.
func webDeployment(replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": "web"}
	honor := corev1.NodeInclusionPolicyHonor
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector:                  map[string]string{workerLabel: "true"},
					TerminationGracePeriodSeconds: ptr.To[int64](1),
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
						MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.DoNotSchedule,
						LabelSelector: &metav1.LabelSelector{MatchLabels: labels}, NodeTaintsPolicy: &honor,
					}},
					Tolerations: []corev1.Toleration{
						{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](2)},
						{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](2)},
					},
					Containers: []corev1.Container{{
						Name: "app", Image: imagebuild.TestAppImage, ImagePullPolicy: corev1.PullIfNotPresent,
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: webPort}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("http")}},
							PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1, TimeoutSeconds: 1,
						},
					}},
				},
			},
		},
	}
}

// readyPods lists the web pods that are Ready, not terminating, and have an IP.
func (c *cluster) readyPods(ctx context.Context) ([]corev1.Pod, error) {
	l, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil && isReady(&p) && p.Status.PodIP != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// waitWeb waits until want web pods are Ready, and cond holds for them.
func (c *cluster) waitWeb(t *testing.T, want int, timeout time.Duration, what string, cond func([]corev1.Pod) bool) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		p, err := c.readyPods(ctx)
		if err != nil {
			return false, nil
		}
		pods = p
		return len(p) == want && (cond == nil || cond(p)), nil
	})
	if err != nil {
		var desc []string
		for _, p := range pods {
			desc = append(desc, p.Name+"@"+p.Spec.NodeName)
		}
		all, _ := c.Client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
		var allDesc []string
		for _, p := range all.Items {
			allDesc = append(allDesc, fmt.Sprintf("%s@%s phase=%s ready=%v ip=%s", p.Name, p.Spec.NodeName, p.Status.Phase, isReady(&p), p.Status.PodIP))
		}
		t.Fatalf("%s: wanted %d ready web pods within %v, have %v; all pods: %v", what, want, timeout, desc, allDesc)
	}
	return pods
}

func byNode(pods []corev1.Pod) map[string][]corev1.Pod {
	m := map[string][]corev1.Pod{}
	for _, p := range pods {
		m[p.Spec.NodeName] = append(m[p.Spec.NodeName], p)
	}
	return m
}

// hello extracts the pod name from testapp's "hello from <hostname>".
func hello(body string) string {
	return strings.TrimSpace(strings.TrimPrefix(body, "hello from "))
}

func TestMultiNode(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	if _, err := c.Client.AppsV1().Deployments("default").Create(ctx, webDeployment(4), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, err := c.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web-headless", Namespace: "default"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: webPort}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	clusterIP, nodePort := svc.Spec.ClusterIP, svc.Spec.Ports[0].NodePort
	spread := func(p []corev1.Pod) bool {
		m := byNode(p)
		return len(m[c.Names["n1"]]) == 2 && len(m[c.Names["n2"]]) == 2
	}
	pods := c.waitWeb(t, 4, 120*time.Second, "initial rollout", spread)
	on := byNode(pods)
	podA, podB := on[c.Names["n1"]][0], on[c.Names["n2"]][0]

	t.Run("PodIPsFromNodePodCIDR", func(t *testing.T) {
		for _, p := range pods {
			nd, err := c.Client.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, cidr, err := net.ParseCIDR(nd.Spec.PodCIDR)
			if err != nil {
				t.Fatalf("node %s podCIDR %q: %v", nd.Name, nd.Spec.PodCIDR, err)
			}
			if !cidr.Contains(net.ParseIP(p.Status.PodIP)) {
				t.Errorf("pod %s on %s has IP %s outside the node's podCIDR %s", p.Name, nd.Name, p.Status.PodIP, cidr)
			}
		}
		if a, b := c.node(t, "n1").Spec.PodCIDR, c.node(t, "n2").Spec.PodCIDR; a == b {
			t.Errorf("n1 and n2 share podCIDR %s", a)
		}
	})

	t.Run("PodToPodAcrossNodes", func(t *testing.T) {
		for _, pair := range [][2]corev1.Pod{{podA, podB}, {podB, podA}} {
			from, to := pair[0], pair[1]
			url := fmt.Sprintf("http://%s:%d/get?url=http://%s:%d/", from.Status.PodIP, webPort, to.Status.PodIP, webPort)
			body, err := c.inNode(t, "n0", url)
			if err != nil {
				t.Fatalf("%s (%s) → %s (%s): %v", from.Name, from.Spec.NodeName, to.Name, to.Spec.NodeName, err)
			}
			if hello(body) != to.Name {
				t.Errorf("%s → %s answered %q", from.Name, to.Name, body)
			}
		}
		// And from every node's host network to a pod on another node (host-gw routes).
		for _, n := range []string{"n0", "n1", "n2"} {
			for _, p := range []corev1.Pod{podA, podB} {
				body, err := c.inNode(t, n, fmt.Sprintf("http://%s:%d/", p.Status.PodIP, webPort))
				if err != nil || hello(body) != p.Name {
					t.Errorf("node %s → pod %s (%s): %q, %v", n, p.Name, p.Status.PodIP, body, err)
				}
			}
		}
	})

	t.Run("ClusterIPBalancesOverBothNodes", func(t *testing.T) {
		seen := map[string]int{}
		for i := 0; i < 40; i++ {
			url := fmt.Sprintf("http://%s:%d/get?url=http://%s/", podA.Status.PodIP, webPort, clusterIP)
			body, err := c.inNode(t, "n0", url)
			if err != nil {
				t.Fatalf("request %d from pod %s through ClusterIP %s: %v", i, podA.Name, clusterIP, err)
			}
			seen[hello(body)]++
		}
		nodes := map[string]bool{}
		for _, p := range pods {
			if seen[p.Name] > 0 {
				nodes[p.Spec.NodeName] = true
			}
		}
		if !nodes[c.Names["n1"]] || !nodes[c.Names["n2"]] {
			t.Errorf("ClusterIP answers came from %v; want pods on both %s and %s", seen, c.Names["n1"], c.Names["n2"])
		}
	})

	t.Run("NodePortOnEveryNode", func(t *testing.T) {
		hc := freshClient()
		for _, n := range c.Bed.Nodes {
			seen := map[string]bool{}
			for i := 0; i < 8; i++ {
				body, err := httpGetStatus(hc, fmt.Sprintf("http://%s:%d/", n.IP, nodePort))
				if err != nil {
					t.Fatalf("NodePort %d on %s (%s): %v", nodePort, n.Name, n.IP, err)
				}
				seen[hello(body)] = true
			}
			for name := range seen {
				if !strings.HasPrefix(name, "web-") {
					t.Errorf("NodePort on %s answered by %q", n.Name, name)
				}
			}
		}
	})

	t.Run("HostPort", func(t *testing.T) {
		// A pod's hostPort answers on its node's own address (CNI portmap).
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hostport", Namespace: "default"},
			Spec: corev1.PodSpec{NodeName: c.Names["n1"], TerminationGracePeriodSeconds: ptr.To[int64](1),
				Containers: []corev1.Container{{Name: "app", Image: imagebuild.TestAppImage, ImagePullPolicy: corev1.PullIfNotPresent,
					Ports: []corev1.ContainerPort{{ContainerPort: webPort, HostPort: 18080}}}}}}
		if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Client.CoreV1().Pods("default").Delete(ctx, "hostport", metav1.DeleteOptions{}) }()
		hc := freshClient()
		url := fmt.Sprintf("http://%s:18080/", c.Bed.Node("n1").IP)
		deadline := time.Now().Add(60 * time.Second)
		for {
			body, err := httpGetStatus(hc, url)
			if err == nil {
				if got := hello(body); got != "hostport" {
					t.Fatalf("hostPort on n1 answered by %q, want the hostport pod", got)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("hostPort 18080 on n1 (%s) never answered: %v", url, err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})

	t.Run("DNSFromPod", func(t *testing.T) {
		for _, from := range []corev1.Pod{podA, podB} {
			for _, name := range []string{"web", "web.default", "web.default.svc.cluster.local"} {
				body, err := c.inNode(t, "n0", fmt.Sprintf("http://%s:%d/resolve?name=%s", from.Status.PodIP, webPort, name))
				if err != nil {
					t.Fatalf("resolving %s in pod %s: %v", name, from.Name, err)
				}
				if strings.TrimSpace(body) != clusterIP {
					t.Errorf("%s resolved in pod %s to %q, want %s", name, from.Name, body, clusterIP)
				}
			}
		}
		body, err := c.inNode(t, "n0", fmt.Sprintf("http://%s:%d/resolve?name=web-headless", podA.Status.PodIP, webPort))
		if err != nil {
			t.Fatalf("resolving web-headless: %v", err)
		}
		got := strings.Fields(body)
		if len(got) != len(pods) {
			t.Errorf("web-headless resolved to %v, want the %d pod IPs", got, len(pods))
		}
		for _, p := range pods {
			if !strings.Contains(body, p.Status.PodIP+"\n") {
				t.Errorf("web-headless answer %q lacks pod %s IP %s", body, p.Name, p.Status.PodIP)
			}
		}
	})

	t.Run("UnreadyPodGetsNoTraffic", func(t *testing.T) {
		victim := podB
		if _, err := c.inNode(t, "n0", fmt.Sprintf("http://%s:%d/fail/readiness", victim.Status.PodIP, webPort)); err != nil {
			t.Fatal(err)
		}
		defer func() {
			_, _ = c.inNode(t, "n0", fmt.Sprintf("http://%s:%d/ok/readiness", victim.Status.PodIP, webPort))
			c.waitWeb(t, 4, 30*time.Second, "readiness restored", nil)
		}()
		c.waitWeb(t, 3, 30*time.Second, "victim unready", func(p []corev1.Pod) bool {
			for _, x := range p {
				if x.Name == victim.Name {
					return false
				}
			}
			return true
		})
		// The proxies follow the EndpointSlice within their sync interval.
		time.Sleep(2 * time.Second)
		hc := freshClient()
		for i := 0; i < 30; i++ {
			n := c.Bed.Nodes[i%3]
			body, err := httpGetStatus(hc, fmt.Sprintf("http://%s:%d/", n.IP, nodePort))
			if err != nil {
				t.Fatalf("NodePort on %s with one pod unready: %v", n.Name, err)
			}
			if hello(body) == victim.Name {
				t.Fatalf("unready pod %s still received request %d (via %s)", victim.Name, i, n.Name)
			}
		}
	})

	t.Run("DeletedNodeRouteDisappears", func(t *testing.T) {
		ghostCIDR, ghostIP := "10.42.250.0/24", strings.TrimSuffix(c.Bed.Gateway, ".1")+".99"
		ghost := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-ghost"},
			Spec:       corev1.NodeSpec{PodCIDR: ghostCIDR, PodCIDRs: []string{ghostCIDR}},
		}
		if _, err := c.Client.CoreV1().Nodes().Create(ctx, ghost, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The node lifecycle controller writes the new node's status too.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := c.Client.CoreV1().Nodes().Get(ctx, ghost.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cur.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ghostIP}}
			_, err = c.Client.CoreV1().Nodes().UpdateStatus(ctx, cur, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		route := func(n string) string {
			return strings.TrimSpace(c.Bed.Run(t, n, "ip", "route", "show", ghostCIDR))
		}
		for _, n := range []string{"n0", "n1", "n2"} {
			waitFor(t, 20*time.Second, "route to the ghost's podCIDR on "+n, func() bool { return strings.Contains(route(n), "via "+ghostIP) })
		}
		if err := c.Client.CoreV1().Nodes().Delete(ctx, ghost.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"n0", "n1", "n2"} {
			waitFor(t, 20*time.Second, "ghost route removed on "+n, func() bool { return route(n) == "" })
		}
	})

	t.Run("AgentRestartKeepsConnections", func(t *testing.T) {
		n1 := c.Bed.Node("n1")
		before := restartCounts(t, c, c.Names["n1"])
		reused := false
		tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		get := func(what string) {
			t.Helper()
			trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), "GET", fmt.Sprintf("http://%s:%d/", n1.IP, nodePort), nil)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.HasPrefix(hello(string(b)), "web-") {
				t.Fatalf("%s: %s %q", what, resp.Status, b)
			}
		}
		get("before the restart")
		if err := testbed.Stop(c.Procs["n1"]); err != nil {
			t.Logf("agent n1 stopped: %v", err)
		}
		get("while the agent is down")
		if !reused {
			t.Errorf("the keep-alive connection was not reused while the agent was down")
		}
		c.StartSkiff(t, "n1", c.Args["n1"]...)
		time.Sleep(3 * time.Second)
		c.WaitNodeReady(t, "n1", 60*time.Second)
		get("after the restart")
		if !reused {
			t.Errorf("the keep-alive connection opened before the restart did not survive it")
		}
		tr.CloseIdleConnections()
		get("new connection after the restart")
		c.waitWeb(t, 4, 30*time.Second, "pods after agent restart", spread)
		after := restartCounts(t, c, c.Names["n1"])
		for name, n := range before {
			if after[name] != n {
				t.Errorf("pod %s restart count %d → %d across the agent restart (want adoption)", name, n, after[name])
			}
		}
	})

	t.Run("KillallLeavesNothing", func(t *testing.T) {
		dir := c.Dir("n2")
		podNetns := podNetnsFiles(t, dir)
		if len(podNetns) < 2 {
			t.Fatalf("found %d pod network namespaces of n2 before killall, want its 2 pods'", len(podNetns))
		}
		out := c.Bed.Run(t, "n2", c.Bin, "killall", "--data-dir", dir)
		t.Logf("skiff killall:\n%s", out)
		if p := procsMentioning(dir); len(p) > 0 {
			t.Errorf("processes still running on %s after killall: %v", dir, p)
		}
		if m := mountsUnder(t, dir); len(m) > 0 {
			t.Errorf("mounts left under %s: %v", dir, m)
		}
		if out, err := c.Bed.Command("n2", "ip", "link", "show", "cni0").CombinedOutput(); err == nil {
			t.Errorf("bridge cni0 still present in n2:\n%s", out)
		}
		if tables := c.Bed.Run(t, "n2", "nft", "list", "tables"); strings.Contains(tables, "skiff") {
			t.Errorf("nftables tables left in n2:\n%s", tables)
		}
		for _, f := range podNetns {
			if _, err := os.Stat(f); err == nil {
				t.Errorf("pod network namespace %s left after killall", f)
			}
		}
		// The pods really are gone: n2's pod answers no more.
		victim := byNode(c.waitWeb(t, 4, 10*time.Second, "pods before restart", spread))[c.Names["n2"]][0]
		if body, err := c.inNode(t, "n0", fmt.Sprintf("http://%s:%d/", victim.Status.PodIP, webPort)); err == nil {
			t.Fatalf("pod %s on n2 still answered after killall: %q", victim.Name, body)
		}
		// The data is kept: the agent starts again on it and runs its pods anew.
		c.StartSkiff(t, "n2", c.Args["n2"]...)
		c.WaitNodeReady(t, "n2", 60*time.Second)
		waitFor(t, 90*time.Second, "n2's pods answering again after killall and restart", func() bool {
			p, err := c.Client.CoreV1().Pods("default").Get(ctx, victim.Name, metav1.GetOptions{})
			if err != nil || p.Status.PodIP == "" {
				return false
			}
			body, err := c.inNode(t, "n0", fmt.Sprintf("http://%s:%d/", p.Status.PodIP, webPort))
			return err == nil && hello(body) == victim.Name
		})
		c.waitWeb(t, 4, 60*time.Second, "pods after killall and agent restart", spread)
	})

	t.Run("KillNode", func(t *testing.T) {
		n2 := c.Names["n2"]
		c.Bed.LinkDown(t, "n2")
		defer c.Bed.LinkUp(t, "n2")
		start := time.Now()
		err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
			nd, err := c.Client.CoreV1().Nodes().Get(ctx, n2, metav1.GetOptions{})
			return err == nil && testbed.NodeReady(nd) == corev1.ConditionUnknown, nil
		})
		if err != nil {
			t.Fatalf("node %s not Unknown within 60s of its link going down", n2)
		}
		t.Logf("%s Unknown after %v", n2, time.Since(start).Round(time.Second))
		moved := c.waitWeb(t, 4, 90*time.Second, "pods moved off the dead node", func(p []corev1.Pod) bool {
			return len(byNode(p)[c.Names["n1"]]) == 4
		})
		t.Logf("4 pods Ready on %s %v after the link went down", c.Names["n1"], time.Since(start).Round(time.Second))
		// The Service answers from the surviving node's pods on every live node.
		names := map[string]bool{}
		for _, p := range moved {
			names[p.Name] = true
		}
		hc := freshClient()
		var lastErr error
		ok := 0
		deadline := time.Now().Add(30 * time.Second)
		for ok < 20 && time.Now().Before(deadline) {
			n := c.Bed.Nodes[ok%2] // n0 and n1
			body, err := httpGetStatus(hc, fmt.Sprintf("http://%s:%d/", n.IP, nodePort))
			if err == nil && names[hello(body)] {
				ok++
				continue
			}
			lastErr = fmt.Errorf("via %s: %q %v", n.Name, body, err)
			ok = 0
			time.Sleep(200 * time.Millisecond)
		}
		if ok < 20 {
			t.Fatalf("the Service did not answer 20 times in a row from the moved pods: last %v", lastErr)
		}
		for i := 0; i < 10; i++ {
			body, err := c.inNode(t, "n0", fmt.Sprintf("http://%s/", clusterIP))
			if err != nil || !names[hello(body)] {
				t.Fatalf("ClusterIP from n0 after the kill: %q %v", body, err)
			}
		}
	})
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func restartCounts(t *testing.T, c *cluster, node string) map[string]int32 {
	t.Helper()
	l, err := c.Client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int32{}
	for _, p := range l.Items {
		if p.Spec.NodeName != node {
			continue
		}
		for _, cs := range p.Status.ContainerStatuses {
			out[p.Name] += cs.RestartCount
		}
	}
	return out
}

// podNetnsFiles lists the /run/netns files of the pods of the node on dir: the
// namespaces of the processes whose parent is one of that node's containerd shims.
func podNetnsFiles(t *testing.T, dir string) []string {
	t.Helper()
	shim := map[string]bool{}
	parent := map[string]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil &&
			strings.Contains(string(b), "containerd-shim") && strings.Contains(string(b), dir+"/") {
			shim[e.Name()] = true
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if i := strings.LastIndexByte(string(st), ')'); i > 0 {
				if f := strings.Fields(string(st)[i+1:]); len(f) > 1 {
					parent[e.Name()] = f[1]
				}
			}
		}
	}
	inodes := map[uint64]bool{}
	for pid, ppid := range parent {
		var st syscall.Stat_t
		if shim[ppid] && syscall.Stat(filepath.Join("/proc", pid, "ns", "net"), &st) == nil {
			inodes[st.Ino] = true
		}
	}
	var out []string
	files, err := os.ReadDir("/run/netns")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		var st syscall.Stat_t
		p := filepath.Join("/run/netns", f.Name())
		if syscall.Stat(p, &st) == nil && inodes[st.Ino] {
			out = append(out, p)
		}
	}
	return out
}

// procsMentioning lists the command lines of processes that name a path under dir.
func procsMentioning(dir string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && (strings.Contains(string(b), dir+"/") || strings.Contains(string(b), dir+"\x00")) {
			out = append(out, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}
