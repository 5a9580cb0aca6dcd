package nodelifecycle

import (
	"context"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// Taint keys the controller manages.
const (
	TaintNotReady           = "node.kubernetes.io/not-ready"
	TaintUnreachable        = "node.kubernetes.io/unreachable"
	TaintUnschedulable      = "node.kubernetes.io/unschedulable"
	TaintMemoryPressure     = "node.kubernetes.io/memory-pressure"
	TaintDiskPressure       = "node.kubernetes.io/disk-pressure"
	TaintPIDPressure        = "node.kubernetes.io/pid-pressure"
	TaintNetworkUnavailable = "node.kubernetes.io/network-unavailable"

	// NodeLeaseNamespace holds the kubelets' heartbeat Leases.
	NodeLeaseNamespace = "kube-node-lease"
	// ZoneLabel groups nodes for eviction rate limiting.
	ZoneLabel = "topology.kubernetes.io/zone"

	podNodeIndex = "skiff.nodelifecycle/nodeName"
)

// Options configures the controller; zero fields take upstream defaults.
type Options struct {
	ctrlutil.Common
	MonitorPeriod time.Duration // 5s
	GracePeriod   time.Duration // 40s
	// UnhealthyZoneThreshold is the share of unhealthy nodes (0.55) above
	// which NoExecute tainting in a zone is slowed to LimitedTaintQPS, so a
	// network partition does not evict the whole zone at once.
	UnhealthyZoneThreshold float64
	LimitedTaintQPS        float32 // 0.1
}

func (o *Options) defaults() {
	o.Common = o.Common.WithDefaults()
	if o.MonitorPeriod <= 0 {
		o.MonitorPeriod = 5 * time.Second
	}
	if o.GracePeriod <= 0 {
		o.GracePeriod = 40 * time.Second
	}
	if o.UnhealthyZoneThreshold <= 0 {
		o.UnhealthyZoneThreshold = 0.55
	}
	if o.LimitedTaintQPS <= 0 {
		o.LimitedTaintQPS = 0.1
	}
}

// Controller is the node lifecycle controller with its taint manager.
type Controller struct {
	client      kubernetes.Interface
	opts        Options
	nodeLister  corelisters.NodeLister
	leaseLister coordlisters.LeaseLister
	podLister   corelisters.PodLister
	podIndexer  cache.Indexer
	evictions   *ctrlutil.Loop // pod keys for the taint manager
	synced      []cache.InformerSynced

	// Owned by the monitor goroutine.
	zoneLimiters map[string]flowcontrol.PassiveRateLimiter

	// firstSeen remembers when a NoExecute taint without timeAdded was
	// first seen for a pod, so tolerationSeconds has a start.
	mu        sync.Mutex
	firstSeen map[types.UID]time.Time
}

// New returns the controller; the caller starts factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	opts.defaults()
	nodeInf := factory.Core().V1().Nodes()
	podInf := factory.Core().V1().Pods()
	leaseInf := factory.Coordination().V1().Leases()
	c := &Controller{
		client:       client,
		opts:         opts,
		nodeLister:   nodeInf.Lister(),
		leaseLister:  leaseInf.Lister(),
		podLister:    podInf.Lister(),
		zoneLimiters: map[string]flowcontrol.PassiveRateLimiter{},
		firstSeen:    map[types.UID]time.Time{},
	}
	_ = podInf.Informer().AddIndexers(cache.Indexers{podNodeIndex: func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}})
	c.podIndexer = podInf.Informer().GetIndexer()
	c.evictions = ctrlutil.NewLoop("taint-eviction", opts.Common, c.syncPod)
	podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.evictions.Enqueue,
		UpdateFunc: func(old, cur any) {
			o, n := old.(*corev1.Pod), cur.(*corev1.Pod)
			if o.Spec.NodeName != n.Spec.NodeName || len(o.Spec.Tolerations) != len(n.Spec.Tolerations) {
				c.evictions.Enqueue(cur)
			}
		},
		DeleteFunc: func(obj any) {
			if p, ok := obj.(*corev1.Pod); ok {
				c.mu.Lock()
				delete(c.firstSeen, p.UID)
				c.mu.Unlock()
			}
		},
	})
	nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueueNodePods,
		UpdateFunc: func(old, cur any) {
			if !sameNoExecute(old.(*corev1.Node).Spec.Taints, cur.(*corev1.Node).Spec.Taints) {
				c.enqueueNodePods(cur)
			}
		},
	})
	c.synced = []cache.InformerSynced{nodeInf.Informer().HasSynced, podInf.Informer().HasSynced, leaseInf.Informer().HasSynced}
	return c
}

// Run starts the monitor and the taint manager; it blocks until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	go c.evictions.Run(ctx, workers, c.synced...)
	if !cache.WaitForNamedCacheSync("nodelifecycle", ctx.Done(), c.synced...) {
		return
	}
	t := c.opts.Clock.NewTicker(c.opts.MonitorPeriod)
	defer t.Stop()
	for {
		if err := c.MonitorNodes(ctx); err != nil {
			klog.FromContext(ctx).Error(err, "Node health monitoring failed")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

func (c *Controller) enqueueNodePods(obj any) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	pods, err := c.podIndexer.ByIndex(podNodeIndex, node.Name)
	if err != nil {
		return
	}
	for _, p := range pods {
		c.evictions.Enqueue(p)
	}
}

func noExecute(taints []corev1.Taint) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			out = append(out, t)
		}
	}
	return out
}

func sameNoExecute(a, b []corev1.Taint) bool {
	x, y := noExecute(a), noExecute(b)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i].Key != y[i].Key || x[i].Value != y[i].Value {
			return false
		}
	}
	return true
}

func (c *Controller) lease(node string) *coordinationv1.Lease {
	l, err := c.leaseLister.Leases(NodeLeaseNamespace).Get(node)
	if err != nil {
		return nil
	}
	return l
}
