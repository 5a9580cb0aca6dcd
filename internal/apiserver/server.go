// Package apiserver is Skiff's kube-apiserver: the cluster's only door. It
// authenticates each request, decodes and validates the body, writes to etcd
// through internal/storage and only then answers. No other component touches etcd.
package apiserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/admission"
	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/registry"
	"github.com/skiff-sh/skiff/internal/storage"
)

// Config is everything the API server needs from its caller.
type Config struct {
	Etcd *clientv3.Client
	// Prefix of every key in etcd ("/registry").
	Prefix string
	// ServiceCIDR is the range ClusterIPs come from (10.43.0.0/16).
	ServiceCIDR string
	// NodePortMin/Max bound NodePort allocation (30000-32767).
	NodePortMin, NodePortMax int
	// Authenticate wraps the handler with authentication; nil serves unauthenticated
	// (only in-process unit tests do that).
	Authenticate func(http.Handler) http.Handler
	// OpenAPI serves /openapi/v2 and /openapi/v3 (nil: 404).
	OpenAPI http.Handler
	// Ready checks the storage backend for /readyz.
	Ready func(ctx context.Context) error
	// CompactInterval is how often old etcd revisions are compacted (0: 5 minutes; <0: never).
	CompactInterval time.Duration
	// WatchCacheSize is the number of recent events each resource keeps for watches.
	WatchCacheSize int
	// AdvertiseAddress is the address of this server, used for the default/kubernetes endpoints.
	AdvertiseAddress net.IP
	AdvertisePort    int
	// KubeletClientCert is presented to kubelets when proxying logs, exec, attach
	// and port-forward.
	KubeletClientCert *tls.Certificate
	// Tokens issues service account tokens (serviceaccounts/token); nil: 404.
	Tokens *auth.TokenIssuer
	// AuthorizationModes is --authorization-mode (Node, RBAC, AlwaysAllow,
	// AlwaysDeny, asked in order after the system:masters bypass). Empty means
	// no authorization at all, which only in-process unit tests use.
	AuthorizationModes []string
	// TokenAuthenticator answers TokenReviews (bearer tokens only); nil: every
	// review answers "not authenticated".
	TokenAuthenticator auth.Authenticator
	// DisableManagedFields turns off metadata.managedFields tracking on writes
	// (server-side apply still works; it starts tracking from the first apply).
	DisableManagedFields bool
	// Admission builds the admission chain from a reader of the server's objects
	// (nil: admission.Default, or admission.WithServiceAccountTokens with
	// ServiceAccountAdmission).
	Admission func(admission.Reader) admission.Chain
	// RepairInterval is how often Service IP and NodePort claims are checked against
	// the Services (0: 3 minutes; <0: never).
	RepairInterval time.Duration
	// ServiceAccountAdmission runs upstream's ServiceAccount admission on pods:
	// a pod naming a missing ServiceAccount is refused, the others get the token
	// volume. Off where nothing creates ServiceAccounts (servers without the
	// controllers, such as in-process test servers).
	ServiceAccountAdmission bool
}

// Server is a running API server.
type Server struct {
	cfg       Config
	resources []catalog.Resource
	stores    map[schema.GroupResource]storage.Interface
	// registry holds each stored resource's strategy; admission is the plugin chain.
	registry  *registry.Registry
	admission admission.Chain
	disc      *discovery
	// custom is the resources served from established CustomResourceDefinitions (crd.go).
	custom   *customResources
	handler  http.Handler
	kubelets *http.Transport
	authz    *authorization
	// shutdown is closed when the server starts stopping; open watches end on it.
	shutdown chan struct{}
}

