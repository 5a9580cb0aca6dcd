package apiserver

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/etcd"
	"github.com/skiff-sh/skiff/internal/storage"
)

// newEtcdServer is an API server on an embedded etcd of its own, without the
// repair loop (tests run passes themselves) or compaction (they read old revisions).
func newEtcdServer(t *testing.T, cidr string) *Server {
	t.Helper()
	return newEtcdServerWith(t, Config{ServiceCIDR: cidr})
}

func newEtcdServerWith(t *testing.T, cfg Config) *Server {
	t.Helper()
	e, err := etcd.Start(context.Background(), etcd.Config{DataDir: filepath.Join(t.TempDir(), "etcd")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	// Cancelled before etcd closes (cleanups run last first): the stores stop quietly.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cfg.Etcd, cfg.RepairInterval, cfg.CompactInterval = e.Client(), -1, -1
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func serviceRI() requestInfo {
	return requestInfo{namespace: "default", res: catalog.Lookup("", "v1", "services"), verb: "create"}
}

func nodePortService(name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 80}}}}
}

func (s *Server) createService(t *testing.T, svc *corev1.Service) (*corev1.Service, error) {
	t.Helper()
	svc.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Service"))
	out, err := s.createObject(context.Background(), serviceRI(), svc, false, nil)
	if err != nil {
		return nil, err
	}
	return out.(*corev1.Service), nil
}

// claims returns every Service claim (IPs and ports) as key → owner at rev (0: now).
func (s *Server) claims(t *testing.T, rev int64) map[string]string {
	t.Helper()
	a := s.registry.Services()
	out := map[string]string{}
	for _, prefix := range []string{a.IPPrefix, a.PortPrefix} {
		cs, err := storage.ListClaims(context.Background(), s.cfg.Etcd, prefix, rev)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			out[c.Key] = c.Owner
		}
	}
	return out
}

func (s *Server) ipKey(ip string) string { return s.registry.Services().IPPrefix + ip }
func (s *Server) portKey(p int32) string {
	return s.registry.Services().PortPrefix + strconv.Itoa(int(p))
}

func TestServiceAllocationFailureLeaksNothing(t *testing.T) {
	s := newEtcdServer(t, "10.43.0.0/16")
	web, err := s.createService(t, nodePortService("web"))
	if err != nil {
		t.Fatal(err)
	}
	before := s.claims(t, 0)
	if len(before) != 3 { // default/kubernetes's IP, web's IP and NodePort
		t.Fatalf("claims %v", before)
	}
	// A free IP but a taken NodePort: refused, and the IP stays free.
	clash := nodePortService("clash")
	clash.Spec.ClusterIP = "10.43.7.7"
	clash.Spec.Ports[0].NodePort = web.Spec.Ports[0].NodePort
	if _, err := s.createService(t, clash); !apierrors.IsInvalid(err) {
		t.Fatalf("taken NodePort: want Invalid, got %v", err)
	}
	// The name is taken: whatever was picked for it is not kept.
	if _, err := s.createService(t, nodePortService("web")); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("duplicate name: want AlreadyExists, got %v", err)
	}
	if after := s.claims(t, 0); len(after) != len(before) {
		t.Fatalf("claims leaked: before %v after %v", before, after)
	}
}

func TestConcurrentServiceCreatesNeverShareAnIP(t *testing.T) {
	s := newEtcdServer(t, "10.44.0.0/28") // 13 addresses to hand out besides .1
	const n = 10
	var wg sync.WaitGroup
	outs, errs := make([]*corev1.Service, n), make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			outs[i], errs[i] = s.createService(t, nodePortService(fmt.Sprint("svc", i)))
		}(i)
	}
	wg.Wait()
	claims := s.claims(t, 0)
	seen := map[string]string{}
	for i, svc := range outs {
		if errs[i] != nil {
			t.Fatalf("create svc%d: %v", i, errs[i])
		}
		ip := svc.Spec.ClusterIP
		if other, dup := seen[ip]; dup {
			t.Fatalf("%s and %s share %s", other, svc.Name, ip)
		}
		seen[ip] = svc.Name
		if claims[s.ipKey(ip)] != "default/"+svc.Name {
			t.Errorf("%s's IP %s is claimed by %q", svc.Name, ip, claims[s.ipKey(ip)])
		}
	}
	if len(claims) != 1+2*n {
		t.Errorf("%d claims for %d services plus kubernetes: %v", len(claims), n, claims)
	}
}

