// Package ttlafterfinished deletes finished Jobs once
// spec.ttlSecondsAfterFinished has passed since they completed or failed.
// Deletion uses foreground propagation so the Job's pods go first.
package ttlafterfinished

import (
	"context"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// Options configures the controller. The zero value is usable.
type Options struct {
	ctrlutil.Common
}

// Controller is the TTL-after-finished controller for Jobs.
type Controller struct {
	client kubernetes.Interface
	jobs   batchlisters.JobLister
	opts   Options
	loop   *ctrlutil.Loop
	synced cache.InformerSynced
}

// New returns the controller. Informers are registered on factory; the caller
// starts the factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.Common = opts.Common.WithDefaults()
	inf := factory.Batch().V1().Jobs()
	c := &Controller{client: client, jobs: inf.Lister(), opts: opts}
	c.loop = ctrlutil.NewLoop("ttl_jobs_to_delete", opts.Common, c.sync)
	enqueue := func(obj any) {
		if j, ok := obj.(*batchv1.Job); ok && j.Spec.TTLSecondsAfterFinished != nil && finishTime(j) != nil {
			c.loop.Enqueue(j)
		}
	}
	inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, cur any) { enqueue(cur) },
	})
	c.synced = inf.Informer().HasSynced
	return c
}

// Run starts workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.loop.Run(ctx, workers, c.synced)
}

// finishTime is when the Job got its Complete or Failed condition.
func finishTime(j *batchv1.Job) *time.Time {
	for _, cond := range j.Status.Conditions {
		if (cond.Type == batchv1.JobComplete || cond.Type == batchv1.JobFailed) && cond.Status == corev1.ConditionTrue {
			t := cond.LastTransitionTime.Time
			if j.Status.CompletionTime != nil && cond.Type == batchv1.JobComplete {
				t = j.Status.CompletionTime.Time
			}
			return &t
		}
	}
	return nil
}

// expiresIn is how long until j may be deleted (<= 0: now); ok is false when
// j has no TTL or is not finished.
func expiresIn(j *batchv1.Job, now time.Time) (time.Duration, bool) {
	ft := finishTime(j)
	if j.Spec.TTLSecondsAfterFinished == nil || ft == nil || j.DeletionTimestamp != nil {
		return 0, false
	}
	return ft.Add(time.Duration(*j.Spec.TTLSecondsAfterFinished) * time.Second).Sub(now), true
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	j, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	left, ok := expiresIn(j, c.opts.Clock.Now())
	if !ok {
		return nil
	}
	if left > 0 {
		c.loop.Queue.AddAfter(key, left)
		return nil
	}
	// The cached copy may be stale (TTL raised, Job recreated): re-check the
	// live object before the irreversible delete.
	live, err := c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if left, ok = expiresIn(live, c.opts.Clock.Now()); !ok {
		return nil
	}
	if left > 0 {
		c.loop.Queue.AddAfter(key, left)
		return nil
	}
	fg := metav1.DeletePropagationForeground
	err = c.client.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{
		PropagationPolicy: &fg, Preconditions: &metav1.Preconditions{UID: &live.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}
