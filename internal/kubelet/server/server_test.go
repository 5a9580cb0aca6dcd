package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/skiff-sh/skiff/internal/kubelet/stats"
)

type fakeStats struct{}

func (fakeStats) Summary(context.Context) (*stats.Summary, error) {
	return &stats.Summary{Node: stats.NodeStats{NodeName: "n1"},
		Pods: []stats.PodStats{{PodRef: stats.PodReference{Name: "p", Namespace: "default", UID: "u1"}}}}, nil
}

func TestMetricsAndSummaryRoutes(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("kubelet_running_pods 3\n")) })
	s, err := New(Config{NodeName: "n1", CertDir: t.TempDir(), AllowLocalAnonymous: true, Metrics: metrics, Stats: fakeStats{}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, remote string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}
	if rec := get("/metrics", "127.0.0.1:5000"); rec.Code != 200 || rec.Body.String() != "kubelet_running_pods 3\n" {
		t.Errorf("/metrics: %d %q", rec.Code, rec.Body)
	}
	rec := get("/stats/summary", "127.0.0.1:5000")
	var sum stats.Summary
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &sum) != nil || sum.Node.NodeName != "n1" ||
		len(sum.Pods) != 1 || sum.Pods[0].PodRef.UID != "u1" {
		t.Errorf("/stats/summary: %d %s", rec.Code, rec.Body)
	}
	// Both are behind the same authentication as every other endpoint.
	if rec := get("/stats/summary", "203.0.113.9:5000"); rec.Code != http.StatusUnauthorized {
		t.Errorf("remote anonymous /stats/summary: %d, want 401", rec.Code)
	}
}
