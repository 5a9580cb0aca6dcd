package apiserver

import (
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// serveNodeProxy answers pods/log, exec, attach and portforward until a kubelet
// serves them: a clear 503 Status, never a hang.
func (s *Server) serveNodeProxy(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	obj, err := s.store(ri).Get(r.Context(), s.key(ri, ri.name), "")
	if err != nil {
		writeError(w, err)
		return
	}
	pod := obj.(*corev1.Pod)
	if pod.Spec.NodeName == "" {
		writeError(w, apierrors.NewBadRequest("pod "+pod.Name+" does not have a host assigned"))
		return
	}
	writeError(w, apierrors.NewServiceUnavailable("the kubelet of node "+pod.Spec.NodeName+" cannot be reached for "+ri.subresource))
}
