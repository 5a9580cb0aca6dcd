package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/test/images/imagebuild"
)

// TestKubeletFeatures covers pod features the kubelet implements beyond running a
// container: init containers, API-sourced volumes and env, lifecycle hooks,
// activeDeadlineSeconds and runAsUser. One node serves every subtest; the
// subtests run in parallel, as the configMap update alone waits for the
// kubelet's one-minute volume refresh.
func TestKubeletFeatures(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	c := n.client.CoreV1()
	mustCreate := func(err error) {
		t.Helper()
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	_, err := c.ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm-vol"},
		Data: map[string]string{"greeting": "v1"}}, metav1.CreateOptions{})
	mustCreate(err)
	_, err = c.ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm-env"},
		Data: map[string]string{"LOG_LEVEL": "debug", "color": "blue"}}, metav1.CreateOptions{})
	mustCreate(err)
	_, err = c.Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sec"},
		Data: map[string][]byte{"password": []byte("s3cret"), "token": []byte("tok")}}, metav1.CreateOptions{})
	mustCreate(err)
	_, err = c.ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "e2e-sa"}}, metav1.CreateOptions{})
	mustCreate(err)

	t.Run("group", func(t *testing.T) {
		t.Run("InitContainersInOrder", func(t *testing.T) { t.Parallel(); testInitContainers(t, n) })
		t.Run("ConfigMapVolumeUpdate", func(t *testing.T) { t.Parallel(); testConfigMapUpdate(t, n) })
		t.Run("SecretVolumeAndEnvFrom", func(t *testing.T) { t.Parallel(); testSecretAndEnv(t, n) })
		t.Run("DownwardAPIAndToken", func(t *testing.T) { t.Parallel(); testDownwardAndToken(t, n) })
		t.Run("LifecycleHooks", func(t *testing.T) { t.Parallel(); testHooks(t, n) })
		t.Run("ActiveDeadline", func(t *testing.T) { t.Parallel(); testActiveDeadline(t, n) })
		t.Run("RunAsUser", func(t *testing.T) { t.Parallel(); testRunAsUser(t, n) })
	})
}

// runPod creates p and waits until it is Running and Ready.
func (n *node) runPod(t *testing.T, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	if _, err := n.client.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p = n.waitPod(t, p.Name, 60*time.Second, "Running and Ready", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && isReady(p)
	})
	t.Logf("pod %s Running+Ready after %v at %s", p.Name, time.Since(start).Round(time.Millisecond), p.Status.PodIP)
	return p
}

// podFile reads path inside the pod's app container. It execs `testapp cat`
// rather than using the pod IP, so the assertions hold whatever else shares the
// host's pod bridge; a missing file is an error.
func (n *node) podFile(t *testing.T, p *corev1.Pod, path string) (string, error) {
	return n.execIn(t, p.Name, "app", "/testapp", "cat", path)
}

// execIn runs cmd in one container of pod through the API's pods/exec; a non-empty
// stderr or a non-zero exit is an error.
func (n *node) execIn(t *testing.T, pod, container string, cmd ...string) (string, error) {
	t.Helper()
	req := n.client.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(n.config, "POST", req.URL())
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	if err == nil && stderr.Len() > 0 {
		err = fmt.Errorf("stderr: %s", strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), err
}

func mount(name, path string) corev1.VolumeMount {
	return corev1.VolumeMount{Name: name, MountPath: path}
}

func testInitContainers(t *testing.T, n *node) {
	p := testPod("init")
	p.Spec.Volumes = []corev1.Volume{{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	initC := func(name, word string) corev1.Container {
		return corev1.Container{Name: name, Image: imagebuild.TestAppImage, ImagePullPolicy: corev1.PullIfNotPresent,
			Args: []string{"append", "/work/order", word}, VolumeMounts: []corev1.VolumeMount{mount("work", "/work")}}
	}
	p.Spec.InitContainers = []corev1.Container{initC("init-a", "first"), initC("init-b", "second")}
	p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{mount("work", "/work")}
	p = n.runPod(t, p)
	body, err := n.podFile(t, p, "/work/order")
	if err != nil || body != "first\nsecond\n" {
		t.Errorf("the app read %q (%v), want both init containers' lines in order", body, err)
	}
	var initialized bool
	for _, c := range p.Status.Conditions {
		initialized = initialized || (c.Type == corev1.PodInitialized && c.Status == corev1.ConditionTrue)
	}
	if !initialized {
		t.Errorf("no Initialized=True condition: %+v", p.Status.Conditions)
	}
	ics := p.Status.InitContainerStatuses
	if len(ics) != 2 || ics[0].Name != "init-a" || ics[1].Name != "init-b" {
		t.Fatalf("initContainerStatuses: %+v", ics)
	}
	for _, cs := range ics {
		if term := cs.State.Terminated; term == nil || term.ExitCode != 0 || term.Reason != "Completed" {
			t.Errorf("init container %s: state %+v, want terminated Completed", cs.Name, cs.State)
		}
	}
	if a, b := ics[0].State.Terminated, ics[1].State.Terminated; a != nil && b != nil && b.StartedAt.Before(&a.FinishedAt) {
		t.Errorf("init-b started (%v) before init-a finished (%v)", b.StartedAt, a.FinishedAt)
	}
}

func testConfigMapUpdate(t *testing.T, n *node) {
	ctx := context.Background()
	p := testPod("cmvol")
	p.Spec.Volumes = []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "cm-vol"}}}}}
	p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{mount("config", "/config")}
	p = n.runPod(t, p)
	if body, err := n.podFile(t, p, "/config/greeting"); err != nil || body != "v1" {
		t.Fatalf("/config/greeting: %q, %v", body, err)
	}
	cms := n.client.CoreV1().ConfigMaps("default")
	cm, err := cms.Get(ctx, "cm-vol", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data = map[string]string{"greeting": "v2", "added": "new"}
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// The kubelet re-reads API-sourced volumes every minute (as upstream's sync does).
	var greeting, added string
	err = wait.PollUntilContextTimeout(ctx, time.Second, 80*time.Second, true, func(ctx context.Context) (bool, error) {
		greeting, _ = n.podFile(t, p, "/config/greeting")
		added, _ = n.podFile(t, p, "/config/added")
		return greeting == "v2" && added == "new", nil
	})
	if err != nil {
		t.Fatalf("configMap volume not updated in place: greeting=%q added=%q after %v", greeting, added, time.Since(start).Round(time.Second))
	}
	t.Logf("configMap change visible in the running pod after %v", time.Since(start).Round(time.Second))
}

