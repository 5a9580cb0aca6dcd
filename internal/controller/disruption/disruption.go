// Package disruption maintains PodDisruptionBudget status: how many selected
// pods are healthy, how many must stay healthy, and so how many voluntary
// disruptions (evictions) are allowed right now.
//
// Percentages and maxUnavailable are resolved against the scale of the pods'
// controllers (a ReplicaSet's owning Deployment, a ReplicationController, a
// StatefulSet, found through ownerReferences). A pod with no controller, or a
// controller of another kind, counts as one expected pod (upstream would ask
// the scale subresource instead).
//
// The eviction subresource records each pod it evicts in
// status.disruptedPods; this controller treats those pods as already gone
// and prunes entries whose pods are deleted or that are older than two
// minutes (the eviction evidently did not happen).
package disruption

import (
	"context"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// DeletionTimeout is how long an eviction's disruptedPods entry is trusted.
const DeletionTimeout = 2 * time.Minute

// Options configures the controller. The zero value is usable.
type Options struct {
	ctrlutil.Common
}

// Controller is the disruption (PodDisruptionBudget) controller.
type Controller struct {
	client kubernetes.Interface
	pdbs   policylisters.PodDisruptionBudgetLister
	pods   corelisters.PodLister
	rs     appslisters.ReplicaSetLister
	deps   appslisters.DeploymentLister
	sts    appslisters.StatefulSetLister
	rcs    corelisters.ReplicationControllerLister
	opts   Options
	loop   *ctrlutil.Loop
	synced []cache.InformerSynced
}

// New returns the disruption controller. Informers are registered on
// factory; the caller starts the factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.Common = opts.Common.WithDefaults()
	pdbInf := factory.Policy().V1().PodDisruptionBudgets()
	podInf := factory.Core().V1().Pods()
	rsInf := factory.Apps().V1().ReplicaSets()
	depInf := factory.Apps().V1().Deployments()
	stsInf := factory.Apps().V1().StatefulSets()
	rcInf := factory.Core().V1().ReplicationControllers()
	c := &Controller{client: client, pdbs: pdbInf.Lister(), pods: podInf.Lister(), rs: rsInf.Lister(),
		deps: depInf.Lister(), sts: stsInf.Lister(), rcs: rcInf.Lister(), opts: opts}
	c.loop = ctrlutil.NewLoop("disruption", opts.Common, c.sync)
	pdbInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.loop.Enqueue,
		UpdateFunc: func(_, cur any) { c.loop.Enqueue(cur) },
		DeleteFunc: c.loop.Enqueue,
	})
	podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podEvent,
		UpdateFunc: func(old, cur any) { c.podEvent(old); c.podEvent(cur) },
		DeleteFunc: c.podEvent,
	})
	// Scale changes move expectedPods; requeue the namespace's budgets.
	scaleHandler := cache.ResourceEventHandlerFuncs{
		AddFunc:    c.namespaceEvent,
		UpdateFunc: func(_, cur any) { c.namespaceEvent(cur) },
		DeleteFunc: c.namespaceEvent,
	}
	for _, inf := range []cache.SharedIndexInformer{rsInf.Informer(), depInf.Informer(), stsInf.Informer(), rcInf.Informer()} {
		inf.AddEventHandler(scaleHandler)
	}
	c.synced = []cache.InformerSynced{pdbInf.Informer().HasSynced, podInf.Informer().HasSynced, rsInf.Informer().HasSynced,
		depInf.Informer().HasSynced, stsInf.Informer().HasSynced, rcInf.Informer().HasSynced}
	return c
}

// Run starts workers and blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.loop.Run(ctx, workers, c.synced...)
}

func (c *Controller) podEvent(obj any) {
	pod, ok := ctrlutil.Unwrap[*corev1.Pod](obj)
	if !ok {
		return
	}
	pdbs, err := c.pdbs.PodDisruptionBudgets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, pdb := range pdbs {
		if sel, err := selectorOf(pdb); err == nil && sel.Matches(labels.Set(pod.Labels)) {
			c.loop.Enqueue(pdb)
		}
	}
}

func (c *Controller) namespaceEvent(obj any) {
	m, err := metaOf(obj)
	if err != nil {
		return
	}
	pdbs, err := c.pdbs.PodDisruptionBudgets(m.GetNamespace()).List(labels.Everything())
	if err != nil {
		return
	}
	for _, pdb := range pdbs {
		c.loop.Enqueue(pdb)
	}
}

func metaOf(obj any) (metav1.Object, error) {
	obj = ctrlutil.Untombstone(obj)
	return metaAccessor(obj)
}

// selectorOf: a nil selector selects nothing, an empty one everything
// (policy/v1 semantics).
func selectorOf(pdb *policyv1.PodDisruptionBudget) (labels.Selector, error) {
	if pdb.Spec.Selector == nil {
		return labels.Nothing(), nil
	}
	return metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
}
