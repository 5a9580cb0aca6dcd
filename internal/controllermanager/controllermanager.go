// Package controllermanager runs Skiff's controllers in one process: one
// shared informer factory, one event broadcaster, per-controller workqueues
// with prometheus metrics, /healthz and /metrics, and optional leader election
// on the Lease kube-system/skiff-controller-manager so only one replica acts.
package controllermanager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// Options configures the controller manager. Zero values take the defaults
// noted on each field.
type Options struct {
	// Controllers selects controllers by name: "*" is all (the default),
	// "-name" disables one, "name" enables one.
	Controllers []string
	// LeaderElect makes replicas elect a leader on the Lease
	// LeaseNamespace/LeaseName; only the leader runs controllers.
	LeaderElect    bool
	LeaseNamespace string // kube-system
	LeaseName      string // skiff-controller-manager
	Identity       string // hostname_uuid
	LeaseDuration  time.Duration
	RenewDeadline  time.Duration
	RetryPeriod    time.Duration

	NodeMonitorPeriod      time.Duration // 5s
	NodeMonitorGracePeriod time.Duration // 40s
	ClusterCIDR            string        // 10.42.0.0/16
	NodeCIDRMaskSize       int           // 24
	ConcurrentSyncs        int           // workers per controller: 5
	ResyncPeriod           time.Duration // informer resync: 12h

	// ClusterSigningCertFile/KeyFile are the CA the CSR signer issues certificates
	// from (the cluster CA); without them the csrsigning controller does not run.
	// ClusterSigningDuration caps issued certificates' lifetime (one year).
	ClusterSigningCertFile string
	ClusterSigningKeyFile  string
	ClusterSigningDuration time.Duration

	// Metadata is needed by the garbagecollector and namespace controllers,
	// which work across every resource kind; without it they do not run.
	Metadata metadata.Interface

	// ClientFor, when set, gives each controller its own clients, authenticated
	// as the kube-system service account upstream runs it as (ServiceAccountName);
	// nil clients mean "use the shared ones". The shared informers, events and
	// leader election always use the client passed to Run.
	ClientFor func(serviceAccount string) (kubernetes.Interface, metadata.Interface, error)
	// RootCA is the API server's CA bundle (PEM), published in every namespace
	// as the kube-root-ca.crt ConfigMap; without it that controller does not run.
	RootCA []byte

	// HealthAddr serves /healthz and /metrics when set (e.g. "127.0.0.1:10257").
	HealthAddr string
	// Registry receives the workqueue metrics; nil uses a private registry.
	Registry *prometheus.Registry
}

