// Package server is the kubelet's HTTPS API (port 10250): /healthz, /pods,
// /containerLogs, /metrics, /stats/summary, and the streaming endpoints /exec, /attach and /portForward,
// which ask the runtime for a streaming URL and proxy the client's connection
// upgrade (SPDY) to it.
//
// Authentication: a client certificate signed by the cluster CA (ClientCA) is
// required. With AllowLocalAnonymous, requests without one are accepted when they
// come from one of this machine's own addresses: that is how the API server of
// `skiff server` (same host, no kubelet client certificate yet) reaches its local
// node. Every other caller gets 401.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/proxy"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/kubelet/stats"
)

// Pods is what the server needs from the kubelet.
type Pods interface {
	Pods() []*corev1.Pod
	SandboxID(ctx context.Context, namespace, name string) (string, error)
	Container(ctx context.Context, namespace, name, container string, previous bool) (*runtimeapi.ContainerStatus, error)
}

// Streamer gets streaming URLs from the runtime.
type Streamer interface {
	Exec(ctx context.Context, req *runtimeapi.ExecRequest) (string, error)
	Attach(ctx context.Context, req *runtimeapi.AttachRequest) (string, error)
	PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (string, error)
}

// Summarizer builds /stats/summary.
type Summarizer interface {
	Summary(ctx context.Context) (*stats.Summary, error)
}

// Config configures the server.
type Config struct {
	Pods     Pods
	Streamer Streamer
	// Metrics serves /metrics and Stats /stats/summary; nil leaves them out.
	Metrics  http.Handler
	Stats    Summarizer
	NodeName string
	// CertDir holds the self-signed serving certificate (created on first start).
	CertDir string
	// ClientCA (PEM) verifies client certificates.
	ClientCA            []byte
	AllowLocalAnonymous bool
	// Authorize, when set, decides each authenticated request (authz.go); nil
	// accepts every caller with a cluster-CA client certificate.
	Authorize AuthorizeFunc
	// AuthenticateToken, when set, accepts bearer tokens (a TokenReview to the
	// API server); nil: only client certificates authenticate.
	AuthenticateToken TokenFunc
}

// Server serves the kubelet API.
type Server struct {
	cfg       Config
	tls       *tls.Config
	handler   http.Handler
	decisions decisionCache
	tokens    tokenCache
}

// New loads or creates the serving certificate and builds the handler.
func New(cfg Config) (*Server, error) {
	cert, err := servingCert(cfg.CertDir, cfg.NodeName)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
	if len(cfg.ClientCA) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.ClientCA) {
			return nil, errors.New("kubelet server: bad client CA")
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	s := &Server{cfg: cfg, tls: tc}
	s.handler = s.authenticate(s.routes())
	return s, nil
}

// Handler is the authenticated handler (for tests that bring their own listener).
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves TLS on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.handler, TLSConfig: s.tls, ReadHeaderTimeout: 30 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	err := hs.ServeTLS(ln, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("GET /pods", s.servePods)
	if s.cfg.Metrics != nil {
		mux.Handle("GET /metrics", s.cfg.Metrics)
	}
	if s.cfg.Stats != nil {
		mux.HandleFunc("GET /stats/summary", s.serveSummary)
	}
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", s.serveLogs)
	mux.HandleFunc("/exec/{ns}/{pod}/{container}", s.serveExec)
	mux.HandleFunc("/attach/{ns}/{pod}/{container}", s.serveAttach)
	mux.HandleFunc("/portForward/{ns}/{pod}", s.servePortForward)
	return mux
}

func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
			leaf := r.TLS.PeerCertificates[0]
			u := &auth.User{Name: leaf.Subject.CommonName, Groups: append(append([]string{}, leaf.Subject.Organization...), auth.AuthenticatedGroup)}
			s.serveAs(w, r, u, next)
			return
		}
		if u, ok, err := s.tokenUser(r); ok || err != nil {
			if err != nil {
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			s.serveAs(w, r, u, next)
			return
		}
		if s.cfg.AllowLocalAnonymous && fromThisHost(r.RemoteAddr) {
			next.ServeHTTP(w, r)
			return
		}
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
	})
}

