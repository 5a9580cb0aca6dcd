// Package e2e runs Skiff end to end on this machine: a real control plane
// (internal/testserver), a node agent with its own containerd + runc + CNI, and
// the test images built from test/images. It needs root and the packages
// hack/install-deps.sh installs; without them every test is skipped LOUDLY.
package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/agent"
	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/kubelet/stats"
	"github.com/skiff-sh/skiff/internal/testserver"
	"github.com/skiff-sh/skiff/test/e2e/testbed"
	"github.com/skiff-sh/skiff/test/images/imagebuild"
)

// requireNode skips (loudly) unless this machine can run real containers.
func requireNode(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, bin := range []string{"containerd", "runc", "ctr", "iptables"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	for _, p := range []string{"bridge", "host-local", "portmap", "loopback"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", p)); err != nil {
			missing = append(missing, "/usr/lib/cni/"+p)
		}
	}
	if len(missing) > 0 {
		t.Skipf("\n\n*** SKIPPING KUBELET E2E: missing %s — run as root after ./hack/install-deps.sh ***\n", strings.Join(missing, ", "))
	}
}

// node is a running agent against a test control plane.
type node struct {
	name    string
	client  kubernetes.Interface
	config  *rest.Config
	dir     string
	dataDir string // the control plane's, for its PKI
}

const podCIDR = "10.244.77.0/24"

func startNode(t *testing.T) *node {
	t.Helper()
	requireNode(t)
	srv := testserver.Start(t)
	dir, err := os.MkdirTemp("", "skiff-e2e-agent-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Logf("building test images")
	images, err := imagebuild.Build(ctx, filepath.Join(dir, "images"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("images: %v", images)
	n := &node{name: "e2e-node", client: srv.Client, config: srv.Config, dir: dir, dataDir: srv.DataDir}
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(ctx, agent.Config{DataDir: dir, NodeName: n.name, KubeletAddress: ":0",
			PodManifestPath: filepath.Join(dir, "manifests"), ManifestPeriod: time.Second, Ready: ready}, srv.Config)
	}()
	t.Cleanup(func() {
		n.deleteAllPods(t)
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Log("agent did not stop within 30s")
		}
		// Whatever the node could not stop (shims outlive their agent) goes now,
		// with the pods' network namespaces, as `skiff killall` does.
		stopped, err := agent.StopRuntime(dir)
		if err != nil {
			t.Errorf("stopping the node's runtime: %v", err)
		}
		if _, err := agent.RemoveNetns("/run/netns", stopped.Netns); err != nil {
			t.Errorf("removing the pods' network namespaces: %v", err)
		}
		testbed.CleanupDir(dir)
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("agent stopped: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("node did not register within 90s")
	}
	// No node IPAM controller runs here: assign the pod range ourselves.
	patch := fmt.Sprintf(`{"spec":{"podCIDR":%q,"podCIDRs":[%q]}}`, podCIDR, podCIDR)
	if _, err := srv.Client.CoreV1().Nodes().Patch(ctx, n.name, "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	n.waitNodeReady(t)
	return n
}

func (n *node) waitNodeReady(t *testing.T) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		node, err := n.client.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("node never Ready: %v", err)
	}
}

func (n *node) deleteAllPods(t *testing.T) {
	ctx := context.Background()
	_ = n.client.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](1)}, metav1.ListOptions{})
	_ = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := n.client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0, nil
	})
}

func testPod(name string, args ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			NodeName: "e2e-node",
			Containers: []corev1.Container{{
				Name: "app", Image: imagebuild.TestAppImage, ImagePullPolicy: corev1.PullIfNotPresent,
				Args:  args,
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				Env:   []corev1.EnvVar{{Name: "MY_POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
			}},
		},
	}
}

