package kubelet

import (
	"context"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

// fakeSignals reports whatever the test sets.
type fakeSignals struct {
	mu  sync.Mutex
	obs map[Signal]Observation
}

func (f *fakeSignals) set(s Signal, avail, capacity int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.obs == nil {
		f.obs = map[Signal]Observation{}
	}
	f.obs[s] = Observation{Available: avail, Capacity: capacity}
}

func (f *fakeSignals) Observe(context.Context) (map[Signal]Observation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[Signal]Observation{}
	for k, v := range f.obs {
		out[k] = v
	}
	return out, nil
}

// evictRuntime lists one running container per pod and records stops.
type evictRuntime struct {
	Runtime // unused methods panic
	mu      sync.Mutex
	pods    []*corev1.Pod
	stopped map[string]int64
}

func (r *evictRuntime) Version(context.Context) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{RuntimeName: "fake", RuntimeVersion: "1"}, nil
}

func (r *evictRuntime) ListContainers(_ context.Context, f *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	uid := f.GetLabelSelector()[labelPodUID]
	return []*runtimeapi.Container{{Id: "ctr-" + uid, State: runtimeapi.ContainerState_CONTAINER_RUNNING,
		Labels: map[string]string{labelPodUID: uid}}}, nil
}

func (r *evictRuntime) StopContainer(_ context.Context, id string, timeout int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped[id] = timeout
	return nil
}

const mi = 1 << 20

func newEvictionKubelet(t *testing.T, hard map[string]string, pods ...*corev1.Pod) (*Kubelet, *fakeSignals, *fake.Clientset, *evictRuntime) {
	t.Helper()
	client := fake.NewClientset()
	for _, p := range pods {
		if err := client.Tracker().Add(p); err != nil {
			t.Fatal(err)
		}
	}
	sig := &fakeSignals{}
	sig.set(SignalMemoryAvailable, 8000*mi, 8192*mi)
	sig.set(SignalNodeFsAvailable, 50<<30, 100<<30)
	sig.set(SignalPIDAvailable, 4000000, 4194304)
	rt := &evictRuntime{stopped: map[string]int64{}}
	k, err := New(Config{NodeName: "n1", Client: client, Runtime: rt, RootDir: t.TempDir(),
		Machine: &MachineInfo{CPUs: 2, MemoryBytes: 8192 * mi}, NodeIP: []byte{10, 0, 0, 1},
		EvictionHard: hard, Signals: sig})
	if err != nil {
		t.Fatal(err)
	}
	// The informer is not running: read the pods straight from the fake API.
	k.eviction.pods = func() []*corev1.Pod {
		list, err := client.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out []*corev1.Pod
		for i := range list.Items {
			out = append(out, &list.Items[i])
		}
		return out
	}
	return k, sig, client, rt
}

func testPod(name string, qos corev1.PodQOSClass, priority int32) *corev1.Pod {
	c := corev1.Container{Name: "app", Image: "img"}
	switch qos {
	case corev1.PodQOSBurstable:
		c.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
	case corev1.PodQOSGuaranteed:
		rl := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi"), corev1.ResourceCPU: resource.MustParse("100m")}
		c.Resources.Requests, c.Resources.Limits = rl, rl
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{c}, Priority: ptr.To(priority)},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "app",
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}, Ready: true}}},
	}
}

func conditionOf(st *corev1.NodeStatus, t corev1.NodeConditionType) corev1.NodeCondition {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.NodeCondition{}
}

