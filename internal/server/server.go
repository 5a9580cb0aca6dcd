// Package server composes `skiff server`: embedded (or external) etcd, the API
// server, and — talking to it only through the API like any client — the
// scheduler and the controller manager.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/authz"
	"github.com/skiff-sh/skiff/internal/etcd"
	"github.com/skiff-sh/skiff/internal/openapi"
)

// Options are `skiff server`'s flags.
type Options struct {
	DataDir      string
	BindAddress  string // "127.0.0.1" by default? no: 0.0.0.0 so agents can join
	HTTPSPort    int    // 6443; 0 picks a free port
	EtcdServers  []string
	EtcdCAFile   string
	EtcdCertFile string
	EtcdKeyFile  string
	ServiceCIDR  string
	TokenFile    string
	ExtraSANs    []string
	// AuthorizationModes is --authorization-mode; empty means authz.DefaultModes
	// (Node,RBAC). AlwaysAllow is only ever used when given explicitly.
	AuthorizationModes []string
	// Components to run in process besides the API server.
	DisableScheduler   bool
	DisableControllers bool
	DisableAgent       bool
	// KubeletPort is the local node's kubelet server port (10250 when zero).
	KubeletPort int
	// Node lifecycle timings of the in-process controller manager (zero: its
	// defaults, 5 s and 40 s); tests shorten them.
	NodeMonitorPeriod      time.Duration
	NodeMonitorGracePeriod time.Duration
	// ServiceAccountAdmission: see apiserver.Config. `skiff server` turns it on;
	// in-process test servers, which run no controllers, leave it off.
	ServiceAccountAdmission bool
}

// Server is a running control plane.
type Server struct {
	URL        string
	Kubeconfig string
	// Loopback is a client config with full rights (system:masters), for the
	// local node until it has a node identity, and for tests.
	Loopback *rest.Config
	// Scheduler and ControllerManager authenticate as system:kube-scheduler and
	// system:kube-controller-manager.
	Scheduler, ControllerManager *rest.Config
	done                         chan error
	ids                          *identities
}

// Components run beside the API server inside `skiff server`; each takes the
// client config of its own identity from the server and returns when ctx ends.
type Component func(ctx context.Context, s *Server) error

// Start brings up etcd and the API server, writes the admin kubeconfig and returns
// once the server answers. The server stops when ctx ends; Wait reports how.
func Start(ctx context.Context, opts Options) (*Server, error) {
	startPprof()
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, err
	}
	unlock, err := lockDataDir(opts.DataDir)
	if err != nil {
		return nil, err
	}
	serving := false
	defer func() {
		if !serving {
			unlock()
		}
	}()
	store, err := etcd.Start(ctx, etcd.Config{DataDir: filepath.Join(opts.DataDir, "etcd"), Servers: opts.EtcdServers,
		CAFile: opts.EtcdCAFile, CertFile: opts.EtcdCertFile, KeyFile: opts.EtcdKeyFile})
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	pki, err := auth.EnsurePKI(filepath.Join(opts.DataDir, "tls"), opts.ExtraSANs)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("certificates: %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(opts.BindAddress, strconv.Itoa(opts.HTTPSPort)))
	if err != nil {
		store.Close()
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	loopbackToken := randomToken()
	tokens, err := auth.LoadTokenIssuer(filepath.Join(opts.DataDir, "tls", "service-account.key"))
	if err != nil {
		ln.Close()
		store.Close()
		return nil, fmt.Errorf("service account key: %w", err)
	}
	ids := newIdentities()
	bootstrapTokens := &auth.BootstrapTokens{}
	authn, err := authenticator(pki, opts.TokenFile, loopbackToken, tokens, ids, bootstrapTokens)
	if err != nil {
		ln.Close()
		store.Close()
		return nil, err
	}
	kubeletCert, err := kubeletClientCert(pki)
	if err != nil {
		ln.Close()
		store.Close()
		return nil, err
	}
	modes := opts.AuthorizationModes
	if len(modes) == 0 {
		modes = authz.DefaultModes
	}
	// Anonymous requests are on, as upstream, unless everything is allowed
	// anyway (upstream refuses anonymous with AlwaysAllow for that reason).
	anonymous := !authz.HasMode(modes, authz.ModeAlwaysAllow)
	api, err := apiserver.New(ctx, apiserver.Config{
		Etcd: store.Client(), ServiceCIDR: opts.ServiceCIDR, Ready: store.Ready,
		Authenticate:       func(h http.Handler) http.Handler { return auth.MiddlewareWith(authn, anonymous, h) },
		AuthorizationModes: modes,
		OpenAPI:            openapi.New(catalog.Resources),
		AdvertiseAddress:   advertiseAddress(opts.BindAddress), AdvertisePort: port,
		Tokens: tokens, KubeletClientCert: kubeletCert,
		TokenAuthenticator:      authn,
		ServiceAccountAdmission: opts.ServiceAccountAdmission,
	})
	if err != nil {
		ln.Close()
		store.Close()
		return nil, err
	}
	tokens.Lookup = api.ServiceAccountUID
	bootstrapTokens.Lookup = api.BootstrapTokenSecret
	tlsConfig, err := pki.ServerTLSConfig()
	if err != nil {
		ln.Close()
		store.Close()
		return nil, err
	}
	s := &Server{URL: fmt.Sprintf("https://127.0.0.1:%d", port), Kubeconfig: filepath.Join(opts.DataDir, "kubeconfig"),
		done: make(chan error, 1), ids: ids}
	go func() {
		err := api.Serve(ctx, ln, tlsConfig)
		store.Close()
		unlock()
		s.done <- err
	}()
	serving = true // the serving goroutine releases the lock from here on
	if err := bootstrapWithRetry(ctx, api); err != nil {
		return nil, err
	}
	// In-process components start only once RBAC can see their bindings; a
	// server whose index lags still serves (components retry), it just says so.
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	if err := api.WaitAuthorizationReady(wctx); err != nil && ctx.Err() == nil {
		slog.Warn("RBAC index not ready after 30s; starting components anyway", "err", err)
	}
	wcancel()
	advertised := "https://" + net.JoinHostPort(advertiseAddress(opts.BindAddress).String(), strconv.Itoa(port))
	if err := api.PublishClusterInfo(ctx, advertised, pki.CACertPEM); err != nil {
		return nil, fmt.Errorf("cluster-info: %w", err)
	}
	if err := auth.WriteKubeconfig(s.Kubeconfig, s.URL, pki.CACertPEM, mustRead(pki.AdminCertFile), mustRead(pki.AdminKeyFile)); err != nil {
		return nil, err
	}
	s.Loopback = &rest.Config{Host: s.URL, BearerToken: loopbackToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: pki.CACertPEM}, QPS: 5000, Burst: 10000}
	s.Scheduler = withToken(s.Loopback, ids.scheduler)
	s.ControllerManager = withToken(s.Loopback, ids.controllers)
	return s, nil
}

