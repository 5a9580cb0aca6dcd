// Package volume prepares a pod's volumes on the node as directories under
// <pod dir>/volumes/<name>: emptyDir (disk or tmpfs), hostPath, and the
// API-sourced kinds (configMap, secret, downwardAPI, projected) written atomically
// so running containers see updates in place. The runtime bind-mounts the results.
package volume

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Source reads what API-sourced volumes contain; the kubelet implements it with
// its API client. Errors satisfying apierrors.IsNotFound honour `optional`.
type Source interface {
	ConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error)
	Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	// Token returns a service account token for the pod (TokenRequest).
	Token(ctx context.Context, pod *corev1.Pod, audience string, expirationSeconds int64) (string, error)
	// Field resolves a downward API fieldPath / resourceFieldRef for the pod.
	Field(pod *corev1.Pod, path string) (string, error)
	Resource(pod *corev1.Pod, container string, ref *corev1.ResourceFieldSelector) (string, error)
}

// Set is a pod's prepared volumes: volume name → host path.
type Set struct {
	Paths map[string]string
	dir   string
}

// Setup creates or refreshes every volume of pod under dir (<pod dir>/volumes).
// It is idempotent: called again, it rewrites API-sourced contents that changed.
func Setup(ctx context.Context, src Source, pod *corev1.Pod, dir string) (*Set, error) {
	s := &Set{Paths: map[string]string{}, dir: dir}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		path, err := setupOne(ctx, src, pod, v, filepath.Join(dir, v.Name))
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		s.Paths[v.Name] = path
	}
	return s, nil
}

func setupOne(ctx context.Context, src Source, pod *corev1.Pod, v *corev1.Volume, dir string) (string, error) {
	switch {
	case v.EmptyDir != nil:
		return dir, emptyDir(v.EmptyDir, dir)
	case v.HostPath != nil:
		return hostPath(v.HostPath)
	case v.ConfigMap != nil:
		files, err := configMapFiles(ctx, src, pod.Namespace, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional)
		if err != nil {
			return "", err
		}
		return dir, writeAtomic(dir, files, mode(v.ConfigMap.DefaultMode))
	case v.Secret != nil:
		files, err := secretFiles(ctx, src, pod.Namespace, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional)
		if err != nil {
			return "", err
		}
		return dir, writeAtomic(dir, files, mode(v.Secret.DefaultMode))
	case v.DownwardAPI != nil:
		files, err := downwardFiles(src, pod, v.DownwardAPI.Items)
		if err != nil {
			return "", err
		}
		return dir, writeAtomic(dir, files, mode(v.DownwardAPI.DefaultMode))
	case v.Projected != nil:
		files, err := projectedFiles(ctx, src, pod, v.Projected)
		if err != nil {
			return "", err
		}
		return dir, writeAtomic(dir, files, mode(v.Projected.DefaultMode))
	}
	return "", fmt.Errorf("unsupported volume type")
}

func mode(m *int32) os.FileMode {
	if m == nil {
		return 0o644
	}
	return os.FileMode(*m) & 0o777
}

// emptyDir is a plain directory, or a tmpfs (limited by sizeLimit) for medium Memory.
func emptyDir(e *corev1.EmptyDirVolumeSource, dir string) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		return err
	}
	if e.Medium != corev1.StorageMediumMemory || isMountPoint(dir) {
		return nil
	}
	opts := "mode=0777"
	if e.SizeLimit != nil && !e.SizeLimit.IsZero() {
		opts += ",size=" + strconv.FormatInt(e.SizeLimit.Value(), 10)
	}
	return syscall.Mount("tmpfs", dir, "tmpfs", 0, opts)
}

func hostPath(h *corev1.HostPathVolumeSource) (string, error) {
	t := corev1.HostPathUnset
	if h.Type != nil {
		t = *h.Type
	}
	fi, err := os.Stat(h.Path)
	switch t {
	case corev1.HostPathDirectoryOrCreate:
		if os.IsNotExist(err) {
			return h.Path, os.MkdirAll(h.Path, 0o755)
		}
	case corev1.HostPathFileOrCreate:
		if os.IsNotExist(err) {
			if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
				return "", err
			}
			f, err := os.OpenFile(h.Path, os.O_CREATE, 0o644)
			if err != nil {
				return "", err
			}
			return h.Path, f.Close()
		}
	case corev1.HostPathDirectory:
		if err != nil || !fi.IsDir() {
			return "", fmt.Errorf("hostPath type check failed: %s is not a directory", h.Path)
		}
	case corev1.HostPathFile:
		if err != nil || !fi.Mode().IsRegular() {
			return "", fmt.Errorf("hostPath type check failed: %s is not a file", h.Path)
		}
	case corev1.HostPathSocket:
		if err != nil || fi.Mode()&os.ModeSocket == 0 {
			return "", fmt.Errorf("hostPath type check failed: %s is not a socket file", h.Path)
		}
	}
	return h.Path, nil
}

type file struct {
	data []byte
	mode *int32
}

