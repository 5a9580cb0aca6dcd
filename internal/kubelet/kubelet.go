// Package kubelet is Skiff's node agent. It registers its Node, keeps a Lease and
// the node status fresh, watches the pods bound to its node and runs each through a
// Runtime (the CRI): one worker goroutine per pod owns that pod's sandbox,
// containers, probes and status. It sees the cluster only through the Kubernetes
// API (client-go) and containers only through the Runtime interface.
//
// Shape: Kubelet.Run starts three runnables — the node heartbeat (node.go), the pod
// dispatcher (this file) and a garbage collector for runtime objects of pods that
// no longer exist — and returns when ctx ends.
package kubelet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// Config configures one kubelet. Zero durations take the defaults shown.
type Config struct {
	NodeName string
	Client   kubernetes.Interface
	Runtime  Runtime
	// RootDir holds pod volumes (<root>/pods/<uid>/volumes) and container logs
	// (<root>/logs); it must be on a real filesystem for real runtimes.
	RootDir string
	// CNIConfDir, when set, receives a bridge conflist for the node's spec.podCIDR
	// (the directory the runtime reads CNI configs from). Empty: the kubelet does
	// not manage pod networking (hollow nodes, external runtimes with their own CNI).
	CNIConfDir string
	// NodeIP is the InternalIP; nil detects the address of the default route.
	NodeIP net.IP
	// ClusterDNS are the nameservers of dnsPolicy ClusterFirst pods (upstream's
	// --cluster-dns); empty leaves such pods with the node's resolv.conf.
	ClusterDNS []string
	// ClusterDomain is the cluster's DNS domain (cluster.local when empty).
	ClusterDomain string
	// Port is the kubelet server port reported in status.daemonEndpoints (10250).
	Port int
	// Capacity overrides what is read from the machine (hollow nodes report a
	// synthetic machine). pods defaults to 110.
	Capacity corev1.ResourceList
	// Labels are added to the Node at registration.
	Labels map[string]string
	// SyncPeriod is how often each pod worker compares runtime state (1 s).
	SyncPeriod time.Duration
	// StatusPeriod is how often the node status is computed (10 s, upstream's
	// nodeStatusUpdateFrequency); it is written only when it changed or when
	// StatusReportPeriod (5 min, nodeStatusReportFrequency) has passed since
	// the last write. The Lease, renewed every LeasePeriod (10 s) and valid for
	// LeaseDuration (40 s), is the heartbeat the node controller watches.
	StatusPeriod, StatusReportPeriod time.Duration
	LeasePeriod, LeaseDuration       time.Duration
	// Machine describes the host (nil: read /proc and /etc); hollow nodes fake it.
	Machine *MachineInfo
	// PodManifestPath is a directory of static pod manifests (empty: none),
	// rescanned every ManifestPeriod (20 s, upstream's file check frequency).
	PodManifestPath string
	ManifestPeriod  time.Duration
	// NoDisk keeps the kubelet off the filesystem: pod volumes are not
	// materialized (containers get no mounts) and no log directories are made.
	// Only for runtimes whose containers never read them (hollow nodes).
	NoDisk bool
	// EvictionHard are the hard node-pressure eviction thresholds, signal ->
	// quantity or percentage ({"memory.available": "100Mi"}); nil takes
	// DefaultEvictionHard. Signals measures the node (nil: the host's /proc and
	// RootDir's filesystem; NoDisk nodes never report pressure), every
	// EvictionPeriod (10 s).
	EvictionHard   map[string]string
	Signals        SignalProvider
	EvictionPeriod time.Duration
}

func (c *Config) validate() error {
	switch {
	case c.NodeName == "":
		return errors.New("kubelet: NodeName is required")
	case c.Client == nil:
		return errors.New("kubelet: Client is required")
	case c.Runtime == nil:
		return errors.New("kubelet: Runtime is required")
	case c.RootDir == "":
		return errors.New("kubelet: RootDir is required")
	}
	if c.Port == 0 {
		c.Port = 10250
	}
	if c.SyncPeriod == 0 {
		c.SyncPeriod = time.Second
	}
	if c.StatusPeriod == 0 {
		c.StatusPeriod = 10 * time.Second
	}
	if c.StatusReportPeriod == 0 {
		c.StatusReportPeriod = 5 * time.Minute
	}
	if c.LeasePeriod == 0 {
		c.LeasePeriod = 10 * time.Second
	}
	if c.ManifestPeriod == 0 {
		c.ManifestPeriod = 20 * time.Second
	}
	if c.LeaseDuration == 0 {
		c.LeaseDuration = 40 * time.Second
	}
	return nil
}

// Kubelet is one node agent. Create it with New, run it with Run.
type Kubelet struct {
	cfg     Config
	pods    cache.SharedIndexInformer
	nodes   cache.SharedIndexInformer
	network *networkState
	// events feeds the dispatcher goroutine, which alone owns the worker map.
	events chan podEvent
	// workerList answers "which pod UIDs have workers" for the garbage collector.
	workerList chan chan map[types.UID]bool
	started    chan struct{}
	startOnce  sync.Once
	machine    *MachineInfo
	nodeIP     net.IP
	runtimeID  atomic.Pointer[string] // "containerd", from Version
	metrics    *metrics
	startTime  metav1.Time
	eviction   *evictionManager
}

type podEvent struct {
	pod     *corev1.Pod
	deleted bool
}

