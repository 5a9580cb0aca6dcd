package apiserver_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"

	"github.com/skiff-sh/skiff/internal/testserver"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func pod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}}
}

// TestTypedClientCRUD drives the typed clientset, which sends protobuf bodies.
func TestTypedClientCRUD(t *testing.T) {
	s := testserver.Start(t)
	ctx, c := ctxT(t), s.Client
	created, err := c.CoreV1().Pods("default").Create(ctx, pod("p1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.UID == "" || created.ResourceVersion == "" || created.CreationTimestamp.IsZero() {
		t.Fatalf("server metadata not filled: %+v", created.ObjectMeta)
	}
	if created.Spec.RestartPolicy != corev1.RestartPolicyAlways || created.Spec.SchedulerName != "default-scheduler" ||
		created.Status.Phase != corev1.PodPending || created.Spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent {
		t.Fatalf("defaults not applied: %+v / %+v", created.Spec, created.Status)
	}
	if _, err := c.CoreV1().Pods("default").Create(ctx, pod("p1"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: want AlreadyExists, got %v", err)
	}
	got, err := c.CoreV1().Pods("default").Get(ctx, "p1", metav1.GetOptions{})
	if err != nil || got.UID != created.UID {
		t.Fatalf("get: %v %v", got, err)
	}
	got.Labels["tier"] = "front"
	upd, err := c.CoreV1().Pods("default").Update(ctx, got, metav1.UpdateOptions{})
	if err != nil || upd.Labels["tier"] != "front" || upd.ResourceVersion == got.ResourceVersion {
		t.Fatalf("update: %v %v", upd, err)
	}
	// A stale resourceVersion loses.
	if _, err := c.CoreV1().Pods("default").Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: want Conflict, got %v", err)
	}
	if err := c.CoreV1().Pods("default").Delete(ctx, "p1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Pods("default").Get(ctx, "p1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after delete: want NotFound, got %v", err)
	}
	if _, err := c.CoreV1().ConfigMaps("nope").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("create in missing namespace: want NotFound, got %v", err)
	}
}

func TestDefaultNamespacesAndKubernetesService(t *testing.T) {
	s := testserver.Start(t)
	ctx := ctxT(t)
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		n, err := s.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil || n.Status.Phase != corev1.NamespaceActive {
			t.Fatalf("namespace %s: %v %v", ns, n, err)
		}
	}
	svc, err := s.Client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP != "10.43.0.1" {
		t.Fatalf("kubernetes service: %v %v", svc, err)
	}
}