func TestEvictionConditionsFlip(t *testing.T) {
	k, sig, _, _ := newEvictionKubelet(t, map[string]string{"memory.available": "100Mi", "nodefs.available": "10%", "pid.available": "1000"})
	woke := 0
	k.eviction.changed = func() { woke++ }
	hb, _ := newHeartbeat(context.Background(), k.cfg, k.network)
	hb.eviction = k.eviction
	ctx := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}

	status := func() *corev1.NodeStatus {
		k.eviction.synchronize(ctx)
		st := hb.desiredStatus(node, &node.Status)
		node.Status = *st
		return st
	}
	want := func(st *corev1.NodeStatus, typ corev1.NodeConditionType, s corev1.ConditionStatus, reason string) {
		t.Helper()
		c := conditionOf(st, typ)
		if c.Status != s || c.Reason != reason {
			t.Errorf("%s = %s/%s, want %s/%s", typ, c.Status, c.Reason, s, reason)
		}
	}
	st := status()
	want(st, corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory")
	want(st, corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure")
	want(st, corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID")
	want(st, corev1.NodeReady, corev1.ConditionTrue, "KubeletReady")
	if woke != 0 {
		t.Errorf("status loop woken %d times without a pressure change", woke)
	}

	sig.set(SignalMemoryAvailable, 50*mi, 8192*mi)
	sig.set(SignalNodeFsAvailable, 5<<30, 100<<30) // 5% < 10%
	sig.set(SignalPIDAvailable, 10, 4194304)
	st = status()
	want(st, corev1.NodeMemoryPressure, corev1.ConditionTrue, "KubeletHasInsufficientMemory")
	want(st, corev1.NodeDiskPressure, corev1.ConditionTrue, "KubeletHasDiskPressure")
	want(st, corev1.NodePIDPressure, corev1.ConditionTrue, "KubeletHasInsufficientPID")
	if c := conditionOf(st, corev1.NodeMemoryPressure); c.Message != "kubelet has insufficient memory available" {
		t.Errorf("MemoryPressure message %q", c.Message)
	}
	if woke != 1 {
		t.Errorf("status loop woken %d times on a pressure change, want 1", woke)
	}

	sig.set(SignalMemoryAvailable, 4000*mi, 8192*mi)
	st = status()
	want(st, corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory")
	want(st, corev1.NodeDiskPressure, corev1.ConditionTrue, "KubeletHasDiskPressure")
	if woke != 2 {
		t.Errorf("status loop woken %d times after two changes, want 2", woke)
	}
}

func TestEvictionOrderAndStatus(t *testing.T) {
	mirror := testPod("mirror", corev1.PodQOSBestEffort, 0)
	mirror.Annotations = map[string]string{annotationMirror: "hash"}
	k, sig, client, rt := newEvictionKubelet(t, nil,
		testPod("guaranteed", corev1.PodQOSGuaranteed, 0),
		testPod("burstable-high", corev1.PodQOSBurstable, 1000),
		testPod("burstable-low", corev1.PodQOSBurstable, 0),
		testPod("besteffort", corev1.PodQOSBestEffort, 0),
		testPod("critical", corev1.PodQOSBestEffort, systemCriticalPriority),
		mirror,
	)
	ctx := context.Background()
	if p := k.eviction.synchronize(ctx); p != nil {
		t.Fatalf("evicted %s without pressure", p.Name)
	}
	sig.set(SignalMemoryAvailable, 10*mi, 8192*mi) // below the default 100Mi
	var order []string
	for i := 0; i < 6; i++ {
		if p := k.eviction.synchronize(ctx); p != nil {
			order = append(order, p.Name)
		}
	}
	want := []string{"besteffort", "burstable-low", "burstable-high", "guaranteed"}
	if len(order) != len(want) {
		t.Fatalf("eviction order %v, want %v (critical and mirror pods never)", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("eviction order %v, want %v", order, want)
		}
	}

	p, err := client.CoreV1().Pods("default").Get(ctx, "besteffort", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != corev1.PodFailed || p.Status.Reason != "Evicted" || p.Status.Message != "The node was low on resource: memory." {
		t.Errorf("evicted status %s/%s/%q", p.Status.Phase, p.Status.Reason, p.Status.Message)
	}
	var disruption bool
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == corev1.PodReasonTerminationByKubelet {
			disruption = true
		}
	}
	if !disruption {
		t.Errorf("no DisruptionTarget condition: %+v", p.Status.Conditions)
	}
	if cs := p.Status.ContainerStatuses[0]; cs.State.Terminated == nil || cs.Ready {
		t.Errorf("container status after eviction: %+v", cs)
	}
	for _, name := range []string{"critical", "mirror"} {
		p, _ := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if p.Status.Phase != corev1.PodRunning {
			t.Errorf("%s pod was evicted: %s", name, p.Status.Phase)
		}
	}
	if timeout, ok := rt.stopped["ctr-uid-besteffort"]; !ok || timeout != 0 {
		t.Errorf("evicted pod's container not stopped with grace 0: %v", rt.stopped)
	}
	if _, ok := rt.stopped["ctr-uid-critical"]; ok {
		t.Error("critical pod's container was stopped")
	}
	events, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events.Items {
		if e.InvolvedObject.Name == "besteffort" && e.Reason == "Evicted" && e.Type == corev1.EventTypeWarning {
			found = true
		}
	}
	if !found {
		t.Errorf("no Warning Evicted event for besteffort among %d events", len(events.Items))
	}
}

func TestEvictionDiskMessage(t *testing.T) {
	k, sig, client, _ := newEvictionKubelet(t, nil, testPod("web", corev1.PodQOSBestEffort, 0))
	sig.set(SignalNodeFsAvailable, 1<<30, 100<<30)
	if p := k.eviction.synchronize(context.Background()); p == nil || p.Name != "web" {
		t.Fatalf("evicted %v, want web", p)
	}
	p, _ := client.CoreV1().Pods("default").Get(context.Background(), "web", metav1.GetOptions{})
	if p.Status.Message != "The node was low on resource: ephemeral-storage." {
		t.Errorf("message %q", p.Status.Message)
	}
}

func TestParseEvictionHard(t *testing.T) {
	m, err := ParseEvictionHard("memory.available<1000Ti, nodefs.available<15%,pid.available<0")
	if err != nil {
		t.Fatal(err)
	}
	th, err := parseThresholds(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(th) != 2 || th[0].String() != "memory.available<1000Ti" || th[1].String() != "nodefs.available<15%" {
		t.Errorf("thresholds %v (pid.available<0 disables that signal)", th)
	}
	if !th[0].met(Observation{Available: 8 << 40}) {
		t.Error("memory.available<1000Ti not met by 8Ti")
	}
	for _, bad := range []string{"memory.available>1Gi", "memory.free<1Gi", "nodefs.available<150%", "memory.available<lots"} {
		if _, err := ParseEvictionHard(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestHostSignalsAndHollow(t *testing.T) {
	obs, err := hostSignals{rootDir: t.TempDir() + "/not/yet", proc: "/proc"}.Observe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []Signal{SignalMemoryAvailable, SignalNodeFsAvailable, SignalPIDAvailable} {
		o := obs[s]
		if o.Capacity <= 0 || o.Available <= 0 || o.Available > o.Capacity {
			t.Errorf("%s = %+v", s, o)
		}
	}
	// NoDisk (hollow) kubelets must never see pressure, even with huge thresholds.
	k, err := New(Config{NodeName: "h", Client: fake.NewClientset(), Runtime: &evictRuntime{}, RootDir: "/nonexistent",
		NoDisk: true, Machine: &MachineInfo{}, NodeIP: []byte{10, 0, 0, 2}, EvictionHard: map[string]string{"memory.available": "1000Ti"}})
	if err != nil {
		t.Fatal(err)
	}
	k.eviction.pods = func() []*corev1.Pod { return []*corev1.Pod{testPod("x", corev1.PodQOSBestEffort, 0)} }
	if p := k.eviction.synchronize(context.Background()); p != nil || k.eviction.pressure() != (pressure{}) {
		t.Errorf("hollow node evicted %v / pressure %+v", p, k.eviction.pressure())
	}
}
