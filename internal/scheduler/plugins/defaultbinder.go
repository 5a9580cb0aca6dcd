package plugins

import (
	"context"
	"encoding/json"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// DefaultBinderName is the plugin's name.
const DefaultBinderName = "DefaultBinder"

// DefaultBinder binds through POST pods/<name>/binding: the API server sets
// spec.nodeName, the only way the scheduler "places" a pod.
type DefaultBinder struct{ h framework.Handle }

// NewDefaultBinder is the plugin factory.
func NewDefaultBinder(_ json.RawMessage, h framework.Handle) (framework.Plugin, error) {
	return DefaultBinder{h}, nil
}

func (DefaultBinder) Name() string { return DefaultBinderName }

func (b DefaultBinder) Bind(ctx context.Context, _ *framework.CycleState, pod *v1.Pod, node string) *framework.Status {
	binding := &v1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     v1.ObjectReference{Kind: "Node", Name: node},
	}
	if err := b.h.ClientSet().CoreV1().Pods(pod.Namespace).Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
		return framework.AsStatus(err)
	}
	return nil
}