// TestConcurrentUpdatesOneWinner: of N updates from the same resourceVersion exactly one succeeds.
func TestConcurrentUpdatesOneWinner(t *testing.T) {
	s := testserver.Start(t)
	ctx, c := ctxT(t), s.Client
	cm, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "race"}, Data: map[string]string{"n": "0"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			mine := cm.DeepCopy()
			mine.Data["n"] = fmt.Sprint(i + 1)
			_, err := c.CoreV1().ConfigMaps("default").Update(ctx, mine, metav1.UpdateOptions{})
			switch {
			case err == nil:
				wins.Add(1)
			case apierrors.IsConflict(err):
				conflicts.Add(1)
			default:
				t.Errorf("update %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != 19 {
		t.Fatalf("wins=%d conflicts=%d, want 1 and 19", wins.Load(), conflicts.Load())
	}
	// With retry-on-conflict every increment lands.
	var wg2 sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			err := retry.RetryOnConflict(wait.Backoff{Steps: 100, Duration: 5 * time.Millisecond, Factor: 1.1, Jitter: 1}, func() error {
				cur, err := c.CoreV1().ConfigMaps("default").Get(ctx, "race", metav1.GetOptions{})
				if err != nil {
					return err
				}
				cur.Data["hits"] += "x"
				_, err = c.CoreV1().ConfigMaps("default").Update(ctx, cur, metav1.UpdateOptions{})
				return err
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg2.Wait()
	final, _ := c.CoreV1().ConfigMaps("default").Get(ctx, "race", metav1.GetOptions{})
	if final.Data["hits"] != "xxxxxxxxxx" {
		t.Fatalf("lost increments: %q", final.Data["hits"])
	}
}

// TestWatchResumeNoGapsNoDuplicates: a watch from a list's resourceVersion sees exactly
// the later changes, in order, and a second watch resumed mid-way sees the rest.
func TestWatchResumeNoGapsNoDuplicates(t *testing.T) {
	s := testserver.Start(t)
	ctx, c := ctxT(t), s.Client
	list, err := c.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%02d", i)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	var resumeRV string
	for len(seen) < 50 {
		select {
		case ev := <-w.ResultChan():
			cm := ev.Object.(*corev1.ConfigMap)
			if ev.Type != watch.Added {
				t.Fatalf("unexpected %s %s", ev.Type, cm.Name)
			}
			seen = append(seen, cm.Name)
			if len(seen) == 20 {
				resumeRV = cm.ResourceVersion
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d events", len(seen))
		}
	}
	w.Stop()
	for i, n := range seen {
		if n != fmt.Sprintf("cm-%02d", i) {
			t.Fatalf("event %d is %s", i, n)
		}
	}
	w2, err := c.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: resumeRV})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	for i := 20; i < 50; i++ {
		select {
		case ev := <-w2.ResultChan():
			if name := ev.Object.(*corev1.ConfigMap).Name; name != fmt.Sprintf("cm-%02d", i) {
				t.Fatalf("resumed watch: event for %s, want cm-%02d", name, i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("resumed watch stalled at %d", i)
		}
	}
	select {
	case ev := <-w2.ResultChan():
		t.Fatalf("duplicate or extra event %v", ev)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestWatchTooOldIsGone: a resourceVersion older than the watch cache holds is 410 Expired.
func TestWatchTooOldIsGone(t *testing.T) {
	s := testserver.Start(t)
	ctx, c := ctxT(t), s.Client
	first, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "old"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1100; i++ {
		first.Data = map[string]string{"i": fmt.Sprint(i)}
		first.ResourceVersion = ""
		if first, err = c.CoreV1().ConfigMaps("default").Update(ctx, first, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: "2"})
	if err == nil {
		ev := <-w.ResultChan()
		w.Stop()
		if st, ok := ev.Object.(*metav1.Status); ok && ev.Type == watch.Error && st.Code == http.StatusGone {
			return
		}
		t.Fatalf("watch from a too old version: got event %v", ev)
	}
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("want 410 Expired, got %v", err)
	}
}

// TestPaginationCompleteAndConsistent: 5,000 objects over pages of 500, nothing lost or
// repeated, one resourceVersion across pages even while writes continue.
func TestPaginationCompleteAndConsistent(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 5,000 objects; skipped in -short mode only")
	}
	s := testserver.Start(t)
	ctx, c := ctxT(t), s.Client
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("page-%05d", i)}}, metav1.CreateOptions{}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for i := 0; i < 5000; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	seen := map[string]bool{}
	opts := metav1.ListOptions{Limit: 500}
	var listRV string
	for page := 0; ; page++ {
		l, err := c.CoreV1().ConfigMaps("default").List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if page == 0 {
			listRV = l.ResourceVersion
			// A write between pages must not leak into the snapshot.
			if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "page-late"}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		} else if l.ResourceVersion != listRV {
			t.Fatalf("page %d has resourceVersion %s, first page %s", page, l.ResourceVersion, listRV)
		}
		for _, cm := range l.Items {
			if seen[cm.Name] {
				t.Fatalf("%s listed twice", cm.Name)
			}
			seen[cm.Name] = true
		}
		if l.Continue == "" {
			break
		}
		opts.Continue = l.Continue
	}
	if seen["page-late"] {
		t.Fatal("object created after the first page appeared in the snapshot")
	}
	for i := 0; i < 5000; i++ {
		if !seen[fmt.Sprintf("page-%05d", i)] {
			t.Fatalf("page-%05d missing", i)
		}
	}
}

// TestInformerSyncsWithWatchList: client-go informers (watch-list streaming by default)
// sync and then follow changes.
func TestInformerSyncsWithWatchList(t *testing.T) {
	s := testserver.Start(t)
	ctx, c := ctxT(t), s.Client
	for i := 0; i < 5; i++ {
		if _, err := c.AppsV1().Deployments("default").Create(ctx, deployment(fmt.Sprintf("d%d", i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	factory := informers.NewSharedInformerFactory(c, 0)
	inf := factory.Apps().V1().Deployments()
	added := make(chan string, 100)
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) { added <- obj.(*appsv1.Deployment).Name }})
	factory.Start(ctx.Done())
	syncCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), inf.Informer().HasSynced) {
		t.Fatal("informer never synced")
	}
	if n := len(inf.Informer().GetStore().List()); n != 5 {
		t.Fatalf("informer has %d deployments, want 5", n)
	}
	if _, err := c.AppsV1().Deployments("default").Create(ctx, deployment("late"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case n := <-added:
			if n == "late" {
				return
			}
		case <-deadline:
			t.Fatal("informer did not see the new deployment")
		}
	}
}

func deployment(name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}}}
}

