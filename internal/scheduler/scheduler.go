package scheduler

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins"
)

// DefaultSchedulerName is the profile pods get when spec.schedulerName is
// empty (the API server defaults it), and the events' reporting controller.
const DefaultSchedulerName = "default-scheduler"

// Defaults.
const (
	DefaultAssumedPodTTL = 30 * time.Second
	// minFeasibleNodesToFind: below this many nodes every node is checked.
	minFeasibleNodesToFind = 100
	// minFeasibleNodesPercentageToFind floors the adaptive percentage.
	minFeasibleNodesPercentageToFind = 5
)

// Options configure a Scheduler. Zero values mean upstream defaults.
//
// Throughput note: the scheduler issues one binding POST and one event POST
// per pod, so a client built with client-go's default QPS (5) caps it at a
// few pods per second. Callers should build the client with a high QPS and
// Burst (e.g. rest.Config{QPS: 5000, Burst: 10000}) and protobuf content
// type if the server supports it.
type Options struct {
	// SchedulerName names the single default profile when no config file
	// (or a config without profiles) is given. Default "default-scheduler".
	SchedulerName string
	// ConfigFile is a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1).
	ConfigFile string
	// Config is an already-parsed configuration (used instead of ConfigFile).
	Config *Configuration
	// Parallelism overrides the config's parallelism when > 0 (default 16).
	Parallelism int
	// PercentageOfNodesToScore overrides the config when > 0; 0 = adaptive.
	PercentageOfNodesToScore int
	// LeaderElect runs the scheduling loop only while holding the
	// kube-system/skiff-scheduler Lease.
	LeaderElect bool
	// LeaseNamespace / LeaseName / Identity tune leader election.
	LeaseNamespace, LeaseName, Identity string
	// Registry adds out-of-tree plugins (see plugins/example).
	Registry framework.Registry
	// Registerer receives the metrics; nil means prometheus.DefaultRegisterer
	// (registered once per process).
	Registerer prometheus.Registerer
	// Gatherer serves /metrics in Handler; defaults to DefaultGatherer, or
	// to Registerer if it is a *prometheus.Registry.
	Gatherer prometheus.Gatherer
	// InformerFactory lets the caller share informers; default: a new one.
	InformerFactory informers.SharedInformerFactory
	// Clock is for tests.
	Clock clock.WithTicker
	// AssumedPodTTL bounds how long an assumed pod waits for the informer
	// to confirm its binding (default 30s).
	AssumedPodTTL time.Duration
}

// Scheduler is Skiff's kube-scheduler: it watches pods and nodes through
// the API and binds pending pods to nodes.
type Scheduler struct {
	client    kubernetes.Interface
	opts      Options
	cfg       *resolved
	clock     clock.WithTicker
	informers informers.SharedInformerFactory
	podLister corelisters.PodLister

	queue    *SchedulingQueue
	cache    *Cache
	snapshot *Snapshot
	profiles map[string]*framework.Framework
	// extenders are shared by all profiles, as upstream.
	extenders []*httpExtender

	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	metrics     *metrics
	gatherer    prometheus.Gatherer

	// Scheduling-goroutine-owned state: reused per cycle to avoid garbage.
	nextStartNodeIndex int
	feasibleBuf        []*framework.NodeInfo
	statusBuf          []*framework.Status
	totalsBuf          []int64
	rng                *rand.Rand

	bindWG sync.WaitGroup
	synced chan struct{}
}

