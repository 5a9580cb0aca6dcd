package ctrltest

import (
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

// OptimisticLocking makes updates of resource fail with Conflict when their
// resourceVersion is stale, as the real API server does. Without it a controller's
// write from an old copy silently reverts a test's change.
func OptimisticLocking(cs *fake.Clientset, resource string) {
	cs.PrependReactor("update", resource, func(a clienttesting.Action) (bool, runtime.Object, error) {
		ua := a.(clienttesting.UpdateAction)
		m, err := meta.Accessor(ua.GetObject())
		if err != nil {
			return false, nil, nil
		}
		gvr := ua.GetResource()
		stored, err := cs.Tracker().Get(gvr, ua.GetNamespace(), m.GetName())
		if err != nil {
			return false, nil, nil
		}
		sm, _ := meta.Accessor(stored)
		if m.GetResourceVersion() != "" && m.GetResourceVersion() != sm.GetResourceVersion() {
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: gvr.Group, Resource: gvr.Resource},
				m.GetName(), errors.New("the object has been modified"))
		}
		return false, nil, nil
	})
}
