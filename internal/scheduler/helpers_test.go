package scheduler

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func makeNode(name, cpu, mem string, pods int64, labels map[string]string, taints ...v1.Taint) *v1.Node {
	rl := v1.ResourceList{
		v1.ResourceCPU:    resource.MustParse(cpu),
		v1.ResourceMemory: resource.MustParse(mem),
		v1.ResourcePods:   *resource.NewQuantity(pods, resource.DecimalSI),
	}
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("node-" + name), Labels: labels},
		Spec:       v1.NodeSpec{Taints: taints},
		Status:     v1.NodeStatus{Allocatable: rl, Capacity: rl},
	}
}

func makePod(ns, name, cpu, mem string) *v1.Pod {
	req := v1.ResourceList{}
	if cpu != "" {
		req[v1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		req[v1.ResourceMemory] = resource.MustParse(mem)
	}
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "-" + name)},
		Spec: v1.PodSpec{
			SchedulerName: DefaultSchedulerName,
			Containers:    []v1.Container{{Name: "c", Image: "busybox", Resources: v1.ResourceRequirements{Requests: req}}},
		},
	}
}

// fakeCluster is a fake clientset whose binding subresource behaves like
// the API server's: it sets spec.nodeName on the stored pod.
type fakeCluster struct {
	client *fake.Clientset
	mu     sync.Mutex
	binds  map[string]string // ns/name -> node
	// failBind makes the next n bindings fail.
	failBind int
}

var podsGVR = v1.SchemeGroupVersion.WithResource("pods")

func newFakeCluster(t *testing.T, objs ...runtime.Object) *fakeCluster {
	t.Helper()
	// NewClientset's field-managed tracker is slow (a REST mapper per
	// call), but NewSimpleClientset's watch panics when 100 events queue
	// up, which the 1,000-pod test does.
	fc := &fakeCluster{client: fake.NewClientset(objs...), binds: map[string]string{}}
	fc.client.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := action.(k8stesting.CreateAction).GetObject().(*v1.Binding)
		fc.mu.Lock()
		if fc.failBind > 0 {
			fc.failBind--
			fc.mu.Unlock()
			return true, nil, fmt.Errorf("injected bind failure")
		}
		fc.mu.Unlock()
		obj, err := fc.client.Tracker().Get(podsGVR, b.Namespace, b.Name)
		if err != nil {
			return true, nil, err
		}
		pod := obj.(*v1.Pod).DeepCopy()
		if pod.Spec.NodeName != "" {
			return true, nil, fmt.Errorf("pod %s/%s is already assigned to node %q", pod.Namespace, pod.Name, pod.Spec.NodeName)
		}
		pod.Spec.NodeName = b.Target.Name
		if err := fc.client.Tracker().Update(podsGVR, pod, pod.Namespace); err != nil {
			return true, nil, err
		}
		fc.mu.Lock()
		fc.binds[b.Namespace+"/"+b.Name] = b.Target.Name
		fc.mu.Unlock()
		return true, nil, nil
	})
	return fc
}

func (fc *fakeCluster) bindings() map[string]string {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	out := make(map[string]string, len(fc.binds))
	for k, v := range fc.binds {
		out[k] = v
	}
	return out
}

// startScheduler runs a scheduler against fc until the test ends.
func startScheduler(t *testing.T, fc *fakeCluster, opts Options) *Scheduler {
	t.Helper()
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	s, err := New(fc.client, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	select {
	case <-s.synced:
	case <-time.After(5 * time.Second):
		t.Fatal("informers did not sync")
	}
	return s
}

func createPod(t *testing.T, fc *fakeCluster, p *v1.Pod) {
	t.Helper()
	if _, err := fc.client.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