// New validates the configuration and wires the scheduler; it starts
// nothing. A bad configuration returns an error naming the field.
func New(client kubernetes.Interface, opts Options) (*Scheduler, error) {
	if client == nil {
		return nil, errors.New("scheduler: client is required")
	}
	cfg := opts.Config
	if cfg == nil && opts.ConfigFile != "" {
		var err error
		if cfg, err = LoadConfig(opts.ConfigFile); err != nil {
			return nil, err
		}
	}
	reg := plugins.InTree()
	if err := reg.Merge(opts.Registry); err != nil {
		return nil, fmt.Errorf("Options.Registry: %w", err)
	}
	if opts.SchedulerName != "" && (cfg == nil || len(cfg.Profiles) == 0) {
		if cfg == nil {
			cfg = &Configuration{APIVersion: ConfigAPIVersion, Kind: ConfigKind}
		} else {
			c := *cfg
			cfg = &c
		}
		cfg.Profiles = []Profile{{SchedulerName: opts.SchedulerName}}
	}
	r, err := resolve(cfg, reg)
	if err != nil {
		return nil, err
	}
	if opts.Parallelism < 0 {
		return nil, fmt.Errorf("Options.Parallelism: must not be negative, got %d", opts.Parallelism)
	}
	if opts.Parallelism > 0 {
		r.parallelism = opts.Parallelism
	}
	if p := opts.PercentageOfNodesToScore; p < 0 || p > 100 {
		return nil, fmt.Errorf("Options.PercentageOfNodesToScore: must be in [0, 100], got %d", p)
	} else if p > 0 {
		r.percentage = int32(p)
	}
	if r.leaderElection != nil && r.leaderElection.LeaderElect != nil && *r.leaderElection.LeaderElect {
		opts.LeaderElect = true
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.AssumedPodTTL <= 0 {
		opts.AssumedPodTTL = DefaultAssumedPodTTL
	}
	s := &Scheduler{client: client, opts: opts, cfg: r, clock: opts.Clock,
		queue:    NewSchedulingQueue(opts.Clock, r.initialBackoff, r.maxBackoff),
		cache:    NewCache(opts.Clock, opts.AssumedPodTTL),
		snapshot: NewSnapshot(), profiles: map[string]*framework.Framework{},
		rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x5eed)), synced: make(chan struct{})}
	if s.metrics, err = metricsFor(opts.Registerer); err != nil {
		return nil, fmt.Errorf("Options.Registerer: %w", err)
	}
	s.gatherer = opts.Gatherer
	if s.gatherer == nil {
		if g, ok := opts.Registerer.(prometheus.Gatherer); ok {
			s.gatherer = g
		} else {
			s.gatherer = prometheus.DefaultGatherer
		}
	}
	s.informers = opts.InformerFactory
	if s.informers == nil {
		s.informers = informers.NewSharedInformerFactory(client, 0)
	}
	s.broadcaster = record.NewBroadcaster()
	s.recorder = s.broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: DefaultSchedulerName})
	for i, spec := range r.profiles {
		fwk, err := framework.NewFramework(reg, spec, framework.Deps{Client: client, Informers: s.informers,
			Recorder: s.recorder, Snapshot: s.snapshot, Parallelism: r.parallelism})
		if err != nil {
			return nil, fmt.Errorf("profiles[%d].%w", i, err)
		}
		s.profiles[spec.SchedulerName] = fwk
	}
	for i := range r.extenders {
		e, err := newHTTPExtender(&r.extenders[i])
		if err != nil {
			return nil, fmt.Errorf("extenders[%d].%w", i, err)
		}
		s.extenders = append(s.extenders, e)
	}
	s.registerHandlers()
	return s, nil
}

// Profile returns the framework for a schedulerName (nil if unknown).
func (s *Scheduler) Profile(name string) *framework.Framework { return s.profiles[name] }

// Cache exposes the scheduler cache (read-only use: tests, debugging).
func (s *Scheduler) Cache() *Cache { return s.cache }

// Queue exposes the scheduling queue (read-only use: tests, debugging).
func (s *Scheduler) Queue() *SchedulingQueue { return s.queue }

// Run starts the informers, waits for them to sync and schedules until ctx
// is done. With leader election, informers warm up while waiting, but pods
// are scheduled only while leading; losing the lease ends Run with an error.
func (s *Scheduler) Run(ctx context.Context) error {
	s.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: s.client.CoreV1().Events("")})
	defer s.broadcaster.Shutdown()
	s.informers.Start(ctx.Done())
	for typ, ok := range s.informers.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("scheduler: informer for %v did not sync", typ)
		}
	}
	close(s.synced)
	if s.opts.LeaderElect {
		return s.runWithLeaderElection(ctx)
	}
	return s.loop(ctx)
}

// loop owns the scheduling goroutine until ctx ends.
func (s *Scheduler) loop(ctx context.Context) error {
	go s.queue.Run(ctx.Done())
	go s.housekeeping(ctx)
	go func() {
		<-ctx.Done()
		s.queue.Close()
	}()
	for {
		qpi, cycle := s.queue.Pop()
		if qpi == nil {
			break
		}
		s.scheduleOne(ctx, qpi, cycle)
	}
	s.bindWG.Wait()
	return nil
}

// housekeeping expires assumed pods and publishes queue sizes.
func (s *Scheduler) housekeeping(ctx context.Context) {
	t := s.clock.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			if n := s.cache.CleanupExpired(); n > 0 {
				klog.FromContext(ctx).Info("expired assumed pods whose binding was never confirmed", "count", n)
				s.queue.MoveAllToActiveOrBackoff(nil)
			}
			a, b, u, g := s.queue.Lengths()
			s.metrics.pending.WithLabelValues("active").Set(float64(a))
			s.metrics.pending.WithLabelValues("backoff").Set(float64(b))
			s.metrics.pending.WithLabelValues("unschedulable").Set(float64(u))
			s.metrics.pending.WithLabelValues("gated").Set(float64(g))
		}
	}
}

