package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/controllermanager"
	"github.com/skiff-sh/skiff/internal/testserver"
)

const holdFinalizer = "test.skiff.sh/hold"

// ownedRS creates a ReplicaSet of n pods in ns and waits until they exist.
func ownedRS(t *testing.T, c kubernetes.Interface, ns, name string, n int32) (*appsv1.ReplicaSet, []corev1.Pod) {
	t.Helper()
	ctx := context.Background()
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: appsv1.ReplicaSetSpec{Replicas: ptr(n),
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}, Template: pauseTemplate(name)}}
	rs, err := c.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var pods []corev1.Pod
	eventually(t, 20*time.Second, fmt.Sprintf("%d pods of %s", n, name), func() (bool, error) {
		l, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return false, err
		}
		pods = l.Items
		return len(pods) == int(n), nil
	})
	return rs, pods
}

func gone(err error) bool { return apierrors.IsNotFound(err) }

// TestCascadingDeletion deletes a ReplicaSet with each propagation policy and
// checks what happens to its pods.
func TestCascadingDeletion(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	c := fastClient(t, s)
	ctx := context.Background()
	startControllerManager(t, s, controllermanager.Options{Controllers: []string{"replicaset", "garbagecollector"}})
	podsOf := func(app string) []corev1.Pod {
		l, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			t.Fatal(err)
		}
		return l.Items
	}

	t.Run("Background", func(t *testing.T) {
		ownedRS(t, c, "default", "bg", 3)
		if err := c.AppsV1().ReplicaSets("default").Delete(ctx, "bg", metav1.DeleteOptions{PropagationPolicy: ptr(metav1.DeletePropagationBackground)}); err != nil {
			t.Fatal(err)
		}
		// The owner goes at once; the collector removes the pods after.
		if _, err := c.AppsV1().ReplicaSets("default").Get(ctx, "bg", metav1.GetOptions{}); !gone(err) {
			t.Fatalf("owner still there after a background delete: %v", err)
		}
		eventually(t, 20*time.Second, "background dependents gone", func() (bool, error) { return len(podsOf("bg")) == 0, nil })
	})

	t.Run("Foreground", func(t *testing.T) {
		_, pods := ownedRS(t, c, "default", "fg", 3)
		// One dependent holds a finalizer of ours, so the window where the owner
		// waits for it can be observed for as long as we like.
		held := pods[0].Name
		patch := fmt.Sprintf(`{"metadata":{"finalizers":[%q]}}`, holdFinalizer)
		if _, err := c.CoreV1().Pods("default").Patch(ctx, held, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := c.AppsV1().ReplicaSets("default").Delete(ctx, "fg", metav1.DeleteOptions{PropagationPolicy: ptr(metav1.DeletePropagationForeground)}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "only the held dependent left, terminating", func() (bool, error) {
			left := podsOf("fg")
			return len(left) == 1 && left[0].Name == held && left[0].DeletionTimestamp != nil, nil
		})
		time.Sleep(time.Second) // the owner must keep waiting, not give up
		owner, err := c.AppsV1().ReplicaSets("default").Get(ctx, "fg", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("owner gone while a blocking dependent remains: %v", err)
		}
		if owner.DeletionTimestamp == nil || !slices.Contains(owner.Finalizers, metav1.FinalizerDeleteDependents) {
			t.Fatalf("owner during foreground deletion: deletionTimestamp %v finalizers %v", owner.DeletionTimestamp, owner.Finalizers)
		}
		// The ReplicaSet controller must not replace pods of an owner being deleted.
		if n := len(podsOf("fg")); n != 1 {
			t.Fatalf("%d pods during foreground deletion, want the 1 held", n)
		}
		if _, err := c.CoreV1().Pods("default").Patch(ctx, held, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "foreground owner gone", func() (bool, error) {
			_, err := c.AppsV1().ReplicaSets("default").Get(ctx, "fg", metav1.GetOptions{})
			return gone(err), nil
		})
		if n := len(podsOf("fg")); n != 0 {
			t.Fatalf("%d pods left after foreground deletion", n)
		}
	})

	t.Run("Orphan", func(t *testing.T) {
		_, pods := ownedRS(t, c, "default", "or", 3)
		if err := c.AppsV1().ReplicaSets("default").Delete(ctx, "or", metav1.DeleteOptions{PropagationPolicy: ptr(metav1.DeletePropagationOrphan)}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "orphaning owner gone", func() (bool, error) {
			_, err := c.AppsV1().ReplicaSets("default").Get(ctx, "or", metav1.GetOptions{})
			return gone(err), nil
		})
		eventually(t, 10*time.Second, "orphans without ownerReferences", func() (bool, error) {
			left := podsOf("or")
			for _, p := range left {
				if len(p.OwnerReferences) != 0 {
					return false, nil
				}
			}
			return len(left) == 3, nil
		})
		time.Sleep(time.Second) // nothing comes back for them
		left := podsOf("or")
		if len(left) != 3 {
			t.Fatalf("%d orphans, want 3", len(left))
		}
		for _, p := range left {
			if !slices.ContainsFunc(pods, func(q corev1.Pod) bool { return q.UID == p.UID }) {
				t.Fatalf("orphan %s is a new pod", p.Name)
			}
			if p.DeletionTimestamp != nil {
				t.Fatalf("orphan %s is being deleted", p.Name)
			}
		}
	})
}