func (o *Options) defaults() {
	if len(o.Controllers) == 0 {
		o.Controllers = []string{"*"}
	}
	if o.LeaseNamespace == "" {
		o.LeaseNamespace = "kube-system"
	}
	if o.LeaseName == "" {
		o.LeaseName = "skiff-controller-manager"
	}
	if o.Identity == "" {
		host, _ := os.Hostname()
		o.Identity = host + "_" + string(uuid.NewUUID())
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration = 15 * time.Second
	}
	if o.RenewDeadline == 0 {
		o.RenewDeadline = 10 * time.Second
	}
	if o.RetryPeriod == 0 {
		o.RetryPeriod = 2 * time.Second
	}
	if o.ConcurrentSyncs <= 0 {
		o.ConcurrentSyncs = 5
	}
	if o.ResyncPeriod == 0 {
		o.ResyncPeriod = 12 * time.Hour
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
}

// Enabled reports whether controller name is selected by the list.
func Enabled(list []string, name string) bool {
	on := false
	for _, s := range list {
		switch {
		case s == "*":
			on = true
		case s == name:
			return true
		case s == "-"+name:
			return false
		}
	}
	return on
}

// KnownControllers lists every controller name Run accepts.
func KnownControllers() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Run starts every enabled controller and blocks until ctx ends (nil) or
// leadership is lost (an error: the caller should exit, as upstream does, so
// no two leaders ever act together).
func Run(ctx context.Context, client kubernetes.Interface, opts Options) error {
	opts.defaults()
	for _, n := range opts.Controllers {
		if n != "*" && registry[strings.TrimPrefix(n, "-")] == nil {
			return fmt.Errorf("controllermanager: unknown controller %q (known: %s)", n, strings.Join(KnownControllers(), ", "))
		}
	}
	metrics := newQueueMetrics(opts.Registry)
	health := &healthChecks{}
	if opts.HealthAddr != "" {
		if err := serve(ctx, opts.HealthAddr, opts.Registry, health); err != nil {
			return err
		}
	}
	start := func(ctx context.Context) error { return runControllers(ctx, client, opts, metrics) }
	if !opts.LeaderElect {
		return start(ctx)
	}
	return runElected(ctx, client, opts, health, start)
}

func runControllers(ctx context.Context, client kubernetes.Interface, opts Options, metrics *queueMetrics) error {
	logger := klog.FromContext(ctx)
	factory := informers.NewSharedInformerFactory(client, opts.ResyncPeriod)
	recorders := ctrlutil.StartEvents(ctx, client)
	var runners []func(context.Context)
	for _, name := range KnownControllers() {
		if !Enabled(opts.Controllers, name) {
			continue
		}
		deps := buildDeps{client: client, factory: factory, opts: opts, common: ctrlutil.Common{
			Recorder: recorders(name + "-controller"), QueueMetrics: metrics}}
		if err := withOwnClients(&deps, name); err != nil {
			return fmt.Errorf("controllermanager: %s: %w", name, err)
		}
		run, err := registry[name](deps)
		if errors.Is(err, errSkipped) {
			logger.Info("Controller disabled", "controller", name, "reason", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("controllermanager: %s: %w", name, err)
		}
		logger.Info("Starting controller", "controller", name)
		runners = append(runners, run)
	}
	// Informers are registered by the constructors; start them only now.
	factory.Start(ctx.Done())
	var wg sync.WaitGroup
	for _, run := range runners {
		wg.Go(func() { run(ctx) })
	}
	<-ctx.Done()
	wg.Wait()
	factory.Shutdown()
	return nil
}

func runElected(ctx context.Context, client kubernetes.Interface, opts Options, health *healthChecks, start func(context.Context) error) error {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: opts.LeaseNamespace, Name: opts.LeaseName},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: opts.Identity},
	}
	watchdog := leaderelection.NewLeaderHealthzAdaptor(20 * time.Second)
	health.add(func(r *http.Request) error { return watchdog.Check(r) })
	lost := make(chan struct{})
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, LeaseDuration: opts.LeaseDuration, RenewDeadline: opts.RenewDeadline, RetryPeriod: opts.RetryPeriod,
		ReleaseOnCancel: true, Name: opts.LeaseName, WatchDog: watchdog,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				if err := start(ctx); err != nil {
					klog.FromContext(ctx).Error(err, "Controllers failed")
				}
			},
			OnStoppedLeading: func() { close(lost) },
		},
	})
	if err != nil {
		return err
	}
	le.Run(ctx) // returns when ctx ends or leadership is lost
	<-lost
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("controllermanager: leader election lost")
}

type healthChecks struct {
	mu     sync.Mutex
	checks []func(*http.Request) error
}

func (h *healthChecks) add(f func(*http.Request) error) {
	h.mu.Lock()
	h.checks = append(h.checks, f)
	h.mu.Unlock()
}

func (h *healthChecks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	checks := slices.Clone(h.checks)
	h.mu.Unlock()
	for _, c := range checks {
		if err := c(r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	_, _ = w.Write([]byte("ok"))
}

// Handler returns the /healthz and /metrics mux (exported for embedding in
// another server).
func Handler(reg *prometheus.Registry, health http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/healthz", health)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

func serve(ctx context.Context, addr string, reg *prometheus.Registry, health http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("controllermanager: listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: Handler(reg, health), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return nil
}