func testSecretAndEnv(t *testing.T, n *node) {
	p := testPod("envs")
	p.Spec.Volumes = []corev1.Volume{{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: "sec", Items: []corev1.KeyToPath{{Key: "password", Path: "pw"}}}}}}
	app := &p.Spec.Containers[0]
	app.VolumeMounts = []corev1.VolumeMount{mount("secret", "/secret")}
	app.EnvFrom = []corev1.EnvFromSource{
		{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-env"}}},
		{Prefix: "SEC_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}}},
	}
	app.Env = append(app.Env,
		corev1.EnvVar{Name: "COLOR", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cm-env"}, Key: "color"}}},
		corev1.EnvVar{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "password"}}},
		corev1.EnvVar{Name: "OPTIONAL_MISSING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "no-such-cm"}, Key: "x", Optional: ptr.To(true)}}},
		corev1.EnvVar{Name: "COMPOSED", Value: "$(COLOR)-$(CM_LOG_LEVEL)"},
	)
	p = n.runPod(t, p)
	if body, err := n.podFile(t, p, "/secret/pw"); err != nil || body != "s3cret" {
		t.Errorf("/secret/pw: %q, %v", body, err)
	}
	if body, err := n.podFile(t, p, "/secret/token"); err == nil {
		t.Errorf("/secret/token exists (%q) though items lists only password", body)
	}
	env, err := n.execIn(t, "envs", "app", "/testapp", "env")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(env, "\n") {
		lines[l] = true
	}
	for _, want := range []string{"COLOR=blue", "PASSWORD=s3cret", "CM_LOG_LEVEL=debug", "CM_color=blue",
		"SEC_password=s3cret", "SEC_token=tok", "COMPOSED=blue-debug", "MY_POD=envs"} {
		if !lines[want] {
			t.Errorf("env lacks %s:\n%s", want, env)
		}
	}
	if strings.Contains(env, "OPTIONAL_MISSING=") {
		t.Errorf("optional key of a missing configMap was set:\n%s", env)
	}
}

func testDownwardAndToken(t *testing.T, n *node) {
	p := testPod("downward")
	p.Labels["tier"] = "backend"
	p.Annotations = map[string]string{"note": "hi"}
	p.Spec.ServiceAccountName = "e2e-sa"
	field := func(path, fieldPath string) corev1.DownwardAPIVolumeFile {
		return corev1.DownwardAPIVolumeFile{Path: path, FieldRef: &corev1.ObjectFieldSelector{FieldPath: fieldPath}}
	}
	p.Spec.Volumes = []corev1.Volume{
		{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			field("labels", "metadata.labels"), field("annotations", "metadata.annotations"), field("name", "metadata.name")}}}},
		{Name: "sa", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{field("namespace", "metadata.namespace")}}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cm-env"},
				Items: []corev1.KeyToPath{{Key: "color", Path: "color"}}}},
		}}}},
	}
	p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{mount("podinfo", "/podinfo"), mount("sa", "/var/run/secrets/tokens")}
	p = n.runPod(t, p)
	for path, want := range map[string]string{
		"/podinfo/labels":                   "app=\"downward\"\ntier=\"backend\"",
		"/podinfo/annotations":              "note=\"hi\"",
		"/podinfo/name":                     "downward",
		"/var/run/secrets/tokens/namespace": "default",
		"/var/run/secrets/tokens/color":     "blue",
	} {
		if got, err := n.podFile(t, p, path); err != nil || got != want {
			t.Errorf("%s: %q (%v), want %q", path, got, err, want)
		}
	}
	tok, err := n.podFile(t, p, "/var/run/secrets/tokens/token")
	if err != nil || len(strings.Split(tok, ".")) != 3 {
		t.Fatalf("projected service account token: %q, %v (want a JWT)", tok, err)
	}
	// The token must authenticate as the pod's service account: anything but 401.
	cfg := &rest.Config{Host: n.config.Host, BearerToken: tok, TLSClientConfig: rest.TLSClientConfig{CAData: n.config.CAData, Insecure: len(n.config.CAData) == 0}}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(n.config.Host + "/api/v1/namespaces/default/pods")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		t.Errorf("the projected token does not authenticate: %s", resp.Status)
	}
	t.Logf("projected token (%d bytes) authenticates: GET pods → %s", len(tok), resp.Status)
	if _, err := n.podFile(t, p, "/var/run/secrets/kubernetes.io/serviceaccount/token"); err == nil {
		t.Logf("a default service account token is mounted")
	} else {
		t.Logf("no automounted service account token (no kube-api-access volume is injected)")
	}
}

