package storage_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/storage"
)

// seats is a toy allocator: a pod labelled seat=auto gets the first free seat of
// a small pool (seat=N asks for seat N), held as a claim "<root>/seats/N" owned
// by "<namespace>/<name>", as Service ClusterIPs are.
type seats struct {
	prefix string
	size   int
}

var errFull = errors.New("no free seat")

func (s seats) effects(ctx context.Context, keys storage.Keys, old, obj runtime.Object) (storage.Effects, error) {
	var eff storage.Effects
	if obj != nil {
		p := obj.(*corev1.Pod)
		owner := p.Namespace + "/" + p.Name
		if p.Labels["seat"] == "auto" {
			for i := 0; i < s.size; i++ {
				holder, err := keys.Owner(ctx, s.key(fmt.Sprint(i)))
				if err != nil {
					return eff, err
				}
				if holder == "" || holder == owner {
					p.Labels["seat"] = fmt.Sprint(i)
					break
				}
			}
			if p.Labels["seat"] == "auto" {
				return eff, errFull
			}
		} else if holder, err := keys.Owner(ctx, s.key(p.Labels["seat"])); err != nil || (holder != "" && holder != owner) {
			return eff, apierrors.NewConflict(schema.GroupResource{Resource: "pods"}, p.Name, errors.New("seat taken"))
		}
		eff.Reserve = append(eff.Reserve, storage.Claim{Key: s.key(p.Labels["seat"]), Owner: owner})
	}
	if old != nil {
		o := old.(*corev1.Pod)
		if obj == nil || obj.(*corev1.Pod).Labels["seat"] != o.Labels["seat"] {
			eff.Release = append(eff.Release, storage.Claim{Key: s.key(o.Labels["seat"]), Owner: o.Namespace + "/" + o.Name})
		}
	}
	return eff, nil
}

func (s seats) key(n string) string { return s.prefix + n }

func newSeatedPods(t *testing.T, size int) (*pods, seats) {
	t.Helper()
	root := storage.KeyRootForTest(t)
	st := seats{prefix: root + "/seats/", size: size}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := storage.New(ctx, storage.Config{
		Client: storage.TestEtcdClient, Prefix: root + "/registry/pods/", Resource: schema.GroupResource{Resource: "pods"},
		NewFunc: func() runtime.Object { return &corev1.Pod{} }, Codec: protoCodec,
		DeleteOnUpdate: finalizedAndDue, Effects: st.effects,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &pods{Interface: s, prefix: root + "/registry/pods/", ctx: storage.ContextForTest(t)}, st
}

func seated(name, seat string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{"seat": seat}}}
}

// claimsOf lists the claims under the seats prefix as key → owner.
func claimsOf(t *testing.T, s seats, rev int64) map[string]string {
	t.Helper()
	cs, err := storage.ListClaims(context.Background(), storage.TestEtcdClient, s.prefix, rev)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range cs {
		out[c.Key] = c.Owner
	}
	return out
}

func TestEffectsCommitWithTheObject(t *testing.T) {
	p, s := newSeatedPods(t, 3)
	a := p.create(t, seated("a", "auto"))
	if a.Labels["seat"] != "0" || claimsOf(t, s, 0)[s.key("0")] != "ns/a" {
		t.Fatalf("create: seat %q, claims %v", a.Labels["seat"], claimsOf(t, s, 0))
	}
	// A failed create takes nothing: the name exists, so the seat it chose stays free.
	if _, err := p.Create(p.ctx, p.key("ns", "a"), seated("a", "1"), false); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("duplicate create: %v", err)
	}
	// An effects error fails the write and stores nothing.
	if _, err := p.Create(p.ctx, p.key("ns", "b"), seated("b", "0"), false); !apierrors.IsConflict(err) {
		t.Fatalf("taken seat: %v", err)
	}
	if _, err := p.Get(p.ctx, p.key("ns", "b"), ""); !apierrors.IsNotFound(err) {
		t.Fatalf("b stored after a failed claim: %v", err)
	}
	if got := claimsOf(t, s, 0); len(got) != 1 {
		t.Fatalf("claims after failed writes: %v", got)
	}

	// An update that moves seats frees the old one in the same transaction.
	out, err := p.Update(p.ctx, p.key("ns", "a"), nil, func(cur runtime.Object) (runtime.Object, error) {
		next := cur.(*corev1.Pod)
		next.Labels["seat"] = "2"
		return next, nil
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := claimsOf(t, s, 0); len(got) != 1 || got[s.key("2")] != "ns/a" {
		t.Fatalf("claims after moving: %v", got)
	}

	// Delete frees the seat at the delete's own revision: the revision before still has it.
	del, err := p.Delete(p.ctx, p.key("ns", "a"), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	rev := mustRV(t, del)
	if got := claimsOf(t, s, rev); len(got) != 0 {
		t.Fatalf("claims at the delete's revision: %v", got)
	}
	if got := claimsOf(t, s, rev-1); got[s.key("2")] != "ns/a" {
		t.Fatalf("claims just before the delete: %v (update rv %s)", got, out.(*corev1.Pod).ResourceVersion)
	}
}

// TestEffectsConcurrentCreatesNeverShare: racing creates each end up with a seat of
// their own or fail; no seat is held twice and none is leaked.
func TestEffectsConcurrentCreatesNeverShare(t *testing.T) {
	p, s := newSeatedPods(t, 5)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = p.Create(p.ctx, p.key("ns", fmt.Sprint("p", i)), seated(fmt.Sprint("p", i), "auto"), false)
		}(i)
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case errors.Is(err, errFull):
		default:
			t.Errorf("create: %v", err)
		}
	}
	res, err := p.List(p.ctx, p.prefix, storage.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	claims := claimsOf(t, s, 0)
	if created != 5 || len(res.Items) != 5 || len(claims) != 5 {
		t.Fatalf("created %d, stored %d, claims %v", created, len(res.Items), claims)
	}
	for _, o := range res.Items {
		pod := o.(*corev1.Pod)
		if claims[s.key(pod.Labels["seat"])] != "ns/"+pod.Name {
			t.Errorf("%s has seat %s held by %q", pod.Name, pod.Labels["seat"], claims[s.key(pod.Labels["seat"])])
		}
	}
}

// TestEffectsReleaseThroughDeleteOnUpdate: removing the last finalizer deletes the
// object and frees its claims in that transaction.
func TestEffectsReleaseThroughDeleteOnUpdate(t *testing.T) {
	p, s := newSeatedPods(t, 2)
	pod := seated("f", "1")
	pod.Finalizers = []string{"example.com/hold"}
	p.create(t, pod)
	_, err := p.Update(p.ctx, p.key("ns", "f"), nil, func(cur runtime.Object) (runtime.Object, error) {
		next := cur.(*corev1.Pod)
		now := metav1.Now()
		next.DeletionTimestamp, next.Finalizers = &now, nil
		return next, nil
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := claimsOf(t, s, 0); len(got) != 0 {
		t.Fatalf("claims after the finalizer went: %v", got)
	}
}

func mustRV(t *testing.T, obj runtime.Object) int64 {
	t.Helper()
	var rv int64
	if _, err := fmt.Sscan(obj.(*corev1.Pod).ResourceVersion, &rv); err != nil {
		t.Fatalf("resourceVersion %q: %v", obj.(*corev1.Pod).ResourceVersion, err)
	}
	return rv
}