// TestNamespaceDeletionEmptiesIt: deleting a namespace deletes everything in it
// (including a Deployment's ReplicaSet and pods, and an object with a
// finalizer, once it is released), then the namespace itself.
func TestNamespaceDeletionEmptiesIt(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	c := fastClient(t, s)
	ctx := context.Background()
	startControllerManager(t, s, controllermanager.Options{})
	const ns = "doomed"
	mustCreateNamespace(t, c, ns)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(3)),
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app"}}, Template: pauseTemplate("app")}}
	if _, err := c.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm%d", i)}, Data: map[string]string{"k": "v"}}
		if _, err := c.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	held := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "held", Finalizers: []string{holdFinalizer}}}
	if _, err := c.CoreV1().Secrets(ns).Create(ctx, held, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "svc"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "app"},
		Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := c.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Pods(ns).Create(ctx, podWithCPU("loose", "10m"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "deployment pods and the default ServiceAccount", func() (bool, error) {
		l, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=app"})
		if err != nil {
			return false, err
		}
		_, err = c.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return len(l.Items) == 3 && err == nil, nil
	})

	if err := c.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	counts := func() map[string]int {
		out := map[string]int{}
		add := func(kind string, n int, err error) {
			if err != nil {
				t.Fatalf("listing %s: %v", kind, err)
			}
			if n > 0 {
				out[kind] = n
			}
		}
		pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		add("pods", len(pods.Items), err)
		cms, err := c.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		add("configmaps", len(cms.Items), err)
		secrets, err := c.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
		add("secrets", len(secrets.Items), err)
		ds, err := c.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		add("deployments", len(ds.Items), err)
		rss, err := c.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		add("replicasets", len(rss.Items), err)
		svcs, err := c.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		add("services", len(svcs.Items), err)
		sas, err := c.CoreV1().ServiceAccounts(ns).List(ctx, metav1.ListOptions{})
		add("serviceaccounts", len(sas.Items), err)
		eps, err := c.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{})
		add("endpointslices", len(eps.Items), err)
		return out
	}
	// Everything but the held secret goes; the namespace waits for it.
	eventually(t, 30*time.Second, "namespace emptied but for the held secret", func() (bool, error) {
		left := counts()
		return len(left) == 1 && left["secrets"] == 1, nil
	})
	nsObj, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil || nsObj.Status.Phase != corev1.NamespaceTerminating {
		t.Fatalf("namespace with content left: %+v (%v)", nsObj.Status, err)
	}
	// New objects are refused while it terminates.
	_, err = c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "late"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		t.Fatalf("create in a terminating namespace: %v", err)
	}
	if _, err := c.CoreV1().Secrets(ns).Patch(ctx, "held", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "namespace gone", func() (bool, error) {
		_, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return gone(err), nil
	})
	if left := counts(); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestDefaultServiceAccount: every namespace, new or existing, gets "default",
// and gets it back when it is deleted.
func TestDefaultServiceAccount(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	c := s.Client
	ctx := context.Background()
	mustCreateNamespace(t, c, "before")
	startControllerManager(t, s, controllermanager.Options{Controllers: []string{"serviceaccount"}})
	mustCreateNamespace(t, c, "after")
	for _, ns := range []string{"default", "kube-system", "before", "after"} {
		eventually(t, 10*time.Second, "ServiceAccount default in "+ns, func() (bool, error) {
			_, err := c.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
			return err == nil, nil
		})
	}
	if err := c.CoreV1().ServiceAccounts("after").Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "ServiceAccount default recreated", func() (bool, error) {
		_, err := c.CoreV1().ServiceAccounts("after").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
}