// New checks cfg; it starts nothing (Run does).
func New(cfg Config) (*Kubelet, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Machine == nil {
		cfg.Machine = ReadMachine(cfg.RootDir)
	}
	if cfg.NodeIP == nil {
		cfg.NodeIP = defaultNodeIP()
	}
	k := &Kubelet{
		startTime:  metav1.Now(),
		machine:    cfg.Machine,
		nodeIP:     cfg.NodeIP,
		cfg:        cfg,
		events:     make(chan podEvent, 256),
		workerList: make(chan chan map[types.UID]bool),
		network:    newNetworkState(cfg.CNIConfDir, filepath.Join(cfg.RootDir, "cni")),
		started:    make(chan struct{}),
	}
	k.metrics = newMetrics(k)
	ev, err := newEvictionManager(k)
	if err != nil {
		return nil, fmt.Errorf("kubelet: %w", err)
	}
	k.eviction = ev
	return k, nil
}

// Run registers the node and serves its pods until ctx ends.
func (k *Kubelet) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithValues("node", k.cfg.NodeName)
	ctx = klog.NewContext(ctx, logger)
	hb, err := newHeartbeat(ctx, k.cfg, k.network)
	if err != nil {
		return err
	}
	podFactory := informers.NewSharedInformerFactoryWithOptions(k.cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", k.cfg.NodeName).String()
		}))
	k.pods = podFactory.Core().V1().Pods().Informer()
	nodeFactory := informers.NewSharedInformerFactoryWithOptions(k.cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", k.cfg.NodeName).String()
		}))
	k.nodes = nodeFactory.Core().V1().Nodes().Informer()
	if _, err := k.pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.enqueue(obj, false) },
		UpdateFunc: func(_, obj any) { k.enqueue(obj, false) },
		DeleteFunc: func(obj any) { k.enqueue(obj, true) },
	}); err != nil {
		return err
	}
	hb.nodes = k.nodes
	hb.eviction = k.eviction
	k.eviction.changed = func() { poke(hb.wake) }
	if err := hb.register(ctx); err != nil {
		return err
	}
	name := strings.SplitN(hb.runtime, ":", 2)[0]
	k.runtimeID.Store(&name)
	podFactory.Start(ctx.Done())
	nodeFactory.Start(ctx.Done())
	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	run(hb.run)
	run(k.dispatch)
	run(k.collectGarbage)
	run(k.eviction.run)
	if k.cfg.PodManifestPath != "" {
		run(k.syncStaticPods)
	}
	cache.WaitForCacheSync(ctx.Done(), k.pods.HasSynced, k.nodes.HasSynced)
	k.startOnce.Do(func() { close(k.started) })
	logger.Info("kubelet running")
	wg.Wait()
	return nil
}

// Started is closed once the node is registered and the pod cache synced.
func (k *Kubelet) Started() <-chan struct{} { return k.started }

func (k *Kubelet) enqueue(obj any, deleted bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	k.events <- podEvent{pod: pod, deleted: deleted}
}

// dispatch owns the worker map: it starts a worker for each new pod UID, forwards
// updates to it, and forgets workers that finished.
func (k *Kubelet) dispatch(ctx context.Context) {
	workers := map[types.UID]*worker{}
	finished := make(chan types.UID, 64)
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-k.events:
			w := workers[ev.pod.UID]
			if w == nil {
				if ev.deleted {
					// Deleted before we ever saw it run: the garbage collector
					// removes anything left in the runtime.
					continue
				}
				w = newWorker(k, ev.pod)
				workers[ev.pod.UID] = w
				go func(uid types.UID) {
					w.run(ctx)
					select {
					case finished <- uid:
					case <-ctx.Done():
					}
				}(ev.pod.UID)
			}
			if ev.deleted {
				w.inbox.gone()
			} else {
				w.inbox.put(ev.pod)
			}
		case uid := <-finished:
			delete(workers, uid)
		case reply := <-k.workerList:
			set := make(map[types.UID]bool, len(workers))
			for uid := range workers {
				set[uid] = true
			}
			reply <- set
		}
	}
}

// activeUIDs asks the dispatcher which pods have workers.
func (k *Kubelet) activeUIDs(ctx context.Context) (map[types.UID]bool, error) {
	reply := make(chan map[types.UID]bool, 1)
	select {
	case k.workerList <- reply:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return <-reply, nil
}

// podByName finds a pod of this node in the informer cache.
func (k *Kubelet) podByName(namespace, name string) (*corev1.Pod, error) {
	obj, ok, err := k.pods.GetStore().GetByKey(namespace + "/" + name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("pod %s/%s not found on node %s", namespace, name, k.cfg.NodeName)
	}
	return obj.(*corev1.Pod), nil
}

func (k *Kubelet) memoryCapacity() int64 {
	if q, ok := k.cfg.Capacity[corev1.ResourceMemory]; ok {
		return q.Value()
	}
	return k.machine.MemoryBytes
}

func (k *Kubelet) cpuCapacity() int64 {
	if q, ok := k.cfg.Capacity[corev1.ResourceCPU]; ok {
		return q.Value()
	}
	return int64(k.machine.CPUs)
}

// runtimeName prefixes container IDs in status ("containerd://<id>").
func (k *Kubelet) runtimeName() string {
	if n := k.runtimeID.Load(); n != nil && *n != "" {
		return *n
	}
	return "cri"
}
