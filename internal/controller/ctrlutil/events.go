package ctrlutil

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// StartEvents builds a broadcaster that writes core/v1 Events through client
// and returns a recorder factory. The broadcaster stops when ctx ends.
func StartEvents(ctx context.Context, client kubernetes.Interface) func(component string) record.EventRecorder {
	b := record.NewBroadcaster(record.WithContext(ctx))
	b.StartStructuredLogging(3)
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	go func() {
		<-ctx.Done()
		b.Shutdown()
	}()
	return func(component string) record.EventRecorder {
		return b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
	}
}