// ControllerConfig is the client config of the controller that runs as
// kube-system service account sa, or nil if the policy has no such controller.
func (s *Server) ControllerConfig(sa string) *rest.Config {
	t, ok := s.ids.perSA[sa]
	if !ok {
		return nil
	}
	return withToken(s.Loopback, t)
}

// Wait blocks until the API server has stopped.
func (s *Server) Wait() error { return <-s.done }

func bootstrapWithRetry(ctx context.Context, api *apiserver.Server) error {
	var err error
	for i := 0; i < 50; i++ {
		if err = api.Bootstrap(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return err
}

func authenticator(pki *auth.PKI, tokenFile, loopbackToken string, tokens *auth.TokenIssuer, ids *identities, bootstrap *auth.BootstrapTokens) (auth.Authenticator, error) {
	static := map[string]*auth.User{loopbackToken: {Name: "system:apiserver", Groups: []string{"system:masters"}}}
	for t, u := range ids.tokens {
		static[t] = u
	}
	auths := []auth.Authenticator{
		auth.NewX509(pki.CAPool()),
		tokens,
		bootstrap,
		auth.NewStaticTokens(static),
	}
	if tokenFile != "" {
		tf, err := auth.NewTokenFile(tokenFile)
		if err != nil {
			return nil, err
		}
		auths = append(auths, tf)
	}
	return auth.Union(auths...), nil
}

func advertiseAddress(bind string) net.IP {
	if ip := net.ParseIP(bind); ip != nil && !ip.IsUnspecified() {
		return ip
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP
		}
	}
	return net.ParseIP("127.0.0.1")
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func mustRead(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

// KubeletClientUser is the API server's identity towards kubelets. It is not in
// system:masters: kubelets authorize it (nodes/proxy, log, stats, metrics) through a
// SubjectAccessReview, which RBAC answers via its binding to system:kubelet-api-admin.
const KubeletClientUser = "kube-apiserver-kubelet-client"

// kubeletClientCert issues the certificate the API server shows kubelets (a fresh one
// each start: it never leaves this process).
func kubeletClientCert(pki *auth.PKI) (*tls.Certificate, error) {
	certPEM, keyPEM, err := pki.IssueClientCert(KubeletClientUser, nil, 365*24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("kubelet client certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return &cert, nil
}
