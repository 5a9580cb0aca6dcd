// Package podgc force-deletes pods nothing else will clean up: pods bound to
// nodes that no longer exist (after a quarantine, confirmed against the API
// server), terminating pods that were never scheduled, and the oldest
// terminated pods once there are more than a threshold of them.
//
// It runs as a periodic sweep owned by one goroutine, like upstream, rather
// than a key queue: its decisions are about the population of pods.
package podgc

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// Defaults (upstream kube-controller-manager values).
const (
	DefaultTerminatedPodThreshold = 12500
	DefaultPeriod                 = 20 * time.Second
	DefaultQuarantine             = 40 * time.Second
)

// Options configures the controller. The zero value uses the defaults.
type Options struct {
	ctrlutil.Common
	// TerminatedPodThreshold is how many Succeeded/Failed pods may exist
	// before the oldest are deleted; negative disables that sweep.
	TerminatedPodThreshold int
	// Period between sweeps.
	Period time.Duration
	// Quarantine is how long a node must stay missing before its pods go,
	// so a node that is merely re-registering keeps them.
	Quarantine time.Duration
}

// Controller is the pod garbage collector.
type Controller struct {
	client kubernetes.Interface
	pods   corelisters.PodLister
	nodes  corelisters.NodeLister
	opts   Options
	synced []cache.InformerSynced
	// missingSince is owned by the sweep goroutine.
	missingSince map[string]time.Time
}

// New returns the pod GC. Informers are registered on factory; the caller
// starts the factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.Common = opts.Common.WithDefaults()
	if opts.TerminatedPodThreshold == 0 {
		opts.TerminatedPodThreshold = DefaultTerminatedPodThreshold
	}
	if opts.Period <= 0 {
		opts.Period = DefaultPeriod
	}
	if opts.Quarantine <= 0 {
		opts.Quarantine = DefaultQuarantine
	}
	pods := factory.Core().V1().Pods()
	nodes := factory.Core().V1().Nodes()
	return &Controller{client: client, pods: pods.Lister(), nodes: nodes.Lister(), opts: opts,
		synced:       []cache.InformerSynced{pods.Informer().HasSynced, nodes.Informer().HasSynced},
		missingSince: map[string]time.Time{}}
}

// Run sweeps every Period until ctx ends. workers is ignored: one goroutine
// owns the sweep.
func (c *Controller) Run(ctx context.Context, _ int) {
	defer utilruntime.HandleCrash()
	if !cache.WaitForNamedCacheSync("podgc", ctx.Done(), c.synced...) {
		return
	}
	t := c.opts.Clock.NewTicker(c.opts.Period)
	defer t.Stop()
	for {
		c.Sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// Sweep runs one collection pass. It must only be called from one goroutine
// (Run's, or a test's).
func (c *Controller) Sweep(ctx context.Context) {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return
	}
	c.gcTerminated(ctx, pods)
	c.gcOrphaned(ctx, pods)
	c.gcUnscheduledTerminating(ctx, pods)
}

func (c *Controller) gcTerminated(ctx context.Context, pods []*corev1.Pod) {
	if c.opts.TerminatedPodThreshold < 0 {
		return
	}
	var done []*corev1.Pod
	for _, p := range pods {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			done = append(done, p)
		}
	}
	excess := len(done) - c.opts.TerminatedPodThreshold
	if excess <= 0 {
		return
	}
	sort.SliceStable(done, func(i, j int) bool { return done[i].CreationTimestamp.Before(&done[j].CreationTimestamp) })
	for _, p := range done[:excess] {
		c.forceDelete(ctx, p, "")
	}
}

// gcOrphaned deletes pods on nodes missing for longer than the quarantine,
// after confirming with the API server that the node is really gone.
func (c *Controller) gcOrphaned(ctx context.Context, pods []*corev1.Pod) {
	now := c.opts.Clock.Now()
	missing := map[string]bool{}
	for _, p := range pods {
		n := p.Spec.NodeName
		if n == "" || missing[n] {
			continue
		}
		if _, err := c.nodes.Get(n); apierrors.IsNotFound(err) {
			missing[n] = true
		}
	}
	for n := range c.missingSince {
		if !missing[n] {
			delete(c.missingSince, n) // came back, or no pods left
		}
	}
	gone := map[string]bool{}
	for n := range missing {
		since, ok := c.missingSince[n]
		if !ok {
			c.missingSince[n] = now
			continue
		}
		if now.Sub(since) < c.opts.Quarantine {
			continue
		}
		if _, err := c.client.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			gone[n] = true
		}
	}
	for _, p := range pods {
		if gone[p.Spec.NodeName] {
			c.forceDelete(ctx, p, "PodGC: node no longer exists")
		}
	}
}

func (c *Controller) gcUnscheduledTerminating(ctx context.Context, pods []*corev1.Pod) {
	for _, p := range pods {
		if p.DeletionTimestamp != nil && p.Spec.NodeName == "" {
			c.forceDelete(ctx, p, "")
		}
	}
}

// forceDelete deletes with grace period 0. With a reason, a pod not yet
// terminal is first marked Failed with a DisruptionTarget condition (reason
// DeletionByPodGC) so controllers such as Job see why it went away.
func (c *Controller) forceDelete(ctx context.Context, p *corev1.Pod, reason string) {
	logger := klog.FromContext(ctx)
	if reason != "" && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
		patch, _ := json.Marshal(map[string]any{"status": map[string]any{
			"phase": corev1.PodFailed,
			"conditions": []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
				Reason: "DeletionByPodGC", Message: reason, LastTransitionTime: metav1.NewTime(c.opts.Clock.Now())}},
		}})
		if _, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch,
			metav1.PatchOptions{}, "status"); err != nil && !apierrors.IsNotFound(err) {
			logger.V(2).Info("podgc: could not mark pod failed", "pod", klog.KObj(p), "err", err)
		}
	}
	zero := int64(0)
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &p.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		logger.Info("podgc: delete failed", "pod", klog.KObj(p), "err", err)
		return
	}
	logger.V(2).Info("podgc: force-deleted pod", "pod", klog.KObj(p), "reason", reason)
}
