package apiserver

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/auth"
)

// BootstrapTokenSecret reads a kube-system Secret for the bootstrap-token
// authenticator (its Lookup), from the watch cache with a quorum-read fallback,
// so a token created a moment ago already authenticates.
func (s *Server) BootstrapTokenSecret(name string) (*corev1.Secret, bool) {
	ri := requestInfo{namespace: auth.BootstrapTokenNamespace, res: catalogSecrets()}
	obj, err := s.getCached(context.Background(), ri.res.GroupResource(), s.key(ri, name))
	if err != nil {
		return nil, false
	}
	sec, ok := obj.(*corev1.Secret)
	return sec, ok
}

func catalogSecrets() *catalog.Resource { return catalog.Lookup("", "v1", "secrets") }