// waitPod polls the pod until cond holds.
func (n *node) waitPod(t *testing.T, name string, timeout time.Duration, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		p, err := n.client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		return cond(p), nil
	})
	if err != nil {
		t.Fatalf("pod %s: %s not reached within %v; last status: %+v", name, what, timeout, last.Status)
	}
	return last
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func (n *node) exec(t *testing.T, pod string, cmd ...string) (string, string, error) {
	t.Helper()
	req := n.client.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: "app", Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(n.config, "POST", req.URL())
	if err != nil {
		return "", "", err
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	return stdout.String(), stderr.String(), err
}

// execDirect runs a command through the kubelet's own /exec endpoint (SPDY),
// bypassing the API server, with a client certificate signed by the cluster CA
// (anonymous: without one).
func (n *node) execDirect(t *testing.T, pod string, anonymous bool, cmd ...string) (string, string, error) {
	t.Helper()
	node, err := n.client.CoreV1().Nodes().Get(context.Background(), n.name, metav1.GetOptions{})
	if err != nil {
		return "", "", err
	}
	q := url.Values{"command": cmd, "output": {"1"}, "error": {"1"}}
	u, _ := url.Parse(fmt.Sprintf("https://127.0.0.1:%d/exec/default/%s/app?%s", node.Status.DaemonEndpoints.KubeletEndpoint.Port, pod, q.Encode()))
	cfg := &rest.Config{TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
	if !anonymous {
		pki, err := auth.EnsurePKI(filepath.Join(n.dataDir, "tls"), nil)
		if err != nil {
			return "", "", err
		}
		cfg.CertData, cfg.KeyData, err = pki.IssueClientCert(kubeletClientUser, nil, time.Hour)
		if err != nil {
			return "", "", err
		}
	}
	ex, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		return "", "", err
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	return stdout.String(), stderr.String(), err
}

func TestKubeletRealContainers(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	pods := n.client.CoreV1().Pods("default")
	termDir := filepath.Join(n.dir, "term")

	t.Run("RunningReachableLogsExec", func(t *testing.T) {
		p := testPod("web", "-term-file=/data/term.log", "-term-delay=1s")
		p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](10)
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
			Path: termDir, Type: ptr.To(corev1.HostPathDirectoryOrCreate)}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("http")}}, PeriodSeconds: 1}
		start := time.Now()
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p = n.waitPod(t, "web", 60*time.Second, "Running and Ready", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && isReady(p) })
		t.Logf("web Running+Ready after %v, podIP %s, container %s", time.Since(start).Round(time.Millisecond), p.Status.PodIP, p.Status.ContainerStatuses[0].ContainerID)
		if !strings.HasPrefix(p.Status.PodIP, "10.244.77.") {
			t.Errorf("podIP %q not in the node's podCIDR %s", p.Status.PodIP, podCIDR)
		}
		if p.Status.QOSClass != corev1.PodQOSBestEffort || p.Status.HostIP == "" || p.Status.StartTime == nil {
			t.Errorf("status fields: qos=%q hostIP=%q startTime=%v", p.Status.QOSClass, p.Status.HostIP, p.Status.StartTime)
		}
		body, err := httpGet("http://" + p.Status.PodIP + ":8080/echo?msg=hello-skiff")
		if err != nil || body != "hello-skiff" {
			t.Fatalf("curl pod IP: %q, %v", body, err)
		}
		env, err := httpGet("http://" + p.Status.PodIP + ":8080/env")
		if err != nil || !strings.Contains(env, "MY_POD=web") {
			t.Errorf("env from fieldRef missing: %v\n%s", err, env)
		}
		logs, err := pods.GetLogs("web", &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil || !strings.Contains(string(logs), "testapp listening on :8080") {
			t.Errorf("pods/log: %v\n%s", err, logs)
		}
		out, stderr, err := n.execDirect(t, "web", false, "/testapp", "echo", "from", "kubelet")
		if err != nil || strings.TrimSpace(out) != "from kubelet" {
			t.Errorf("exec on the kubelet: out=%q stderr=%q err=%v", out, stderr, err)
		}
		if _, _, err := n.execDirect(t, "web", true, "/testapp", "echo", "x"); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
			t.Errorf("anonymous exec on the kubelet: want Unauthorized, got %v", err)
		}
		out, stderr, err = n.exec(t, "web", "/testapp", "echo", "from", "exec")
		if err != nil || strings.TrimSpace(out) != "from exec" {
			t.Errorf("exec: out=%q stderr=%q err=%v", out, stderr, err)
		}
		_, _, err = n.exec(t, "web", "/testapp", "exit", "3")
		if err == nil || !strings.Contains(err.Error(), "3") {
			t.Errorf("exec exit code: want an error carrying 3, got %v", err)
		}
	})

	t.Run("CrashLoopBackOff", func(t *testing.T) {
		p := testPod("crash", "-listen=", "-exit-after=0s", "-exit-code=2")
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p = n.waitPod(t, "crash", 60*time.Second, "CrashLoopBackOff", func(p *corev1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CrashLoopBackOff" && cs[0].RestartCount >= 1
		})
		cs := p.Status.ContainerStatuses[0]
		if cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 2 {
			t.Errorf("lastState: %+v", cs.LastTerminationState)
		}
		t.Logf("crash: %s (%s), restarts=%d, lastState exit=%d", cs.State.Waiting.Reason, cs.State.Waiting.Message, cs.RestartCount, cs.LastTerminationState.Terminated.ExitCode)
	})

	t.Run("OOMKilled", func(t *testing.T) {
		// The hog touches 128 MiB at start against a 32 MiB limit: the kernel's
		// OOM killer ends it (SIGKILL, 137) and the runtime says OOMKilled.
		p := testPod("oom", "-listen=", "-alloc-mb=128", "-sleep")
		p.Spec.Containers[0].Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse("32Mi")}}
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		oomKilled := func(s *corev1.ContainerStateTerminated) bool {
			return s != nil && s.Reason == "OOMKilled" && s.ExitCode == 137
		}
		p = n.waitPod(t, "oom", 90*time.Second, "OOMKilled and restarted", func(p *corev1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return len(cs) == 1 && cs[0].RestartCount >= 1 &&
				(oomKilled(cs[0].LastTerminationState.Terminated) || oomKilled(cs[0].State.Terminated))
		})
		cs := p.Status.ContainerStatuses[0]
		if p.Status.QOSClass != corev1.PodQOSBurstable && p.Status.QOSClass != corev1.PodQOSGuaranteed {
			t.Errorf("qosClass %q for a pod with a memory limit", p.Status.QOSClass)
		}
		t.Logf("oom: restarts=%d state=%+v lastState=%+v", cs.RestartCount, cs.State, cs.LastTerminationState.Terminated)
	})

	t.Run("LivenessRestart", func(t *testing.T) {
		p := testPod("live", "-fail-liveness-after=2s")
		p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
			PeriodSeconds: 1, FailureThreshold: 2}
		p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](2)
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p = n.waitPod(t, "live", 60*time.Second, "restarted by liveness", func(p *corev1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return len(cs) == 1 && cs[0].RestartCount >= 1
		})
		t.Logf("live: restarts=%d lastState=%+v", p.Status.ContainerStatuses[0].RestartCount, p.Status.ContainerStatuses[0].LastTerminationState.Terminated)
	})

	t.Run("UnreadyNotReady", func(t *testing.T) {
		p := testPod("unready", "-fail-readiness")
		p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/testapp", "exit", "1"}}}, PeriodSeconds: 1}
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p = n.waitPod(t, "unready", 60*time.Second, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
		time.Sleep(3 * time.Second)
		p, _ = pods.Get(ctx, "unready", metav1.GetOptions{})
		if isReady(p) {
			t.Errorf("pod with failing readiness probe is Ready")
		}
	})

	t.Run("StaticPod", func(t *testing.T) {
		manifests := filepath.Join(n.dir, "manifests")
		if err := os.MkdirAll(manifests, 0o755); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(manifests, "static.yaml")
		manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: static
  labels: {app: static}
spec:
  containers:
  - name: app
    image: %s
    imagePullPolicy: IfNotPresent
`, imagebuild.TestAppImage)
		if err := os.WriteFile(file, []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		mirror := "static-" + n.name
		p := n.waitPod(t, mirror, 60*time.Second, "mirror pod Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
		if p.Annotations["kubernetes.io/config.mirror"] == "" || p.Spec.NodeName != n.name {
			t.Errorf("mirror pod: annotations %v nodeName %q", p.Annotations, p.Spec.NodeName)
		}
		// Running means the container started, not that the app listens yet.
		var body string
		err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			var gerr error
			body, gerr = httpGet("http://" + p.Status.PodIP + ":8080/echo?msg=static")
			return gerr == nil && body == "static", nil
		})
		if err != nil {
			t.Errorf("static pod not serving: last answer %q", body)
		}
		if err := os.Remove(file); err != nil {
			t.Fatal(err)
		}
		err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 45*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := pods.Get(ctx, mirror, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			t.Fatalf("mirror pod still there after its manifest was removed: %v", err)
		}
		if _, err := httpGet("http://" + p.Status.PodIP + ":8080/echo?msg=static"); err == nil {
			t.Errorf("static pod still answers after its manifest was removed")
		}
	})

	t.Run("MetricsAndStatsSummary", func(t *testing.T) {
		metrics, err := n.kubeletGet(t, "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"kubelet_running_pods ", "kubelet_running_containers ",
			"kubelet_pod_start_duration_seconds_count ", "kubelet_pod_worker_duration_seconds_count{operation=\"sync\"} ",
			"kubelet_container_restarts_total "} {
			if v, ok := metricValue(metrics, want); !ok || v < 1 {
				t.Errorf("metric %q: got %v (present %v), want >= 1", want, v, ok)
			}
		}
		body, err := n.kubeletGet(t, "/stats/summary")
		if err != nil {
			t.Fatal(err)
		}
		var sum stats.Summary
		if err := json.Unmarshal([]byte(body), &sum); err != nil {
			t.Fatalf("summary: %v\n%s", err, body)
		}
		if sum.Node.NodeName != n.name || sum.Node.StartTime.IsZero() {
			t.Errorf("summary node: %+v", sum.Node)
		}
		var web *stats.PodStats
		for i := range sum.Pods {
			if sum.Pods[i].PodRef.Name == "web" {
				web = &sum.Pods[i]
			}
		}
		if web == nil || web.PodRef.UID == "" || len(web.Containers) != 1 || web.Containers[0].Name != "app" {
			t.Fatalf("summary has no pod web with container app: %s", body)
		}
		c := web.Containers[0]
		if c.Memory == nil || c.Memory.WorkingSetBytes == 0 || c.CPU == nil || c.CPU.UsageCoreNanoSeconds == 0 {
			t.Errorf("web/app usage from containerd missing: cpu=%+v memory=%+v", c.CPU, c.Memory)
		}
	})

	t.Run("DeleteGraceful", func(t *testing.T) {
		start := time.Now()
		if err := pods.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := pods.Get(ctx, "web", metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			t.Fatalf("pod not gone: %v", err)
		}
		took := time.Since(start)
		b, _ := os.ReadFile(filepath.Join(termDir, "term.log"))
		if !strings.Contains(string(b), "terminated") {
			t.Errorf("the app did not see SIGTERM (term.log: %q)", b)
		}
		if took > 12*time.Second {
			t.Errorf("deletion took %v, over the 10s grace", took)
		}
		t.Logf("web gone after %v; app saw: %s", took.Round(time.Millisecond), strings.TrimSpace(string(b)))
	})
}

// kubeletGet fetches path from the kubelet server with a cluster-CA client certificate.
func (n *node) kubeletGet(t *testing.T, path string) (string, error) {
	t.Helper()
	node, err := n.client.CoreV1().Nodes().Get(context.Background(), n.name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	pki, err := auth.EnsurePKI(filepath.Join(n.dataDir, "tls"), nil)
	if err != nil {
		return "", err
	}
	certPEM, keyPEM, err := pki.IssueClientCert(kubeletClientUser, nil, time.Hour)
	if err != nil {
		return "", err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return "", err
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true}}}
	resp, err := c.Get(fmt.Sprintf("https://127.0.0.1:%d%s", node.Status.DaemonEndpoints.KubeletEndpoint.Port, path))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	return string(b), err
}

// metricValue finds the sample line starting with prefix (name and labels, then a space).
func metricValue(text, prefix string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, prefix)), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// kubeletClientUser is the identity the tests call the kubelet API with: the API
// server's own kubelet client, which the bootstrap policy lets use every kubelet
// API (the kubelet authorizes each call with a SubjectAccessReview).
const kubeletClientUser = "kube-apiserver-kubelet-client"
