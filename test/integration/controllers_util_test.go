package integration

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/controllermanager"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// fastClient is a client without client-side throttling, as the in-process
// components of `skiff server` get.
func fastClient(t *testing.T, s *testserver.Server) kubernetes.Interface {
	t.Helper()
	cfg := *s.Config
	cfg.QPS, cfg.Burst = 5000, 10000
	return kubernetes.NewForConfigOrDie(&cfg)
}

// startControllerManager runs the controller manager in process until the test
// ends, as `skiff server` does: as system:kube-controller-manager, each
// controller as its own kube-system service account, so RBAC applies.
func startControllerManager(t *testing.T, s *testserver.Server, opts controllermanager.Options) {
	t.Helper()
	fast := func(c *rest.Config) *rest.Config {
		c = rest.CopyConfig(c)
		c.QPS, c.Burst = 5000, 10000
		return c
	}
	cfg := fast(s.ControllerManager)
	opts.Metadata = metadata.NewForConfigOrDie(cfg)
	client := kubernetes.NewForConfigOrDie(cfg)
	opts.ClientFor = func(sa string) (kubernetes.Interface, metadata.Interface, error) {
		c := s.ControllerConfig(sa)
		if c == nil {
			return nil, nil, nil
		}
		c = fast(c)
		return kubernetes.NewForConfigOrDie(c), metadata.NewForConfigOrDie(c), nil
	}
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), klog.Background().V(1)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := controllermanager.Run(ctx, client, opts); err != nil {
			t.Errorf("controller manager: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// fakeKubelet plays the kubelet of a set of Node objects: it renews their
// Leases, marks the pods bound to them Running and Ready, and finishes the
// graceful deletion of their pods. A node can be killed (it goes silent:
// no Lease renewals, no pod updates) and revived.
type fakeKubelet struct {
	t      *testing.T
	client kubernetes.Interface
	mu     sync.Mutex
	alive  map[string]bool
	ips    atomic.Int64
	lister cache.Indexer
	queue  workqueue.TypedRateLimitingInterface[string]
}

func startFakeKubelet(t *testing.T, s *testserver.Server, nodes ...string) *fakeKubelet {
	t.Helper()
	k := &fakeKubelet{t: t, client: fastClient(t, s), alive: map[string]bool{},
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())}
	for _, n := range nodes {
		k.alive[n] = true
	}
	factory := informers.NewSharedInformerFactoryWithOptions(k.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName!=" }))
	inf := factory.Core().V1().Pods().Informer()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			k.queue.Add(key)
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }})
	k.lister = inf.GetIndexer()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	for range 8 {
		wg.Go(func() {
			for k.processNext(ctx) {
			}
		})
	}
	wg.Go(func() { k.heartbeats(ctx) })
	t.Cleanup(func() { cancel(); k.queue.ShutDown(); wg.Wait(); factory.Shutdown() })
	return k
}

// setAlive kills or revives a node. A revived node reports Ready again at once.
func (k *fakeKubelet) setAlive(node string, alive bool) {
	k.mu.Lock()
	k.alive[node] = alive
	k.mu.Unlock()
	if alive {
		k.renew(context.Background(), node)
		k.reportReady(context.Background(), node)
		for _, o := range k.lister.List() {
			if p := o.(*corev1.Pod); p.Spec.NodeName == node {
				k.queue.Add(p.Namespace + "/" + p.Name)
			}
		}
	}
}

func (k *fakeKubelet) isAlive(node string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.alive[node]
}

func (k *fakeKubelet) liveNodes() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for n, a := range k.alive {
		if a {
			out = append(out, n)
		}
	}
	return out
}

func (k *fakeKubelet) heartbeats(ctx context.Context) {
	for {
		for _, n := range k.liveNodes() {
			k.renew(ctx, n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// renew creates or renews the node's Lease in kube-node-lease, as a kubelet does.
func (k *fakeKubelet) renew(ctx context.Context, node string) {
	leases := k.client.CoordinationV1().Leases("kube-node-lease")
	now := metav1.NewMicroTime(time.Now())
	l, err := leases.Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		holder, dur := node, int32(40)
		_, _ = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: node},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &dur, RenewTime: &now}}, metav1.CreateOptions{})
		return
	}
	if err != nil {
		return
	}
	l.Spec.RenewTime = &now
	_, _ = leases.Update(ctx, l, metav1.UpdateOptions{})
}

