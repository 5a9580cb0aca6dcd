package kubelet

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// metrics are one kubelet's Prometheus series. Each kubelet has its own registry
// because hollow nodes run many kubelets in one process. Names follow upstream's.
type metrics struct {
	registry     *prometheus.Registry
	restarts     prometheus.Counter
	podStart     prometheus.Histogram
	syncDuration prometheus.Histogram
}

func newMetrics(k *Kubelet) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kubelet_container_restarts_total",
			Help: "Containers this kubelet restarted (restart policy, liveness failures).",
		}),
		podStart: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kubelet_pod_start_duration_seconds",
			Help:    "Duration from the kubelet seeing a pod for the first time to the pod running.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 300},
		}),
		syncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:        "kubelet_pod_worker_duration_seconds",
			Help:        "Duration of one pod worker sync.",
			ConstLabels: prometheus.Labels{"operation": "sync"},
			Buckets:     prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
	}
	m.registry.MustRegister(m.restarts, m.podStart, m.syncDuration,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kubelet_running_pods",
			Help: "Pods with a ready sandbox, as the runtime reports them.",
		}, func() float64 { return float64(k.countRuntime(true)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kubelet_running_containers",
			Help: "Running containers, as the runtime reports them.",
		}, func() float64 { return float64(k.countRuntime(false)) }))
	return m
}

// countRuntime asks the runtime at scrape time, so the gauges never drift from
// what really runs: ready sandboxes (pods) or running containers.
func (k *Kubelet) countRuntime(sandboxes bool) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if sandboxes {
		l, err := k.cfg.Runtime.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{
			State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}})
		if err != nil {
			return 0
		}
		return len(l)
	}
	l, err := k.cfg.Runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{
		State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}})
	if err != nil {
		return 0
	}
	return len(l)
}

// MetricsHandler serves this kubelet's metrics in the Prometheus text format.
func (k *Kubelet) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(k.metrics.registry, promhttp.HandlerOpts{})
}