// New connects the stores (starting one watch cache per resource) and builds the handler.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "/registry"
	}
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = "10.43.0.0/16"
	}
	if cfg.NodePortMin == 0 {
		cfg.NodePortMin, cfg.NodePortMax = 30000, 32767
	}
	s := &Server{cfg: cfg, resources: catalog.Resources, stores: map[schema.GroupResource]storage.Interface{},
		shutdown: make(chan struct{}), kubelets: newKubeletTransport(cfg.KubeletClientCert)}
	s.custom = newCustomResources()
	s.disc = &discovery{resources: s.allResources}
	reg, err := registry.New(s.resources, registry.Options{Prefix: cfg.Prefix, ServiceCIDR: cfg.ServiceCIDR,
		NodePortMin: cfg.NodePortMin, NodePortMax: cfg.NodePortMax})
	if err != nil {
		return nil, err
	}
	s.registry = reg
	if cfg.Admission == nil {
		cfg.Admission = admission.Default
		if cfg.ServiceAccountAdmission {
			cfg.Admission = admission.WithServiceAccountTokens
		}
	}
	// RBAC's escalation check needs the authorizer, so the server adds it last.
	s.admission = append(cfg.Admission(cacheReader{s}), rbacEscalation{s})
	for i := range s.resources {
		r := &s.resources[i]
		if !r.HasVerb("list") {
			continue // bindings and reviews: create-only, never stored
		}
		strategy := reg.For(r.GroupResource())
		st, err := storage.New(ctx, storage.Config{
			Client: cfg.Etcd, Prefix: s.storagePrefix(r), Resource: r.GroupResource(),
			NewFunc: r.New, Codec: storageCodec(r.GVK()), WatchCacheSize: cfg.WatchCacheSize,
			DeleteOnUpdate: func(obj runtime.Object) bool { return shouldDelete(strategy, obj) },
			Effects:        strategy.Allocate,
		})
		if err != nil {
			return nil, fmt.Errorf("storage for %s: %w", r.GroupResource(), err)
		}
		s.stores[r.GroupResource()] = st
	}
	if err := s.setupAuthorization(ctx); err != nil {
		return nil, err
	}
	s.handler = s.buildHandler()
	go s.runCRDController(ctx) // serves custom resources as CRDs are established
	if svcs := reg.Services(); svcs != nil && cfg.RepairInterval >= 0 {
		interval := cfg.RepairInterval
		if interval == 0 {
			interval = 3 * time.Minute
		}
		go s.repairLoop(ctx, svcs, interval)
	}
	if cfg.CompactInterval >= 0 {
		interval := cfg.CompactInterval
		if interval == 0 {
			interval = 5 * time.Minute
		}
		storage.StartCompactor(ctx, cfg.Etcd, interval)
	}
	return s, nil
}

// storagePrefix is /registry/<resource>/; a resource name served by two groups
// (core and events.k8s.io events) keeps the non-core one under its group.
func (s *Server) storagePrefix(r *catalog.Resource) string {
	if isCustom(r) {
		return customPrefix(s.cfg.Prefix, r.GroupResource())
	}
	if r.Group != "" {
		for _, o := range s.resources {
			if o.Group == "" && o.Resource == r.Resource {
				return s.cfg.Prefix + "/" + r.Group + "/" + r.Resource + "/"
			}
		}
	}
	return s.cfg.Prefix + "/" + r.Resource + "/"
}

// strategy is the strategy of the resource a request names (nil for create-only
// resources, which are never stored).
func (s *Server) strategy(ri requestInfo) *registry.Strategy {
	if isCustom(ri.res) {
		return s.custom.strategy(ri.res)
	}
	return s.registry.For(ri.res.GroupResource())
}

// Handler is the server's full HTTP handler (authentication included).
func (s *Server) Handler() http.Handler { return s.handler }

// Bootstrap creates what every cluster has: the system namespaces, the default/kubernetes
// Service and the built-in priority classes. It is idempotent.
func (s *Server) Bootstrap(ctx context.Context) error {
	return s.bootstrap(ctx)
}

// Serve serves HTTPS on ln until ctx ends, then shuts down gracefully: open watches
// are closed cleanly and in-flight requests finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    1 << 20,
		TLSConfig:         tlsConfig,
		ErrorLog:          quietLogger(),
	}
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.Serve(tls.NewListener(ln, tlsConfig))
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	close(s.shutdown)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		_ = srv.Close()
		err = nil
	}
	return err
}
