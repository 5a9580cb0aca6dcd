package apiserver

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"runtime/debug"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/version"
)

// maxBodyBytes bounds request bodies like upstream (3 MiB); larger → 413.
const maxBodyBytes = 3 << 20

// buildHandler assembles the chain: recovery → metrics → authentication →
// impersonation → authorization → routes.
func (s *Server) buildHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.health)
	mux.HandleFunc("/healthz/", s.health)
	mux.HandleFunc("/livez", s.health)
	mux.HandleFunc("/livez/", s.health)
	mux.HandleFunc("/readyz", s.readyz)
	mux.HandleFunc("/readyz/", s.readyz)
	mux.HandleFunc("/version", s.version)
	mux.Handle("/metrics", metricsHandler())
	if s.cfg.OpenAPI != nil {
		mux.Handle("/openapi/", s.cfg.OpenAPI)
	}
	mux.HandleFunc("/", s.serveAPI)
	var h http.Handler = mux
	if s.authz.chain != nil {
		h = s.withAuthorization(h)
		h = s.withImpersonation(h)
	}
	if s.cfg.Authenticate != nil {
		h = s.cfg.Authenticate(h)
	}
	return recoverPanics(instrument(h))
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(r.Context()); err != nil {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = fmt.Fprintf(w, "[-]etcd failed: %v\nreadyz check failed\n", err)
			return
		}
	}
	select {
	case <-s.shutdown:
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "[-]shutdown: shutting down\nreadyz check failed\n")
		return
	default:
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok")
}

// Version is what /version reports. gitVersion must parse as semver for kubectl's skew check.
var Version = version.Info{Major: "1", Minor: "37", GitVersion: "v1.37.0-skiff", GitTreeState: "clean",
	GoVersion: goVersion(), Compiler: "gc", Platform: platform()}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, mediaJSON, 200, Version)
}

// serveAPI routes discovery and resource requests.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > maxBodyBytes {
		writeError(w, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", maxBodyBytes)))
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	}
	if r.Method == http.MethodGet && isDiscoveryPath(r.URL.Path) && s.disc.serve(w, r) {
		return
	}
	ri, ok := parseResourcePath(r)
	if !ok {
		writeError(w, notFoundPath())
		return
	}
	if err := s.resolve(&ri); err != nil {
		writeError(w, err)
		return
	}
	if !isLongRunning(r, ri) {
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout(r))
		defer cancel()
		r = r.WithContext(ctx)
	}
	s.dispatch(w, r, ri)
}

// defaultRequestTimeout bounds every request that is not a stream, like upstream's
// --request-timeout; ?timeout= may only shorten it.
const defaultRequestTimeout = 60 * time.Second

func requestTimeout(r *http.Request) time.Duration {
	if v := r.URL.Query().Get("timeout"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 && d < defaultRequestTimeout {
			return d
		}
	}
	return defaultRequestTimeout
}

// isLongRunning: watches and the streaming pod subresources have no deadline.
func isLongRunning(r *http.Request, ri requestInfo) bool {
	if ri.verb == "watch" || (ri.verb == "get" && (r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1")) {
		return true
	}
	switch ri.subresource {
	case "log", "exec", "attach", "portforward", "proxy":
		return true
	}
	return false
}

func recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Printf("apiserver: panic serving %s %s: %v\n%s", r.Method, r.URL.Path, v, debug.Stack())
				writeError(w, apierrors.NewInternalError(fmt.Errorf("%v", v)))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func quietLogger() *log.Logger { return log.New(io.Discard, "", 0) }
