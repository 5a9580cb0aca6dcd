package apiserver

import (
	"context"
	"sync"
	"time"

	"github.com/skiff-sh/skiff/internal/authz"
)

// authorization is the server's authorization state: the chain requests are
// checked against, and the RBAC index it (and the reviews) read.
type authorization struct {
	chain authz.Authorizer // nil: no authorization (in-process unit tests only)
	rbac  *authz.RBAC
	index *authz.RBACIndex

	mu     sync.Mutex
	synced map[string]bool
	ready  chan struct{} // closed once every RBAC kind has been listed
}

// setupAuthorization builds the --authorization-mode chain and starts feeding
// the RBAC index. The index is kept even when RBAC is not a mode, so the
// reviews and the escalation check can still describe rules.
func (s *Server) setupAuthorization(ctx context.Context) error {
	s.authz = &authorization{index: authz.NewRBACIndex(), synced: map[string]bool{}, ready: make(chan struct{})}
	s.authz.rbac = authz.NewRBAC(s.authz.index)
	s.feedRBAC(ctx, s.authz.index)
	if len(s.cfg.AuthorizationModes) == 0 {
		return nil
	}
	graph := authz.NewNodeGraph()
	s.feedNodeGraph(ctx, graph)
	chain, err := authz.Chain(s.cfg.AuthorizationModes, map[string]authz.Authorizer{
		authz.ModeRBAC: s.authz.rbac,
		authz.ModeNode: authz.NewNode(graph),
	})
	if err != nil {
		return err
	}
	s.authz.chain = chain
	return nil
}

// rbacSynced records that one RBAC kind has been listed into the index.
func (s *Server) rbacSynced(kind string) {
	a := s.authz
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.synced[kind] {
		return
	}
	a.synced[kind] = true
	if len(a.synced) == len(rbacResources) {
		close(a.ready)
	}
}

// authorizer is what requests and reviews are checked against: the chain, or
// allow-all when the server runs without authorization.
func (s *Server) authorizer() authz.Authorizer {
	if s.authz.chain == nil {
		return authz.AlwaysAllow
	}
	return s.authz.chain
}

// RBACIndex is the index the RBAC authorizer reads (for the server's bootstrap
// and for tests).
func (s *Server) RBACIndex() *authz.RBACIndex { return s.authz.index }

// WaitAuthorizationReady blocks until the RBAC index has listed every RBAC
// kind and sees the bootstrap bindings (call it after Bootstrap), so
// in-process components are not refused while it fills.
func (s *Server) WaitAuthorizationReady(ctx context.Context) error {
	select {
	case <-s.authz.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !s.rbacBootstrapVisible() {
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
