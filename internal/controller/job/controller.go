package job

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// Options configures the controller. The zero value is usable.
type Options struct {
	ctrlutil.Common
	// BackoffBase is the first pod recreation delay after a failure (10s).
	BackoffBase time.Duration
	// BackoffMax caps the recreation delay (6 min).
	BackoffMax time.Duration
}

// Controller is the Job controller.
type Controller struct {
	client    kubernetes.Interface
	jobLister batchlisters.JobLister
	podLister corelisters.PodLister
	opts      Options
	exp       *ctrlutil.Expectations
	loop      *ctrlutil.Loop
	synced    []cache.InformerSynced

	mu sync.Mutex
	// backoff per job key: consecutive failures and when the last was seen.
	backoff map[string]backoffRecord
	// unfinalized per job key: pods whose finalizer removal we issued but
	// have not seen yet, so a stale cache cannot count them twice.
	unfinalized map[string]map[types.UID]struct{}
}

type backoffRecord struct {
	failures int
	last     time.Time
}

var controllerKind = batchv1.SchemeGroupVersion.WithKind("Job")

// orphanPrefix marks queue keys naming a pod (not a Job) whose tracking
// finalizer must be removed because its Job is gone.
const orphanPrefix = "pod:"

// New returns the Job controller. Informers are registered on factory; the
// caller starts the factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.Common = opts.Common.WithDefaults()
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = 10 * time.Second
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = 6 * time.Minute
	}
	jobs := factory.Batch().V1().Jobs()
	pods := factory.Core().V1().Pods()
	c := &Controller{
		client:      client,
		jobLister:   jobs.Lister(),
		podLister:   pods.Lister(),
		opts:        opts,
		exp:         ctrlutil.NewExpectations(opts.Clock),
		backoff:     map[string]backoffRecord{},
		unfinalized: map[string]map[types.UID]struct{}{},
	}
	c.loop = ctrlutil.NewLoop("job", opts.Common, c.syncKey)
	jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.loop.Enqueue,
		UpdateFunc: func(_, cur any) { c.loop.Enqueue(cur) },
		DeleteFunc: func(obj any) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				c.forget(key)
			}
			c.loop.Enqueue(obj)
		},
	})
	pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.podEvent(obj, true, false) },
		UpdateFunc: func(old, cur any) {
			if old.(*corev1.Pod).ResourceVersion != cur.(*corev1.Pod).ResourceVersion {
				c.podEvent(cur, false, false)
			}
		},
		DeleteFunc: func(obj any) { c.podEvent(obj, false, true) },
	})
	c.synced = []cache.InformerSynced{jobs.Informer().HasSynced, pods.Informer().HasSynced}
	return c
}

// Run starts workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.loop.Run(ctx, workers, c.synced...)
}

// Loop exposes the work loop so tests can step the controller.
func (c *Controller) Loop() *ctrlutil.Loop { return c.loop }

func (c *Controller) forget(key string) {
	c.exp.Delete(key)
	c.mu.Lock()
	delete(c.backoff, key)
	delete(c.unfinalized, key)
	c.mu.Unlock()
}

func (c *Controller) podEvent(obj any, created, deleted bool) {
	pod, ok := ctrlutil.Unwrap[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := ctrlutil.ControllerRefOf(pod, controllerKind)
	if ref == nil {
		return
	}
	job, err := c.jobLister.Jobs(pod.Namespace).Get(ref.Name)
	if err != nil || job.UID != ref.UID {
		if hasFinalizer(pod) && !deleted {
			c.loop.Queue.Add(orphanPrefix + pod.Namespace + "/" + pod.Name)
		}
		return
	}
	key := job.Namespace + "/" + job.Name
	switch {
	case created && pod.DeletionTimestamp == nil:
		c.exp.CreationObserved(key)
	case deleted || pod.DeletionTimestamp != nil:
		c.exp.DeletionObserved(key, pod.UID)
	}
	if deleted || !hasFinalizer(pod) {
		c.mu.Lock()
		delete(c.unfinalized[key], pod.UID)
		c.mu.Unlock()
	}
	c.loop.Queue.Add(key)
}

func (c *Controller) syncKey(ctx context.Context, key string) error {
	if podKey, ok := strings.CutPrefix(key, orphanPrefix); ok {
		return c.syncOrphan(ctx, podKey)
	}
	return c.sync(ctx, key)
}

// syncOrphan releases a pod whose Job no longer exists, so the garbage
// collector (or anyone) can delete it.
func (c *Controller) syncOrphan(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.podLister.Pods(ns).Get(name)
	if err != nil || !hasFinalizer(pod) {
		return nil
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if job, err := c.jobLister.Jobs(ns).Get(ref.Name); err == nil && job.UID == ref.UID {
			return nil // the Job is alive; its sync handles the pod
		}
	}
	return c.removeFinalizer(ctx, pod)
}

func splitKey(key string) (string, string, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return "", "", fmt.Errorf("job: bad key %q: %w", key, err)
	}
	return ns, name, nil
}