func TestDynamicClientAndGeneration(t *testing.T) {
	s := testserver.Start(t)
	ctx := ctxT(t)
	dc, err := dynamic.NewForConfig(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "dyn"},
		"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"a": "b"}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"a": "b"}},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx"}}}}},
	}}
	out, err := dc.Resource(gvr).Namespace("default").Create(ctx, u, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out.GetGeneration() != 1 {
		t.Fatalf("generation %d, want 1", out.GetGeneration())
	}
	if r, _, _ := unstructured.NestedInt64(out.Object, "spec", "replicas"); r != 1 {
		t.Fatalf("replicas default %d, want 1", r)
	}
	// A label change keeps generation; a spec change bumps it.
	out.SetLabels(map[string]string{"x": "y"})
	out, err = dc.Resource(gvr).Namespace("default").Update(ctx, out, metav1.UpdateOptions{})
	if err != nil || out.GetGeneration() != 1 {
		t.Fatalf("label update: generation %d err %v", out.GetGeneration(), err)
	}
	_ = unstructured.SetNestedField(out.Object, int64(3), "spec", "replicas")
	out, err = dc.Resource(gvr).Namespace("default").Update(ctx, out, metav1.UpdateOptions{})
	if err != nil || out.GetGeneration() != 2 {
		t.Fatalf("spec update: generation %d err %v", out.GetGeneration(), err)
	}
}

// rawRequest sends a request with the admin credentials and returns code and body.
func rawRequest(t *testing.T, cfg *rest.Config, method, path, contentType string, body []byte) (int, string) {
	t.Helper()
	tr, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, cfg.Host+path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestBadInputIsRejectedAndChangesNothing covers each kind of bad request.
func TestBadInputIsRejectedAndChangesNothing(t *testing.T) {
	s := testserver.Start(t)
	cases := []struct {
		name, path, contentType, body string
		code                          int
		reason                        string
	}{
		{"malformed json", "/api/v1/namespaces/default/configmaps", "application/json", `{"metadata": {"name": "bad1"`, 400, "BadRequest"},
		{"malformed yaml", "/api/v1/namespaces/default/configmaps", "application/yaml", "metadata:\n  name: [bad2\n", 400, "BadRequest"},
		{"wrong apiVersion", "/api/v1/namespaces/default/configmaps", "application/json", `{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"bad3"}}`, 400, "BadRequest"},
		{"wrong kind", "/api/v1/namespaces/default/configmaps", "application/json", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"bad4"}}`, 400, "BadRequest"},
		{"invalid name", "/api/v1/namespaces/default/configmaps", "application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}`, 422, "Invalid"},
		{"unknown field strict", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", "application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bad5"},"bogus":1}`, 400, "BadRequest"},
		{"wrong content type", "/api/v1/namespaces/default/configmaps", "text/plain", `hello`, 415, "UnsupportedMediaType"},
		{"oversized body", "/api/v1/namespaces/default/configmaps", "application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bad6"},"data":{"x":"` + strings.Repeat("a", 4<<20) + `"}}`, 413, "RequestEntityTooLarge"},
		{"pod without image", "/api/v1/namespaces/default/pods", "application/json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bad7"},"spec":{"containers":[{"name":"c"}]}}`, 422, "Invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := rawRequest(t, s.Config, "POST", tc.path, tc.contentType, []byte(tc.body))
			if code != tc.code || !strings.Contains(body, `"kind":"Status"`) || !strings.Contains(body, `"reason":"`+tc.reason+`"`) {
				t.Fatalf("got %d %s; want %d reason %s", code, truncate(body), tc.code, tc.reason)
			}
		})
	}
	cms, err := s.Client.CoreV1().ConfigMaps("default").List(ctxT(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		if strings.HasPrefix(cm.Name, "bad") {
			t.Fatalf("bad request wrote %s", cm.Name)
		}
	}
	pods, _ := s.Client.CoreV1().Pods("default").List(ctxT(t), metav1.ListOptions{})
	if len(pods.Items) != 0 {
		t.Fatalf("bad pod written: %v", pods.Items)
	}
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// TestAnonymousRequests: as upstream (anonymous auth on, RBAC), a request with no
// credentials is system:anonymous — refused with 403 outside the public
// health and version paths — while a credential that fails is a 401.
func TestAnonymousRequests(t *testing.T) {
	s := testserver.Start(t)
	anon := rest.AnonymousClientConfig(s.Config)
	code, body := rawRequest(t, anon, "GET", "/api/v1/namespaces", "", nil)
	want := `namespaces is forbidden: User \"system:anonymous\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope`
	if code != 403 || !strings.Contains(body, `"reason":"Forbidden"`) || !strings.Contains(body, want) {
		t.Fatalf("anonymous list: %d %s", code, body)
	}
	if code, body := rawRequest(t, anon, "GET", "/api", "", nil); code != 403 || !strings.Contains(body, `forbidden: User \"system:anonymous\" cannot get path \"/api\"`) {
		t.Fatalf("anonymous /api: %d %s", code, body)
	}
	for _, p := range []string{"/healthz", "/livez", "/readyz", "/version"} {
		if code, body := rawRequest(t, anon, "GET", p, "", nil); code != 200 {
			t.Fatalf("%s: %d %s", p, code, body)
		}
	}
	bad := rest.AnonymousClientConfig(s.Config)
	bad.BearerToken = "not-a-token"
	for _, p := range []string{"/api/v1/namespaces", "/healthz"} {
		if code, body := rawRequest(t, bad, "GET", p, "", nil); code != 401 || !strings.Contains(body, `"reason":"Unauthorized"`) {
			t.Fatalf("invalid token %s: %d %s", p, code, body)
		}
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	s := testserver.Start(t)
	ctx, c := ctxT(t), s.Client
	out, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dry"}}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil || out.Name != "dry" {
		t.Fatalf("dry-run create: %v %v", out, err)
	}
	if _, err := c.CoreV1().ConfigMaps("default").Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("dry-run create persisted: %v", err)
	}
}

