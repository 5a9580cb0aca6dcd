// Package ctrltest holds test helpers shared by the controller packages: a fake
// clientset that behaves a little more like a real API server, and polling.
package ctrltest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

var counter atomic.Int64

// NewClientset returns a fake clientset whose creates fill what the real API
// server would: metadata.name from generateName, uid, resourceVersion,
// creationTimestamp and generation. Updates bump resourceVersion.
func NewClientset(objs ...runtime.Object) *fake.Clientset {
	for _, o := range objs {
		if m, err := meta.Accessor(o); err == nil {
			fill(m)
		}
	}
	cs := fake.NewClientset(objs...)
	cs.PrependReactor("create", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		ca, ok := a.(clienttesting.CreateAction)
		if !ok || ca.GetSubresource() != "" {
			return false, nil, nil
		}
		if m, err := meta.Accessor(ca.GetObject()); err == nil {
			fill(m)
		}
		return false, nil, nil
	})
	cs.PrependReactor("update", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		ua, ok := a.(clienttesting.UpdateAction)
		if !ok {
			return false, nil, nil
		}
		if m, err := meta.Accessor(ua.GetObject()); err == nil {
			m.SetResourceVersion(fmt.Sprint(counter.Add(1)))
		}
		return false, nil, nil
	})
	return cs
}

func fill(m metav1.Object) {
	if m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(m.GetGenerateName() + rand.String(5))
	}
	if m.GetUID() == "" {
		m.SetUID(types.UID(fmt.Sprintf("uid-%d-%s", counter.Add(1), rand.String(6))))
	}
	m.SetResourceVersion(fmt.Sprint(counter.Add(1)))
	if ts := m.GetCreationTimestamp(); ts.IsZero() {
		m.SetCreationTimestamp(metav1.Now())
	}
	if m.GetGeneration() == 0 {
		m.SetGeneration(1)
	}
}

// Eventually polls cond every 10ms until it returns true or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, msg string, cond func() bool) {
	t.Helper()
	// CI machines are small and shared: a condition that holds eventually gets at
	// least 20 s, so load never turns into a flaky failure.
	deadline := time.Now().Add(max(timeout, 20*time.Second))
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out after %v: %s", timeout, msg)
}
