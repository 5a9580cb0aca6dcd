package apiserver

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var (
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "apiserver_request_total", Help: "API requests by verb, resource and HTTP code.",
	}, []string{"verb", "resource", "code"})
	requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "apiserver_request_duration_seconds", Help: "API request latency by verb and resource (watches excluded).",
		Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"verb", "resource"})
)

func init() { prometheus.MustRegister(requestsTotal, requestDuration) }

func metricsHandler() http.Handler { return promhttp.Handler() }

// statusRecorder remembers the response code for metrics; it forwards Flush and
// Hijack so watches and upgrades keep working.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri, isResource := parseResourcePath(r)
		if !isResource {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		resource := ri.resource
		if ri.subresource != "" {
			resource += "/" + ri.subresource
		}
		requestsTotal.WithLabelValues(ri.verb, resource, strconv.Itoa(code)).Inc()
		if ri.verb != "watch" {
			requestDuration.WithLabelValues(ri.verb, resource).Observe(time.Since(start).Seconds())
		}
	})
}