func TestServiceAllocation(t *testing.T) {
	s := testserver.Start(t)
	ctx, c := ctxT(t), s.Client
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "web"},
		Ports: []corev1.ServicePort{{Port: 80}}}}
	out, err := c.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.Spec.ClusterIP, "10.43.") || out.Spec.Ports[0].NodePort < 30000 || out.Spec.Ports[0].NodePort > 32767 {
		t.Fatalf("allocation: clusterIP %s nodePort %d", out.Spec.ClusterIP, out.Spec.Ports[0].NodePort)
	}
	taken := svc.DeepCopy()
	taken.Name = "web2"
	taken.Spec.ClusterIP = out.Spec.ClusterIP
	taken.Spec.Ports[0].NodePort = 0
	if _, err := c.CoreV1().Services("default").Create(ctx, taken, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("duplicate clusterIP: want Invalid, got %v", err)
	}
	if err := c.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Released on delete: the same IP and port can be taken again.
	again := svc.DeepCopy()
	again.Spec.ClusterIP = out.Spec.ClusterIP
	again.Spec.Ports[0].NodePort = out.Spec.Ports[0].NodePort
	if _, err := c.CoreV1().Services("default").Create(ctx, again, metav1.CreateOptions{}); err != nil {
		t.Fatalf("re-create with released IP/port: %v", err)
	}
}

// TestRequestTimeout: a non-streaming request past its deadline is a 504 Timeout Status.
func TestRequestTimeout(t *testing.T) {
	s := testserver.Start(t)
	code, body := rawRequest(t, s.Config, "GET", "/api/v1/namespaces/default/configmaps?timeout=1ns", "", nil)
	if code != http.StatusGatewayTimeout || !strings.Contains(body, `"reason":"Timeout"`) {
		t.Fatalf("got %d %s, want 504 Timeout", code, truncate(body))
	}
	// A watch is long-running: the timeout parameter does not cut it.
	if code, _ := rawRequest(t, s.Config, "GET", "/api/v1/namespaces/default/configmaps?timeout=1ns&watch=true&timeoutSeconds=1", "", nil); code != 200 {
		t.Fatalf("watch with timeout=1ns: %d", code)
	}
}

// TestServiceAccountToken: serviceaccounts/token issues a token that authenticates as
// the account, and stops working once the account is deleted.
func TestServiceAccountToken(t *testing.T) {
	s := testserver.Start(t)
	ctx, c := ctxT(t), s.Client
	if _, err := c.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "bot"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := c.CoreV1().ServiceAccounts("default").CreateToken(ctx, "bot", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil || tr.Status.Token == "" {
		t.Fatalf("token request: %v %v", tr, err)
	}
	cfg := rest.AnonymousClientConfig(s.Config)
	cfg.BearerToken = tr.Status.Token
	bot := kubernetes.NewForConfigOrDie(cfg)
	who, err := bot.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil || who.Status.UserInfo.Username != "system:serviceaccount:default:bot" {
		t.Fatalf("whoami with the token: %v %v", who, err)
	}
	if err := c.CoreV1().ServiceAccounts("default").Delete(ctx, "bot", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := bot.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Fatalf("token of a deleted account: want 401, got %v", err)
	}
}