// reportReady posts Ready=True with a fresh heartbeat, as a kubelet coming back does.
func (k *fakeKubelet) reportReady(ctx context.Context, node string) {
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		n, err := k.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		now := metav1.Now()
		var conds []corev1.NodeCondition
		for _, c := range n.Status.Conditions {
			if c.Type != corev1.NodeReady {
				c.Status, c.LastHeartbeatTime, c.LastTransitionTime = corev1.ConditionFalse, now, now
				conds = append(conds, c)
			}
		}
		n.Status.Conditions = append(conds, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
			Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now})
		_, err = k.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err == nil, nil
	})
}

func (k *fakeKubelet) processNext(ctx context.Context) bool {
	key, quit := k.queue.Get()
	if quit {
		return false
	}
	defer k.queue.Done(key)
	if err := k.syncPod(ctx, key); err != nil && ctx.Err() == nil {
		k.queue.AddRateLimited(key)
		return true
	}
	k.queue.Forget(key)
	return true
}

func (k *fakeKubelet) syncPod(ctx context.Context, key string) error {
	obj, ok, _ := k.lister.GetByKey(key)
	if !ok {
		return nil
	}
	pod := obj.(*corev1.Pod)
	if !k.isAlive(pod.Spec.NodeName) {
		return nil // a dead node's pods freeze as they are
	}
	pods := k.client.CoreV1().Pods(pod.Namespace)
	if pod.DeletionTimestamp != nil {
		zero := int64(0)
		err := pods.Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: metav1.NewUIDPreconditions(string(pod.UID))})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	}
	if pod.Status.Phase == corev1.PodRunning && podReady(pod) {
		return nil
	}
	cp := pod.DeepCopy()
	markRunning(cp, fmt.Sprintf("10.42.%d.%d", k.ips.Add(1)/250, k.ips.Load()%250+2))
	_, err := pods.UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		if apierrors.IsConflict(err) {
			k.queue.Add(key) // the informer has or will get the newer version
		}
		return nil
	}
	return err
}

// markRunning sets the status a kubelet reports for a started, ready pod.
func markRunning(p *corev1.Pod, ip string) {
	now := metav1.Now()
	p.Status.Phase = corev1.PodRunning
	if p.Status.PodIP == "" {
		p.Status.PodIP = ip
		p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	p.Status.HostIP = "192.168.0.1"
	p.Status.StartTime = &now
	setPodCond(p, corev1.PodInitialized, corev1.ConditionTrue, now)
	setPodCond(p, corev1.PodReady, corev1.ConditionTrue, now)
	setPodCond(p, corev1.ContainersReady, corev1.ConditionTrue, now)
	p.Status.ContainerStatuses = nil
	for _, c := range p.Spec.Containers {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "sha256:0", ContainerID: "fake://" + string(p.UID) + "/" + c.Name,
			Ready: true, Started: ptr(true), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}})
	}
}

func setPodCond(p *corev1.Pod, t corev1.PodConditionType, s corev1.ConditionStatus, now metav1.Time) {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			if p.Status.Conditions[i].Status != s {
				p.Status.Conditions[i].Status, p.Status.Conditions[i].LastTransitionTime = s, now
			}
			return
		}
	}
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: t, Status: s, LastTransitionTime: now})
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }

// eventually polls cond every 100 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		ok, err := cond()
		last = err
		return ok, nil
	})
	if err != nil {
		t.Fatalf("timed out after %v waiting for %s (last error: %v)", timeout, what, last)
	}
}

func mustCreateNamespace(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	if _, err := c.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// pauseTemplate is a pod template of one container labelled app=name.
func pauseTemplate(name string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "skiff.local/pause:1"}}}}
}
