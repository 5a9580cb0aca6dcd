// Package testserver starts a real Skiff control plane in-process for integration
// tests: embedded etcd in a temp dir and the API server on a free loopback port,
// over TLS with real authentication. Clients get a rest.Config, like any client.
package testserver

import (
	"context"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/server"
)

// Server is a running test control plane.
type Server struct {
	// Config has full rights (system:masters); copy it before changing fields.
	Config *rest.Config
	// Kubeconfig is the admin kubeconfig file (client certificate auth).
	Kubeconfig string
	URL        string
	DataDir    string
	// Scheduler and ControllerManager are the in-process components'
	// identities (system:kube-scheduler, system:kube-controller-manager);
	// ControllerConfig(sa) is a controller's (kube-system service account sa).
	// Tests run components with these, as `skiff server` does, so RBAC applies.
	Scheduler, ControllerManager *rest.Config
	ControllerConfig             func(sa string) *rest.Config
	Client                       kubernetes.Interface
	cancel                       context.CancelFunc
	srv                          *server.Server
}

// Start runs a server for the test's lifetime; it stops at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, server.Options{})
}

// StartWith is Start with options (DataDir, BindAddress and HTTPSPort are filled in when empty).
func StartWith(t testing.TB, opts server.Options) *Server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.BindAddress == "" {
		opts.BindAddress = "127.0.0.1"
	}
	opts.DisableAgent = true
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.Start(ctx, opts)
	if err != nil {
		cancel()
		t.Fatalf("starting test server: %v", err)
	}
	cfg := rest.CopyConfig(srv.Loopback)
	cfg.Timeout = 30 * time.Second
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &Server{Config: cfg, Kubeconfig: srv.Kubeconfig, URL: srv.URL, DataDir: opts.DataDir, Client: client, cancel: cancel, srv: srv,
		Scheduler: srv.Scheduler, ControllerManager: srv.ControllerManager, ControllerConfig: srv.ControllerConfig}
	t.Cleanup(s.Stop)
	return s
}

// Stop shuts the server down and waits for it (idempotent).
func (s *Server) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	done := make(chan struct{})
	go func() { _ = s.srv.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
	}
}
