// Package bootstrap holds the controllers of node bootstrapping: the token
// cleaner deletes bootstrap-token Secrets once they expire, so an expired join
// token cannot be revived by a clock change and does not linger in the cluster.
package bootstrap

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// TokenCleanerOptions configures the token cleaner.
type TokenCleanerOptions struct {
	ctrlutil.Common
}

// TokenCleaner deletes expired bootstrap-token Secrets in kube-system.
type TokenCleaner struct {
	client kubernetes.Interface
	lister corelisters.SecretLister
	loop   *ctrlutil.Loop
	opts   TokenCleanerOptions
	synced cache.InformerSynced
}

// NewTokenCleaner returns the controller; the caller starts factory.
func NewTokenCleaner(client kubernetes.Interface, factory informers.SharedInformerFactory, opts TokenCleanerOptions) *TokenCleaner {
	opts.Common = opts.Common.WithDefaults()
	inf := factory.Core().V1().Secrets()
	c := &TokenCleaner{client: client, lister: inf.Lister(), opts: opts}
	c.loop = ctrlutil.NewLoop("tokencleaner", opts.Common, c.sync)
	enqueue := func(obj any) {
		if s, ok := obj.(*corev1.Secret); ok && isBootstrapToken(s) {
			c.loop.Enqueue(s)
		}
	}
	inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, cur any) { enqueue(cur) },
	})
	c.synced = inf.Informer().HasSynced
	return c
}

func isBootstrapToken(s *corev1.Secret) bool {
	return s.Namespace == auth.BootstrapTokenNamespace && s.Type == auth.BootstrapTokenSecretType
}

// Run starts workers and blocks until ctx ends.
func (c *TokenCleaner) Run(ctx context.Context, workers int) { c.loop.Run(ctx, workers, c.synced) }

func (c *TokenCleaner) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	s, err := c.lister.Secrets(ns).Get(name)
	if apierrors.IsNotFound(err) || (err == nil && (!isBootstrapToken(s) || s.DeletionTimestamp != nil)) {
		return nil
	}
	if err != nil {
		return err
	}
	exp, set, perr := auth.BootstrapTokenExpiry(s)
	if !set {
		return nil
	}
	// An unparseable expiry never authenticates: clean it up like an expired one.
	if perr == nil {
		if left := exp.Sub(c.opts.Clock.Now()); left > 0 {
			c.loop.Queue.AddAfter(key, left)
			return nil
		}
	}
	klog.FromContext(ctx).V(2).Info("Deleting expired bootstrap token", "secret", key)
	err = c.client.CoreV1().Secrets(ns).Delete(ctx, name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &s.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}
