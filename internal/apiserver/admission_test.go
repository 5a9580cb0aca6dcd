package apiserver

import (
	"context"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/admission"
	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/auth"
)

// recorder is an admission plugin that records what it sees and refuses
// ConfigMaps labelled deny=true.
type recorder struct {
	mu   sync.Mutex
	seen []admission.Attributes
}

func (*recorder) Name() string { return "Recorder" }

func (r *recorder) Admit(_ context.Context, a *admission.Attributes) error {
	if cm, ok := a.Object.(*corev1.ConfigMap); ok {
		cm.Labels = map[string]string{"admitted": "true", "deny": cm.Labels["deny"]}
	}
	return nil
}

func (r *recorder) Validate(_ context.Context, a *admission.Attributes) error {
	r.mu.Lock()
	r.seen = append(r.seen, *a)
	r.mu.Unlock()
	if cm, ok := a.Object.(*corev1.ConfigMap); ok && cm.Labels["deny"] == "true" {
		return apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, errorf("denied"))
	}
	return nil
}

// TestAdmissionChainSeesEveryWrite: the chain runs on create, update and delete with
// the request's user, mutations are stored and a refusal stores nothing.
func TestAdmissionChainSeesEveryWrite(t *testing.T) {
	rec := &recorder{}
	s := newEtcdServerWith(t, Config{Admission: func(r admission.Reader) admission.Chain {
		return append(admission.Default(r), rec)
	}})
	ctx := auth.WithUser(context.Background(), &auth.User{Name: "alice", Groups: []string{"devs"}})
	ri := requestInfo{namespace: "default", res: catalog.Lookup("", "v1", "configmaps"), verb: "create"}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}}
	cm.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	out, err := s.createObject(ctx, ri, cm, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.(*corev1.ConfigMap).Labels["admitted"] != "true" {
		t.Fatalf("mutation not stored: %v", out.(*corev1.ConfigMap).Labels)
	}
	ri.verb, ri.name = "update", "cm"
	_, err = s.updateObject(ctx, ri, false, func(cur runtime.Object) (runtime.Object, error) {
		next := cur.DeepCopyObject().(*corev1.ConfigMap)
		next.Labels["deny"] = "true"
		return s.prepareUpdate(ctx, ri, next, cur, false)
	})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("denied update: want Forbidden, got %v", err)
	}
	if got, _ := s.store(ri).Get(ctx, s.key(ri, "cm"), ""); got.(*corev1.ConfigMap).Labels["deny"] != "" {
		t.Fatalf("denied update stored: %v", got.(*corev1.ConfigMap).Labels)
	}
	if _, err := s.deleteObject(ctx, ri, "cm", &metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	var ops []admission.Operation
	for _, a := range rec.seen {
		if a.Resource.Resource != "configmaps" {
			continue
		}
		ops = append(ops, a.Operation)
		if a.User == nil || a.User.Name != "alice" || a.Namespace != "default" || a.Name != "cm" {
			t.Errorf("%s attributes: user %+v namespace %q name %q", a.Operation, a.User, a.Namespace, a.Name)
		}
		if (a.Operation == admission.Delete) != (a.Object == nil) || (a.Operation == admission.Create) != (a.OldObject == nil) {
			t.Errorf("%s attributes: object %v old %v", a.Operation, a.Object != nil, a.OldObject != nil)
		}
	}
	// Storage may run an update's function again (a retry on the real state after
	// a refusal decided on the cache's copy), so the update can be seen more than once.
	if len(ops) < 3 || ops[0] != admission.Create || ops[len(ops)-1] != admission.Delete {
		t.Fatalf("chain saw %v", ops)
	}
	for _, op := range ops[1 : len(ops)-1] {
		if op != admission.Update {
			t.Fatalf("chain saw %v", ops)
		}
	}
}