func TestServiceDeleteFreesItsClaimsInTheSameTransaction(t *testing.T) {
	s := newEtcdServer(t, "10.43.0.0/16")
	web, err := s.createService(t, nodePortService("web"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.deleteObject(context.Background(), serviceRI(), "web", &metav1.DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := strconv.ParseInt(out.(*corev1.Service).ResourceVersion, 10, 64)
	ipKey, portKey := s.ipKey(web.Spec.ClusterIP), s.portKey(web.Spec.Ports[0].NodePort)
	if at := s.claims(t, rev); at[ipKey] != "" || at[portKey] != "" {
		t.Fatalf("claims at the delete's revision %d: %v", rev, at)
	}
	if just := s.claims(t, rev-1); just[ipKey] != "default/web" || just[portKey] != "default/web" {
		t.Fatalf("claims just before the delete: %v", just)
	}
}

func TestServiceUpdateToClusterIPFreesItsNodePort(t *testing.T) {
	s := newEtcdServer(t, "10.43.0.0/16")
	web, err := s.createService(t, nodePortService("web"))
	if err != nil {
		t.Fatal(err)
	}
	ri := serviceRI()
	ri.verb, ri.name = "update", "web"
	_, err = s.updateObject(context.Background(), ri, false, func(cur runtime.Object) (runtime.Object, error) {
		next := cur.DeepCopyObject().(*corev1.Service)
		next.Spec.Type = corev1.ServiceTypeClusterIP
		next.Spec.Ports[0].NodePort = 0
		next.Spec.ExternalTrafficPolicy = ""
		return s.prepareUpdate(context.Background(), ri, next, cur, false)
	})
	if err != nil {
		t.Fatal(err)
	}
	claims := s.claims(t, 0)
	if claims[s.portKey(web.Spec.Ports[0].NodePort)] != "" || claims[s.ipKey(web.Spec.ClusterIP)] != "default/web" {
		t.Fatalf("claims after NodePort → ClusterIP: %v", claims)
	}
}

func TestRepairReleasesLeakedClaimsAndRestoresMissingOnes(t *testing.T) {
	s := newEtcdServer(t, "10.43.0.0/16")
	ctx := context.Background()
	web, err := s.createService(t, nodePortService("web"))
	if err != nil {
		t.Fatal(err)
	}
	leaked := s.ipKey("10.43.9.9")
	if _, err := s.cfg.Etcd.Put(ctx, leaked, "default/gone"); err != nil {
		t.Fatal(err)
	}
	missing := s.portKey(web.Spec.Ports[0].NodePort)
	if _, err := s.cfg.Etcd.Delete(ctx, missing); err != nil {
		t.Fatal(err)
	}
	rep, err := s.repairServices(ctx, s.registry.Services())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Released) != 1 || rep.Released[0] != leaked || len(rep.Reserved) != 1 || rep.Reserved[0] != missing || len(rep.Conflicts) != 0 {
		t.Fatalf("repair: %+v", rep)
	}
	claims := s.claims(t, 0)
	if claims[leaked] != "" || claims[missing] != "default/web" {
		t.Fatalf("claims after repair: %v", claims)
	}
	// A second pass finds nothing to do.
	if rep, err := s.repairServices(ctx, s.registry.Services()); err != nil || len(rep.Released)+len(rep.Reserved)+len(rep.Conflicts) != 0 {
		t.Fatalf("second repair: %+v %v", rep, err)
	}
}
