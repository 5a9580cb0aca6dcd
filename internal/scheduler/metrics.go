package scheduler

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Scheduling attempt results (label values, as upstream).
const (
	resultScheduled     = "scheduled"
	resultUnschedulable = "unschedulable"
	resultError         = "error"
)

type metrics struct {
	attempts        *prometheus.CounterVec
	attemptDuration *prometheus.HistogramVec
	e2eDuration     *prometheus.HistogramVec
	pending         *prometheus.GaugeVec
	preemptions     prometheus.Counter
	victims         prometheus.Histogram
}

func newMetrics() *metrics {
	return &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scheduler_schedule_attempts_total",
			Help: "Number of attempts to schedule pods, by the result.",
		}, []string{"result", "profile"}),
		attemptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scheduler_scheduling_attempt_duration_seconds",
			Help:    "Scheduling attempt latency in seconds (scheduling algorithm + binding).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"result", "profile"}),
		e2eDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scheduler_pod_scheduling_duration_seconds",
			Help:    "E2e latency for a pod being scheduled, from entering the queue to bound, which may include multiple attempts.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 20),
		}, []string{"profile"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scheduler_pending_pods",
			Help: "Number of pending pods, by the queue type: active, backoff, unschedulable or gated.",
		}, []string{"queue"}),
		preemptions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scheduler_preemption_attempts_total",
			Help: "Total preemption attempts in the cluster till now.",
		}),
		victims: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "scheduler_preemption_victims",
			Help:    "Number of selected preemption victims.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 7),
		}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.attempts, m.attemptDuration, m.e2eDuration, m.pending, m.preemptions, m.victims}
}

var (
	defaultMetricsOnce sync.Once
	defaultMetrics     *metrics
)

// metricsFor registers a metric set on reg; for the process-wide default
// registerer it is done once and shared, so several Schedulers in one
// process (tests) do not collide.
func metricsFor(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil || reg == prometheus.DefaultRegisterer {
		var err error
		defaultMetricsOnce.Do(func() {
			defaultMetrics = newMetrics()
			err = register(prometheus.DefaultRegisterer, defaultMetrics)
		})
		return defaultMetrics, err
	}
	m := newMetrics()
	return m, register(reg, m)
}

func register(reg prometheus.Registerer, m *metrics) error {
	for _, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				continue
			}
			return err
		}
	}
	return nil
}
