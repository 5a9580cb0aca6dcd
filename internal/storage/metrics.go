package storage

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	etcdRequestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "skiff_etcd_request_duration_seconds",
		Help: "Latency of etcd requests made by the object store, by operation and resource.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5,
			2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60},
	}, []string{"operation", "type"})

	registeredWatchers = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "skiff_apiserver_registered_watchers",
		Help: "Number of watches currently served from the watch cache, by resource.",
	}, []string{"resource"})
)

// Registered once per process: the collectors are package-level, so every store shares them.
func init() {
	prometheus.MustRegister(etcdRequestDuration, registeredWatchers)
}

// observe records the duration of one etcd operation started at start.
func observe(op, resource string, start time.Time) {
	etcdRequestDuration.WithLabelValues(op, resource).Observe(time.Since(start).Seconds())
}
