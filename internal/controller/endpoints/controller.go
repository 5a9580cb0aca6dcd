// Package endpoints maintains the core/v1 Endpoints object of every Service
// with a selector: ready pod addresses under addresses, the others under
// notReadyAddresses, grouped into subsets by their resolved port sets.
package endpoints

import (
	"context"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// HeadlessLabel marks the Endpoints of a headless Service.
const HeadlessLabel = "service.kubernetes.io/headless"

// Options configures the controller.
type Options struct {
	ctrlutil.Common
}

// Controller is the Endpoints controller.
type Controller struct {
	client    kubernetes.Interface
	svcLister corelisters.ServiceLister
	podLister corelisters.PodLister
	epLister  corelisters.EndpointsLister
	loop      *ctrlutil.Loop
	synced    []cache.InformerSynced
}

// New returns the controller; the caller starts factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.Common = opts.Common.WithDefaults()
	svcInf, podInf, epInf := factory.Core().V1().Services(), factory.Core().V1().Pods(), factory.Core().V1().Endpoints()
	c := &Controller{client: client, svcLister: svcInf.Lister(), podLister: podInf.Lister(), epLister: epInf.Lister()}
	c.loop = ctrlutil.NewLoop("endpoints", opts.Common, c.sync)
	svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.loop.Enqueue, UpdateFunc: func(_, cur any) { c.loop.Enqueue(cur) }, DeleteFunc: c.loop.Enqueue,
	})
	podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podChanged,
		UpdateFunc: func(old, cur any) { c.podChanged(old); c.podChanged(cur) },
		DeleteFunc: c.podChanged,
	})
	// A deleted or edited Endpoints is put back.
	epInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, cur any) { c.loop.Enqueue(cur) }, DeleteFunc: c.loop.Enqueue,
	})
	c.synced = []cache.InformerSynced{svcInf.Informer().HasSynced, podInf.Informer().HasSynced, epInf.Informer().HasSynced}
	return c
}

// Run starts workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) { c.loop.Run(ctx, workers, c.synced...) }

func (c *Controller) podChanged(obj any) {
	obj = ctrlutil.Untombstone(obj)
	if pod, ok := obj.(*corev1.Pod); ok {
		for _, k := range ctrlutil.ServiceKeysForPod(c.svcLister, pod) {
			c.loop.Queue.Add(k)
		}
	}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.svcLister.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		err := c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	if err != nil {
		return err
	}
	if svc.Spec.Selector == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	pods, err := c.podLister.Pods(ns).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		return err
	}
	subsets := buildSubsets(svc, pods)
	lbls := map[string]string{}
	for k, v := range svc.Labels {
		lbls[k] = v
	}
	if ctrlutil.IsHeadless(svc) {
		lbls[HeadlessLabel] = ""
	}
	cur, err := c.epLister.Endpoints(ns).Get(name)
	if apierrors.IsNotFound(err) {
		ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: lbls}, Subsets: subsets}
		_, err = c.client.CoreV1().Endpoints(ns).Create(ctx, ep, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		return err
	}
	if err != nil {
		return err
	}
	if apiequality.Semantic.DeepEqual(cur.Subsets, subsets) && apiequality.Semantic.DeepEqual(cur.Labels, lbls) {
		return nil // only write on change: every write wakes every proxy
	}
	ep := cur.DeepCopy()
	ep.Subsets, ep.Labels = subsets, lbls
	_, err = c.client.CoreV1().Endpoints(ns).Update(ctx, ep, metav1.UpdateOptions{})
	return err
}

// buildSubsets groups pod addresses by their port sets. Terminating pods
// are left out unless the Service publishes not-ready addresses.
func buildSubsets(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	type group struct {
		ports           []ctrlutil.PodEndpointPort
		ready, notReady []corev1.EndpointAddress
	}
	groups := map[string]*group{}
	for _, p := range pods {
		if !ctrlutil.ShouldPublish(p) || (p.DeletionTimestamp != nil && !svc.Spec.PublishNotReadyAddresses) {
			continue
		}
		ports := ctrlutil.PodPorts(svc, p)
		if len(ports) == 0 && !(ctrlutil.IsHeadless(svc) && len(svc.Spec.Ports) == 0) {
			continue // the pod exposes none of the service's ports
		}
		k := ctrlutil.PortsKey(ports)
		g := groups[k]
		if g == nil {
			g = &group{ports: ports}
			groups[k] = g
		}
		addr := address(svc, p)
		if ctrlutil.IsPodReady(p) || svc.Spec.PublishNotReadyAddresses {
			g.ready = append(g.ready, addr)
		} else {
			g.notReady = append(g.notReady, addr)
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []corev1.EndpointSubset
	for _, k := range keys {
		g := groups[k]
		s := corev1.EndpointSubset{Addresses: sortAddrs(g.ready), NotReadyAddresses: sortAddrs(g.notReady)}
		for _, p := range g.ports {
			s.Ports = append(s.Ports, corev1.EndpointPort{Name: p.Name, Port: p.Port, Protocol: p.Protocol, AppProtocol: p.AppProtocol})
		}
		out = append(out, s)
	}
	return out
}

func address(svc *corev1.Service, p *corev1.Pod) corev1.EndpointAddress {
	a := corev1.EndpointAddress{IP: ctrlutil.PodIP(p),
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID}}
	if p.Spec.NodeName != "" {
		n := p.Spec.NodeName
		a.NodeName = &n
	}
	if p.Spec.Hostname != "" && p.Spec.Subdomain == svc.Name {
		a.Hostname = p.Spec.Hostname
	}
	return a
}

func sortAddrs(a []corev1.EndpointAddress) []corev1.EndpointAddress {
	sort.Slice(a, func(i, j int) bool {
		if a[i].IP != a[j].IP {
			return a[i].IP < a[j].IP
		}
		return a[i].TargetRef.Name < a[j].TargetRef.Name
	})
	return a
}
