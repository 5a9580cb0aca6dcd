// Package rootcacertpublisher publishes the API server's CA bundle in every
// namespace as the ConfigMap kube-root-ca.crt (key ca.crt), which the projected
// service-account volume mounts so pods can verify the API server. The ConfigMap
// is recreated when deleted and put back when its data is changed.
package rootcacertpublisher

import (
	"context"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

const (
	// Name is the ConfigMap every namespace gets.
	Name = "kube-root-ca.crt"
	// Key holds the PEM bundle.
	Key = "ca.crt"
	// descriptionAnnotation tells readers what the ConfigMap is for.
	descriptionAnnotation = "kubernetes.io/description"
	description           = "The CA bundle of the cluster's API server, for verifying it at its in-cluster addresses (kubernetes.default.svc). Published by the root-CA publisher; edits are reverted."
)

// Options configures the controller.
type Options struct {
	ctrlutil.Common
	// RootCA is the PEM bundle to publish.
	RootCA []byte
}

// Controller keeps kube-root-ca.crt in every namespace.
type Controller struct {
	client   kubernetes.Interface
	rootCA   string
	nsLister corelisters.NamespaceLister
	cmLister corelisters.ConfigMapLister
	loop     *ctrlutil.Loop
	synced   []cache.InformerSynced
}

// New returns the controller; the caller starts factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.Common = opts.Common.WithDefaults()
	nsInf := factory.Core().V1().Namespaces()
	cmInf := factory.Core().V1().ConfigMaps()
	c := &Controller{client: client, rootCA: string(opts.RootCA), nsLister: nsInf.Lister(), cmLister: cmInf.Lister()}
	c.loop = ctrlutil.NewLoop("root-ca-cert-publisher", opts.Common, c.sync)
	nsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.loop.Enqueue,
		UpdateFunc: func(_, cur any) { c.loop.Enqueue(cur) },
	})
	onConfigMap := func(obj any) {
		if cm, ok := ctrlutil.Untombstone(obj).(*corev1.ConfigMap); ok && cm.Name == Name {
			c.loop.Queue.Add(cm.Namespace)
		}
	}
	cmInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, cur any) { onConfigMap(cur) },
		DeleteFunc: onConfigMap,
	})
	c.synced = []cache.InformerSynced{nsInf.Informer().HasSynced, cmInf.Informer().HasSynced}
	return c
}

// Run starts workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) { c.loop.Run(ctx, workers, c.synced...) }

func (c *Controller) sync(ctx context.Context, ns string) error {
	n, err := c.nsLister.Get(ns)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if n.DeletionTimestamp != nil || n.Status.Phase == corev1.NamespaceTerminating {
		return nil
	}
	want := map[string]string{Key: c.rootCA}
	cm, err := c.cmLister.ConfigMaps(ns).Get(Name)
	if apierrors.IsNotFound(err) {
		cm = &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: ns, Annotations: map[string]string{descriptionAnnotation: description}},
			Data:       want,
		}
		_, err = c.client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // the informer brings the existing one; or the namespace is going
		}
		return err
	}
	if err != nil {
		return err
	}
	if maps.Equal(cm.Data, want) && len(cm.BinaryData) == 0 && cm.Annotations[descriptionAnnotation] != "" {
		return nil
	}
	cm = cm.DeepCopy()
	cm.Data, cm.BinaryData = want, nil
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[descriptionAnnotation] = description
	_, err = c.client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil // deleted meanwhile: the delete event requeues
	}
	return err // a conflict requeues with the fresh object
}
