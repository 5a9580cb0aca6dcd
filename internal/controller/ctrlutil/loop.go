package ctrlutil

import (
	"context"
	"fmt"
	"sync"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// Common holds what every controller takes besides its client and informers.
// The zero value is usable: a real clock, no events, no queue metrics.
type Common struct {
	// Recorder emits core/v1 events; nil drops them.
	Recorder record.EventRecorder
	// Clock is injected so tests can move time; nil means the real clock.
	Clock clock.WithTicker
	// QueueMetrics receives workqueue depth/latency/retries; nil means none.
	QueueMetrics workqueue.MetricsProvider
}

// WithDefaults fills the nil fields.
func (c Common) WithDefaults() Common {
	if c.Recorder == nil {
		c.Recorder = &record.FakeRecorder{} // nil channel: events are dropped
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.QueueMetrics == nil {
		c.QueueMetrics = noMetrics{}
	}
	return c
}

// SyncFunc converges the object named by key. Returning an error requeues the
// key with backoff; returning nil forgets its failures.
type SyncFunc func(ctx context.Context, key string) error

// Loop is a named rate-limited key queue with its workers.
type Loop struct {
	Name  string
	Queue workqueue.TypedRateLimitingInterface[string]
	sync  SyncFunc
}

// NewLoop builds the queue for a controller. name labels the queue metrics.
func NewLoop(name string, common Common, sync SyncFunc) *Loop {
	q := workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{
			Name:            name,
			MetricsProvider: common.QueueMetrics,
			Clock:           common.Clock,
		})
	return &Loop{Name: name, Queue: q, sync: sync}
}

// Enqueue adds the object's namespace/name key. It accepts tombstones, so it
// can be used directly from delete handlers.
func (l *Loop) Enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("%s: key for %T: %w", l.Name, obj, err))
		return
	}
	l.Queue.Add(key)
}

// Run waits for the caches, runs workers until ctx ends, then shuts the queue
// down and waits for the workers to return.
func (l *Loop) Run(ctx context.Context, workers int, synced ...cache.InformerSynced) {
	defer utilruntime.HandleCrash()
	logger := klog.FromContext(ctx).WithValues("controller", l.Name)
	go func() {
		<-ctx.Done()
		l.Queue.ShutDown()
	}()
	if !cache.WaitForNamedCacheSync(l.Name, ctx.Done(), synced...) {
		return
	}
	if workers < 1 {
		workers = 1
	}
	logger.Info("Starting workers", "count", workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l.ProcessNext(ctx) {
			}
		}()
	}
	wg.Wait()
}

// ProcessNext handles one key; it returns false once the queue is shut down.
// Tests call it directly to step a controller deterministically.
func (l *Loop) ProcessNext(ctx context.Context) bool {
	key, quit := l.Queue.Get()
	if quit {
		return false
	}
	defer l.Queue.Done(key)
	start := time.Now()
	err := l.sync(ctx, key)
	if err == nil {
		l.Queue.Forget(key)
		return true
	}
	klog.FromContext(ctx).V(2).Info("Sync failed, requeueing", "controller", l.Name, "key", key,
		"err", err, "elapsed", time.Since(start))
	l.Queue.AddRateLimited(key)
	return true
}

// Drain processes every queued key until the queue is empty (delayed keys are
// not waited for). Only for tests.
func (l *Loop) Drain(ctx context.Context) {
	for l.Queue.Len() > 0 {
		l.ProcessNext(ctx)
	}
}

type noMetrics struct{}

type noopMetric struct{}

func (noopMetric) Inc()            {}
func (noopMetric) Dec()            {}
func (noopMetric) Set(float64)     {}
func (noopMetric) Observe(float64) {}

func (noMetrics) NewDepthMetric(string) workqueue.GaugeMetric            { return noopMetric{} }
func (noMetrics) NewAddsMetric(string) workqueue.CounterMetric           { return noopMetric{} }
func (noMetrics) NewLatencyMetric(string) workqueue.HistogramMetric      { return noopMetric{} }
func (noMetrics) NewWorkDurationMetric(string) workqueue.HistogramMetric { return noopMetric{} }
func (noMetrics) NewRetriesMetric(string) workqueue.CounterMetric        { return noopMetric{} }
func (noMetrics) NewUnfinishedWorkSecondsMetric(string) workqueue.SettableGaugeMetric {
	return noopMetric{}
}
func (noMetrics) NewLongestRunningProcessorSecondsMetric(string) workqueue.SettableGaugeMetric {
	return noopMetric{}
}
