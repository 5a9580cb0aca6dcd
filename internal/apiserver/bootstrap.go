package apiserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/storage"
)

func catalogPods() *catalog.Resource  { return catalog.Lookup("", "v1", "pods") }
func catalogPDBs() *catalog.Resource  { return catalog.Lookup("policy", "v1", "poddisruptionbudgets") }
func storageAny() storage.ListOptions { return storage.ListOptions{ResourceVersion: "0"} }

// bootstrap creates the objects every cluster starts with, through the same
// create path clients use (so they are defaulted and validated), ignoring AlreadyExists.
func (s *Server) bootstrap(ctx context.Context) error {
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		if err := s.ensure(ctx, "", "namespaces", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	for _, pc := range []struct {
		name  string
		value int32
	}{{"system-node-critical", 2000001000}, {"system-cluster-critical", 2000000000}} {
		obj := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: pc.name}, Value: pc.value,
			Description: "Used for system critical pods that must not be moved from their current node."}
		if err := s.ensure(ctx, "scheduling.k8s.io", "priorityclasses", obj); err != nil {
			return err
		}
	}
	if err := s.ensureKubernetesService(ctx); err != nil {
		return err
	}
	return s.reconcileRBAC(ctx)
}

// ensureKubernetesService creates default/kubernetes on 10.43.0.1:443 and its endpoints.
func (s *Server) ensureKubernetesService(ctx context.Context) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{ClusterIP: s.registry.Services().FirstIP(), Ports: []corev1.ServicePort{{
			Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(int32(s.cfg.AdvertisePort)),
		}}},
	}
	if err := s.ensure(ctx, "", "services", svc); err != nil {
		return err
	}
	if s.cfg.AdvertiseAddress == nil {
		return nil
	}
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: s.cfg.AdvertiseAddress.String()}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: int32(s.cfg.AdvertisePort), Protocol: corev1.ProtocolTCP}},
		}},
	}
	ri := requestInfo{namespace: "default", res: catalog.Lookup("", "v1", "endpoints"), verb: "update", name: "kubernetes"}
	_, err := s.updateObject(ctx, ri, false, func(cur runtime.Object) (runtime.Object, error) {
		next := cur.DeepCopyObject().(*corev1.Endpoints)
		next.Subsets = ep.Subsets
		return next, nil
	})
	if apierrors.IsNotFound(err) {
		return s.ensure(ctx, "", "endpoints", ep)
	}
	return err
}

func (s *Server) ensure(ctx context.Context, group, resource string, obj runtime.Object) error {
	res := catalog.Lookup(group, "v1", resource)
	m := mustMeta(obj)
	ri := requestInfo{group: group, version: "v1", resource: resource, namespace: m.Namespace, res: res, verb: "create"}
	obj.GetObjectKind().SetGroupVersionKind(res.GVK())
	_, err := s.createObject(ctx, ri, obj, false, nil)
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("bootstrap %s %s: %w", resource, m.Name, err)
	}
	return nil
}

func catalogServiceAccounts() *catalog.Resource { return catalog.Lookup("", "v1", "serviceaccounts") }
