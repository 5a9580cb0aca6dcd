package kubelet

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// imageFailure remembers a failed pull so retries back off (ImagePullBackOff).
type imageFailure struct {
	at    time.Time
	delay time.Duration
}

// ensureImage makes c's image present according to imagePullPolicy and returns the
// reference to create the container from. On failure the container's waiting
// reason is set (ErrImagePull, ImagePullBackOff, ErrImageNeverPull).
func (w *worker) ensureImage(ctx context.Context, c *corev1.Container, sandbox *runtimeapi.PodSandboxConfig) (string, error) {
	rt := w.k.cfg.Runtime
	policy := c.ImagePullPolicy
	if policy == "" {
		policy = corev1.PullIfNotPresent
		if !strings.Contains(lastSegment(c.Image), ":") || strings.HasSuffix(c.Image, ":latest") {
			policy = corev1.PullAlways
		}
	}
	if policy != corev1.PullAlways {
		img, err := rt.ImageStatus(ctx, c.Image)
		if err != nil {
			w.setWaiting(c.Name, "ErrImagePull", err.Error())
			return "", err
		}
		if img != nil {
			return img.Id, nil
		}
		if policy == corev1.PullNever {
			msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
			w.setWaiting(c.Name, "ErrImageNeverPull", msg)
			return "", fmt.Errorf("%s", msg)
		}
	}
	if f, ok := w.imageErr[c.Name]; ok && time.Since(f.at) < f.delay {
		w.setWaiting(c.Name, "ImagePullBackOff", fmt.Sprintf("Back-off pulling image %q", c.Image))
		return "", errWaiting
	}
	ref, err := rt.PullImage(ctx, c.Image, w.pullAuth(ctx, c.Image), sandbox)
	if err != nil {
		f := w.imageErr[c.Name]
		f.at, f.delay = time.Now(), min(max(2*f.delay, backoffInitial), backoffMax)
		w.imageErr[c.Name] = f
		w.setWaiting(c.Name, "ErrImagePull", fmt.Sprintf("failed to pull image %q: %v", c.Image, err))
		return "", err
	}
	delete(w.imageErr, c.Name)
	return ref, nil
}

func lastSegment(image string) string {
	if i := strings.LastIndex(image, "/"); i >= 0 {
		return image[i+1:]
	}
	return image
}

// pullAuth picks credentials for image from the pod's imagePullSecrets
// (kubernetes.io/dockerconfigjson or dockercfg), matching the registry host.
func (w *worker) pullAuth(ctx context.Context, image string) *runtimeapi.AuthConfig {
	host := "docker.io"
	if i := strings.Index(image, "/"); i > 0 && strings.ContainsAny(image[:i], ".:") {
		host = image[:i]
	}
	for _, ref := range w.pod.Spec.ImagePullSecrets {
		s, err := w.k.cfg.Client.CoreV1().Secrets(w.pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		var auths map[string]dockerAuth
		if b, ok := s.Data[corev1.DockerConfigJsonKey]; ok {
			var cfg struct {
				Auths map[string]dockerAuth `json:"auths"`
			}
			if json.Unmarshal(b, &cfg) == nil {
				auths = cfg.Auths
			}
		} else if b, ok := s.Data[corev1.DockerConfigKey]; ok {
			_ = json.Unmarshal(b, &auths)
		}
		for registry, a := range auths {
			r := strings.TrimPrefix(strings.TrimPrefix(registry, "https://"), "http://")
			r = strings.SplitN(r, "/", 2)[0]
			if r == host || (host == "docker.io" && strings.Contains(r, "docker.io")) {
				return a.cri(r)
			}
		}
	}
	return nil
}

type dockerAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"`
}

func (a dockerAuth) cri(server string) *runtimeapi.AuthConfig {
	user, pass := a.Username, a.Password
	if a.Auth != "" && user == "" {
		if b, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
			user, pass, _ = strings.Cut(string(b), ":")
		}
	}
	return &runtimeapi.AuthConfig{Username: user, Password: pass, ServerAddress: server}
}
