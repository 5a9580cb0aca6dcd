package apiserver

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/authz"
)

// feedNodeGraph keeps the Node authorizer's graph (which node's pods use which
// Secrets, ConfigMaps, claims and service accounts) current from the pods
// store's watch cache, so a node's request is decided by map lookups.
func (s *Server) feedNodeGraph(ctx context.Context, g *authz.NodeGraph) {
	go s.feed(ctx, catalogPods(), podGraphSink{g}, nil)
}

type podGraphSink struct{ g *authz.NodeGraph }

func (p podGraphSink) Replace(objs []runtime.Object) {
	pods := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if pod, ok := o.(*corev1.Pod); ok {
			pods = append(pods, pod)
		}
	}
	p.g.ReplacePods(pods)
}

func (p podGraphSink) Set(obj runtime.Object) {
	if pod, ok := obj.(*corev1.Pod); ok {
		p.g.SetPod(pod)
	}
}

func (p podGraphSink) Remove(obj runtime.Object) {
	if pod, ok := obj.(*corev1.Pod); ok {
		p.g.DeletePod(pod.Namespace, pod.Name)
	}
}