func configMapFiles(ctx context.Context, src Source, ns, name string, items []corev1.KeyToPath, optional *bool) (map[string]file, error) {
	cm, err := src.ConfigMap(ctx, ns, name)
	if err != nil {
		if apierrors.IsNotFound(err) && optional != nil && *optional {
			return map[string]file{}, nil
		}
		return nil, fmt.Errorf("configmap %q: %w", name, err)
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return pick(data, items, optional, "configmap "+name)
}

func secretFiles(ctx context.Context, src Source, ns, name string, items []corev1.KeyToPath, optional *bool) (map[string]file, error) {
	s, err := src.Secret(ctx, ns, name)
	if err != nil {
		if apierrors.IsNotFound(err) && optional != nil && *optional {
			return map[string]file{}, nil
		}
		return nil, fmt.Errorf("secret %q: %w", name, err)
	}
	return pick(s.Data, items, optional, "secret "+name)
}

// pick maps keys to file names: all keys, or only the listed items.
func pick(data map[string][]byte, items []corev1.KeyToPath, optional *bool, what string) (map[string]file, error) {
	out := map[string]file{}
	if len(items) == 0 {
		for k, v := range data {
			out[k] = file{data: v}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional != nil && *optional {
				continue
			}
			return nil, fmt.Errorf("%s has no key %q", what, it.Key)
		}
		out[it.Path] = file{data: v, mode: it.Mode}
	}
	return out, nil
}

func downwardFiles(src Source, pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile) (map[string]file, error) {
	out := map[string]file{}
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = src.Field(pod, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			v, err = src.Resource(pod, it.ResourceFieldRef.ContainerName, it.ResourceFieldRef)
		}
		if err != nil {
			return nil, err
		}
		out[it.Path] = file{data: []byte(v), mode: it.Mode}
	}
	return out, nil
}

func projectedFiles(ctx context.Context, src Source, pod *corev1.Pod, p *corev1.ProjectedVolumeSource) (map[string]file, error) {
	out := map[string]file{}
	merge := func(m map[string]file) {
		for k, v := range m {
			out[k] = v
		}
	}
	for _, s := range p.Sources {
		switch {
		case s.ConfigMap != nil:
			m, err := configMapFiles(ctx, src, pod.Namespace, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional)
			if err != nil {
				return nil, err
			}
			merge(m)
		case s.Secret != nil:
			m, err := secretFiles(ctx, src, pod.Namespace, s.Secret.Name, s.Secret.Items, s.Secret.Optional)
			if err != nil {
				return nil, err
			}
			merge(m)
		case s.DownwardAPI != nil:
			m, err := downwardFiles(src, pod, s.DownwardAPI.Items)
			if err != nil {
				return nil, err
			}
			merge(m)
		case s.ServiceAccountToken != nil:
			exp := int64(3600)
			if s.ServiceAccountToken.ExpirationSeconds != nil {
				exp = *s.ServiceAccountToken.ExpirationSeconds
			}
			tok, err := src.Token(ctx, pod, s.ServiceAccountToken.Audience, exp)
			if err != nil {
				return nil, fmt.Errorf("service account token: %w", err)
			}
			out[s.ServiceAccountToken.Path] = file{data: []byte(tok), mode: ptr(int32(0o600))}
		case s.ClusterTrustBundle != nil, s.PodCertificate != nil:
			// Not supported: skipped rather than failing the pod.
		}
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }

// writeAtomic publishes files the way upstream's AtomicWriter does: the content
// goes to a fresh timestamped directory, the ..data symlink is swapped to it in one
// rename, and each visible name is a symlink through ..data. Readers never see a
// half-written set.
func writeAtomic(dir string, files map[string]file, def os.FileMode) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if same(dir, files, def) {
		return nil
	}
	ts := "..data_" + strconv.FormatInt(time.Now().UnixNano(), 10)
	tsDir := filepath.Join(dir, ts)
	for name, f := range files {
		if strings.Contains(name, "..") || filepath.IsAbs(name) {
			return fmt.Errorf("invalid path %q", name)
		}
		p := filepath.Join(tsDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		m := def
		if f.mode != nil {
			m = os.FileMode(*f.mode) & 0o777
		}
		if err := os.WriteFile(p, f.data, m); err != nil {
			return err
		}
		if err := os.Chmod(p, m); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(tsDir, 0o755); err != nil {
		return err
	}
	tmpLink := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmpLink)
	if err := os.Symlink(ts, tmpLink); err != nil {
		return err
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	if err := os.Rename(tmpLink, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	// Top-level names point through ..data; stale names are removed.
	want := map[string]bool{}
	for name := range files {
		top := strings.SplitN(name, "/", 2)[0]
		want[top] = true
		link := filepath.Join(dir, top)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", top), link); err != nil {
			return err
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "..") && !want[e.Name()] {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	if old != "" && old != ts {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}

// same reports whether dir already holds exactly files (content only).
func same(dir string, files map[string]file, def os.FileMode) bool {
	data := filepath.Join(dir, "..data")
	if _, err := os.Stat(data); err != nil {
		return false
	}
	n := 0
	err := filepath.Walk(data+"/", func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		n++
		return nil
	})
	if err != nil || n != len(files) {
		return false
	}
	for name, f := range files {
		b, err := os.ReadFile(filepath.Join(data, name))
		if err != nil || string(b) != string(f.data) {
			return false
		}
	}
	return true
}

// Teardown unmounts tmpfs volumes and removes the pod's volume directories
// (hostPath volumes live elsewhere and are never touched).
func Teardown(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if isMountPoint(p) {
			if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil {
				return fmt.Errorf("unmount %s: %w", p, err)
			}
		}
	}
	return os.RemoveAll(dir)
}

// isMountPoint compares device numbers of dir and its parent.
func isMountPoint(dir string) bool {
	var a, b syscall.Stat_t
	if syscall.Lstat(dir, &a) != nil || syscall.Lstat(filepath.Dir(dir), &b) != nil {
		return false
	}
	return a.Dev != b.Dev
}
