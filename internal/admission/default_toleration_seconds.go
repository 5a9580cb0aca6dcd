package admission

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/apis/defaults"
)

// DefaultTolerationSeconds lets a new pod tolerate a not-ready or unreachable node
// for 300 s unless it says otherwise (upstream's DefaultTolerationSeconds plugin).
type DefaultTolerationSeconds struct{}

func (DefaultTolerationSeconds) Name() string { return "DefaultTolerationSeconds" }

func (DefaultTolerationSeconds) Admit(_ context.Context, a *Attributes) error {
	if pod, ok := a.Object.(*corev1.Pod); ok && isPodCreate(a) {
		defaults.DefaultTolerations(pod)
	}
	return nil
}
