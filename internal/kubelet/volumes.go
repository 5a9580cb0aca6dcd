package kubelet

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/kubelet/volume"
)

// podVolumes is the pod's prepared volume set and when it was last refreshed.
type podVolumes struct {
	set       *volume.Set
	refreshed time.Time
}

func (v *podVolumes) path(name string) (string, bool) {
	if v == nil || v.set == nil {
		return "", false
	}
	p, ok := v.set.Paths[name]
	return p, ok
}

// volumeRefresh is how often configMap/secret/projected contents are re-read, so
// running pods see updates in place (upstream's sync is ~1 min as well).
const volumeRefresh = time.Minute

func (w *worker) ensureVolumes(ctx context.Context) error {
	if w.volumes != nil && time.Since(w.volumes.refreshed) < volumeRefresh {
		return nil
	}
	if w.k.cfg.NoDisk {
		w.volumes = &podVolumes{refreshed: time.Now()}
		return nil
	}
	set, err := volume.Setup(ctx, apiSource{w.k}, w.pod, filepath.Join(w.podDir(), "volumes"))
	if err != nil {
		return err
	}
	w.volumes = &podVolumes{set: set, refreshed: time.Now()}
	return nil
}

func (w *worker) teardownVolumes() error {
	if w.k.cfg.NoDisk {
		w.volumes = nil
		return nil
	}
	if err := volume.Teardown(filepath.Join(w.podDir(), "volumes")); err != nil {
		return err
	}
	w.volumes = nil
	return removeAll(w.podDir())
}

// apiSource reads volume contents through the API, as the pod's node.
type apiSource struct{ k *Kubelet }

func (s apiSource) ConfigMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	return s.k.cfg.Client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
}

func (s apiSource) Secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	return s.k.cfg.Client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
}

func (s apiSource) Token(ctx context.Context, pod *corev1.Pod, audience string, exp int64) (string, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &exp,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if audience != "" {
		req.Spec.Audiences = []string{audience}
	}
	tr, err := s.k.cfg.Client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		// Without TokenRequest support the pod still starts, with an empty token:
		// in-cluster clients then fail authentication visibly instead of the pod
		// never starting.
		return "", nil
	}
	return tr.Status.Token, nil
}

func (s apiSource) Field(pod *corev1.Pod, path string) (string, error) {
	return fieldValue(pod, path, s.k.nodeIP.String(), pod.Status.PodIP)
}

func (s apiSource) Resource(pod *corev1.Pod, container string, ref *corev1.ResourceFieldSelector) (string, error) {
	for i := range pod.Spec.Containers {
		if c := &pod.Spec.Containers[i]; c.Name == container || container == "" {
			return resourceValue(c, ref, s.k.memoryCapacity(), s.k.cpuCapacity())
		}
	}
	return "", fmt.Errorf("container %q not found", container)
}