// Handler serves /healthz (ok once informers synced) and /metrics.
func (s *Scheduler) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-s.synced:
			_, _ = w.Write([]byte("ok"))
		default:
			http.Error(w, "informers not synced", http.StatusServiceUnavailable)
		}
	})
	mux.Handle("/metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
	return mux
}

// --- informer wiring ---

func (s *Scheduler) responsibleFor(p *v1.Pod) bool {
	name := p.Spec.SchedulerName
	if name == "" {
		name = DefaultSchedulerName
	}
	_, ok := s.profiles[name]
	return ok
}

func terminal(p *v1.Pod) bool {
	return p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed
}

func asPod(obj any) (*v1.Pod, bool) {
	switch t := obj.(type) {
	case *v1.Pod:
		return t, true
	case cache.DeletedFinalStateUnknown:
		p, ok := t.Obj.(*v1.Pod)
		return p, ok
	}
	return nil, false
}

func asNode(obj any) (*v1.Node, bool) {
	switch t := obj.(type) {
	case *v1.Node:
		return t, true
	case cache.DeletedFinalStateUnknown:
		n, ok := t.Obj.(*v1.Node)
		return n, ok
	}
	return nil, false
}

func (s *Scheduler) registerHandlers() {
	podInformer := s.informers.Core().V1().Pods()
	s.podLister = podInformer.Lister()
	pi := podInformer.Informer()
	// Bound, still-running pods feed the cache.
	_, _ = pi.AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool {
			p, ok := asPod(obj)
			return ok && p.Spec.NodeName != "" && !terminal(p)
		},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) {
				p, _ := asPod(obj)
				s.cache.AddPod(p)
				s.queue.ForgetNomination(p)
				// A new pod can satisfy pending pods' affinity or spread.
				s.queue.MoveAllToActiveOrBackoff(dependsOnOtherPods)
			},
			UpdateFunc: func(_, obj any) {
				p, _ := asPod(obj)
				s.cache.UpdatePod(p)
			},
			DeleteFunc: func(obj any) {
				p, ok := asPod(obj)
				if !ok {
					return
				}
				s.cache.RemovePod(p)
				s.queue.MoveAllToActiveOrBackoff(nil) // room was freed
			},
		},
	})
	// Pending pods for our profiles feed the queue.
	_, _ = pi.AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool {
			p, ok := asPod(obj)
			return ok && p.Spec.NodeName == "" && p.DeletionTimestamp == nil && !terminal(p) && s.responsibleFor(p)
		},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { p, _ := asPod(obj); s.queue.Add(p) },
			UpdateFunc: func(_, obj any) { p, _ := asPod(obj); s.queue.Update(p) },
			DeleteFunc: func(obj any) {
				if p, ok := asPod(obj); ok {
					s.queue.Delete(p)
				}
			},
		},
	})
	_, _ = s.informers.Core().V1().Nodes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			n, _ := asNode(obj)
			s.cache.AddNode(n)
			s.queue.MoveAllToActiveOrBackoff(nil)
		},
		UpdateFunc: func(old, obj any) {
			o, _ := asNode(old)
			n, _ := asNode(obj)
			s.cache.UpdateNode(n)
			if schedulingPropertiesChanged(o, n) {
				s.queue.MoveAllToActiveOrBackoff(nil)
			}
		},
		DeleteFunc: func(obj any) {
			if n, ok := asNode(obj); ok {
				s.cache.RemoveNode(n.Name)
			}
		},
	})
}

func dependsOnOtherPods(q *QueuedPodInfo) bool {
	return len(q.RequiredAffinityTerms) > 0 || len(q.Pod.Spec.TopologySpreadConstraints) > 0
}

// schedulingPropertiesChanged ignores heartbeat-only node updates so they
// do not churn the unschedulable set.
func schedulingPropertiesChanged(a, b *v1.Node) bool {
	if a == nil || b == nil {
		return true
	}
	if a.Spec.Unschedulable != b.Spec.Unschedulable || !mapsEqual(a.Labels, b.Labels) ||
		len(a.Spec.Taints) != len(b.Spec.Taints) || len(a.Status.Images) != len(b.Status.Images) {
		return true
	}
	for i := range a.Spec.Taints {
		if !a.Spec.Taints[i].MatchTaint(&b.Spec.Taints[i]) || a.Spec.Taints[i].Value != b.Spec.Taints[i].Value {
			return true
		}
	}
	if len(a.Status.Allocatable) != len(b.Status.Allocatable) {
		return true
	}
	for k, q := range a.Status.Allocatable {
		if q2, ok := b.Status.Allocatable[k]; !ok || q.Cmp(q2) != 0 {
			return true
		}
	}
	return false
}