// fromThisHost: the remote address is loopback or one of our interface addresses.
func fromThisHost(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

func (s *Server) servePods(w http.ResponseWriter, r *http.Request) {
	list := corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}}
	for _, p := range s.cfg.Pods.Pods() {
		list.Items = append(list.Items, *p)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&list)
}

func (s *Server) serveSummary(w http.ResponseWriter, r *http.Request) {
	sum, err := s.cfg.Stats.Summary(r.Context())
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(sum)
}

func writeStatus(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	reason := metav1.StatusReasonBadRequest
	switch code {
	case http.StatusNotFound:
		reason = metav1.StatusReasonNotFound
	case http.StatusInternalServerError:
		reason = metav1.StatusReasonInternalError
	}
	_ = json.NewEncoder(w).Encode(&metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status: metav1.StatusFailure, Message: msg, Reason: reason, Code: int32(code)})
}

func boolParam(q url.Values, names ...string) bool {
	for _, n := range names {
		if v := q.Get(n); v == "1" || v == "true" {
			return true
		}
	}
	return false
}

func (s *Server) serveExec(w http.ResponseWriter, r *http.Request) {
	c, err := s.cfg.Pods.Container(r.Context(), r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"), false)
	if err != nil {
		writeStatus(w, http.StatusNotFound, err.Error())
		return
	}
	q := r.URL.Query()
	req := &runtimeapi.ExecRequest{ContainerId: c.Id, Cmd: q["command"], Tty: boolParam(q, "tty"),
		Stdin: boolParam(q, "input", "stdin"), Stdout: boolParam(q, "output", "stdout"), Stderr: boolParam(q, "error", "stderr")}
	if len(req.Cmd) == 0 {
		writeStatus(w, http.StatusBadRequest, "you must specify at least 1 command")
		return
	}
	u, err := s.cfg.Streamer.Exec(r.Context(), req)
	s.proxyStream(w, r, u, err)
}

func (s *Server) serveAttach(w http.ResponseWriter, r *http.Request) {
	c, err := s.cfg.Pods.Container(r.Context(), r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"), false)
	if err != nil {
		writeStatus(w, http.StatusNotFound, err.Error())
		return
	}
	q := r.URL.Query()
	u, err := s.cfg.Streamer.Attach(r.Context(), &runtimeapi.AttachRequest{ContainerId: c.Id, Tty: boolParam(q, "tty"),
		Stdin: boolParam(q, "input", "stdin"), Stdout: boolParam(q, "output", "stdout"), Stderr: boolParam(q, "error", "stderr")})
	s.proxyStream(w, r, u, err)
}

func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request) {
	id, err := s.cfg.Pods.SandboxID(r.Context(), r.PathValue("ns"), r.PathValue("pod"))
	if err != nil {
		writeStatus(w, http.StatusNotFound, err.Error())
		return
	}
	u, err := s.cfg.Streamer.PortForward(r.Context(), &runtimeapi.PortForwardRequest{PodSandboxId: id})
	s.proxyStream(w, r, u, err)
}

// proxyStream hands the client's upgrade request to the runtime's streaming server.
func (s *Server) proxyStream(w http.ResponseWriter, r *http.Request, rawURL string, err error) {
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, err.Error())
		return
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, err.Error())
		return
	}
	if u.Scheme == "" {
		u.Scheme = "http"
	}
	h := proxy.NewUpgradeAwareHandler(u, nil, false, true, responder{r.Context()})
	h.MaxBytesPerSec = 0
	h.ServeHTTP(w, r)
}

type responder struct{ ctx context.Context }

func (e responder) Error(w http.ResponseWriter, req *http.Request, err error) {
	klog.FromContext(e.ctx).Error(err, "streaming proxy")
	http.Error(w, err.Error(), http.StatusInternalServerError)
}
