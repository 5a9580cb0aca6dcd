package apiserver

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/admission"
	"github.com/skiff-sh/skiff/internal/auth"
)

// admit runs the configured admission chain (Config.Admission: mutating plugins,
// then validating ones) on a create, update or delete. obj is nil for a delete;
// old is nil for a create. Requests the server makes itself carry no user and
// are admitted as they are by plugins that judge users (NodeRestriction).
func (s *Server) admit(ctx context.Context, op admission.Operation, ri requestInfo, obj, old runtime.Object) error {
	if len(s.cfg.Admission) == 0 {
		return nil
	}
	a := &admission.Attributes{Operation: op, Resource: ri.res.GroupVersionResource, Subresource: ri.subresource,
		Kind: ri.res.GVK(), Namespace: ri.namespace, Name: ri.name, Object: obj, OldObject: old}
	if a.Name == "" && obj != nil {
		if m, err := metaAccessor(obj); err == nil {
			a.Name = m.Name
		}
	}
	if u, ok := auth.UserFrom(ctx); ok {
		a.User = u
	}
	if err := s.cfg.Admission.Admit(ctx, a); err != nil {
		return err
	}
	return s.cfg.Admission.Validate(ctx, a)
}