func testHooks(t *testing.T, n *node) {
	ctx := context.Background()
	dir := filepath.Join(n.dir, "hooks")
	events := filepath.Join(dir, "events")
	hook := func(word string) *corev1.LifecycleHandler {
		return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/testapp", "append", "/hooks/events", word}}}
	}
	p := testPod("hooks", "-term-file=/hooks/events")
	p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](10)
	p.Spec.Volumes = []corev1.Volume{{Name: "hooks", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
		Path: dir, Type: ptr.To(corev1.HostPathDirectoryOrCreate)}}}}
	app := &p.Spec.Containers[0]
	app.VolumeMounts = []corev1.VolumeMount{mount("hooks", "/hooks")}
	app.Lifecycle = &corev1.Lifecycle{PostStart: hook("poststart"), PreStop: hook("prestop")}
	p = n.runPod(t, p)
	// postStart completes before the container counts as started.
	if b, _ := os.ReadFile(events); string(b) != "poststart\n" {
		t.Errorf("after start, events = %q, want the postStart line", b)
	}
	if err := n.client.CoreV1().Pods("default").Delete(ctx, "hooks", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := n.client.CoreV1().Pods("default").Get(ctx, "hooks", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("pod hooks not gone: %v", err)
	}
	b, _ := os.ReadFile(events)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || lines[0] != "poststart" || lines[1] != "prestop" || !strings.Contains(lines[2], "terminated") {
		t.Errorf("events %q: want poststart, prestop, then the app's SIGTERM line", lines)
	}
}

func testActiveDeadline(t *testing.T, n *node) {
	p := testPod("deadline")
	p.Spec.ActiveDeadlineSeconds = ptr.To[int64](5)
	p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](2)
	if _, err := n.client.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Not waiting for Running first: on a busy node the deadline may come before.
	p = n.waitPod(t, "deadline", 45*time.Second, "Failed", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodFailed
	})
	if p.Status.Reason != "DeadlineExceeded" {
		t.Errorf("reason %q message %q, want DeadlineExceeded", p.Status.Reason, p.Status.Message)
	}
	if isReady(p) {
		t.Errorf("a Failed pod is Ready")
	}
	if p.Status.StartTime == nil || time.Since(p.Status.StartTime.Time) < 5*time.Second {
		t.Errorf("failed before the 5s deadline (startTime %v)", p.Status.StartTime)
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Terminated == nil {
			t.Errorf("container %s not reported terminated in a Failed pod: %+v", cs.Name, cs.State)
		}
	}
}

func testRunAsUser(t *testing.T, n *node) {
	p := testPod("uid")
	p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1234), RunAsGroup: ptr.To[int64](5678),
		SupplementalGroups: []int64{4242}}
	other := *p.Spec.Containers[0].DeepCopy()
	other.Name, other.Args, other.Ports = "other", []string{"-listen=:8081"}, nil
	other.SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To[int64](4321)}
	p.Spec.Containers = append(p.Spec.Containers, other)
	p = n.runPod(t, p)
	body, err := n.execIn(t, "uid", "app", "/testapp", "id")
	if err != nil || !strings.HasPrefix(body, "uid=1234 gid=5678 ") || !strings.Contains(body, "4242") {
		t.Errorf("app (pod securityContext): %q, %v; want uid=1234 gid=5678 with group 4242", body, err)
	}
	body, err = n.execIn(t, "uid", "other", "/testapp", "id")
	if err != nil || !strings.HasPrefix(body, "uid=4321 gid=5678 ") {
		t.Errorf("other (container runAsUser): %q, %v; want uid=4321 gid=5678", body, err)
	}
}
