package kubelet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/klog/v2"
)

// Static pods: manifests in Config.PodManifestPath run on this node. Each is
// published as a mirror pod (name <pod>-<node>, annotation
// kubernetes.io/config.mirror) and the mirror pod, seen through the informer
// like any pod bound here, is what the pod worker runs. So, unlike upstream,
// static pods need the API server to run, and deleting a mirror pod restarts
// the static pod (the next scan recreates it) instead of leaving it running.
const (
	annotationMirror = "kubernetes.io/config.mirror"
	annotationSource = "kubernetes.io/config.source"
	annotationHash   = "kubernetes.io/config.hash"
)

// staticPod is one manifest's desired mirror pod.
type staticPod struct {
	pod  *corev1.Pod
	hash string
}

// syncStaticPods rescans the manifest directory every ManifestPeriod once the
// pod cache is synced, so mirror pods of deleted files are recognised as stale.
func (k *Kubelet) syncStaticPods(ctx context.Context) {
	select {
	case <-k.started:
	case <-ctx.Done():
		return
	}
	tick := time.NewTicker(k.cfg.ManifestPeriod)
	defer tick.Stop()
	for {
		k.staticOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (k *Kubelet) staticOnce(ctx context.Context) {
	logger := klog.FromContext(ctx)
	want := k.readManifests(logger)
	for key, sp := range want {
		k.ensureMirror(ctx, key, sp)
	}
	// Mirror pods whose manifest is gone (or changed name) stop: deleting them
	// lets the worker stop the containers and remove the object.
	for _, p := range k.Pods() {
		if p.Annotations[annotationSource] != "file" || p.Annotations[annotationMirror] == "" || p.DeletionTimestamp != nil {
			continue
		}
		if _, ok := want[p.Namespace+"/"+p.Name]; !ok {
			k.deleteMirror(ctx, p, "manifest removed")
		}
	}
}

func (k *Kubelet) ensureMirror(ctx context.Context, key string, sp staticPod) {
	logger := klog.FromContext(ctx)
	cur, err := k.podByName(sp.pod.Namespace, sp.pod.Name)
	if err != nil { // not in the cache: publish it
		_, err := k.cfg.Client.CoreV1().Pods(sp.pod.Namespace).Create(ctx, sp.pod, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			logger.Error(err, "creating mirror pod", "pod", key)
		} else if err == nil {
			logger.Info("static pod published", "pod", key)
		}
		return
	}
	if cur.Annotations[annotationMirror] == "" {
		logger.Error(nil, "static pod name taken by a pod that is not a mirror pod", "pod", key)
		return
	}
	if cur.Annotations[annotationMirror] != sp.hash && cur.DeletionTimestamp == nil {
		// The manifest changed: replace the pod (recreated once the old one is gone).
		k.deleteMirror(ctx, cur, "manifest changed")
	}
}

func (k *Kubelet) deleteMirror(ctx context.Context, p *corev1.Pod, why string) {
	err := k.cfg.Client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &p.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		klog.FromContext(ctx).Error(err, "deleting mirror pod", "pod", klog.KObj(p))
		return
	}
	klog.FromContext(ctx).Info("static pod stopping", "pod", klog.KObj(p), "reason", why)
}

// readManifests parses every *.yaml, *.yml and *.json file of the directory;
// unreadable or invalid files are logged and skipped (upstream does the same).
func (k *Kubelet) readManifests(logger klog.Logger) map[string]staticPod {
	out := map[string]staticPod{}
	entries, err := os.ReadDir(k.cfg.PodManifestPath)
	if err != nil {
		if !os.IsNotExist(err) {
			logger.Error(err, "reading pod manifest directory")
		}
		return out
	}
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			continue
		}
		path := filepath.Join(k.cfg.PodManifestPath, e.Name())
		sp, err := k.staticPodFrom(path)
		if err != nil {
			logger.Error(err, "invalid static pod manifest", "file", path)
			continue
		}
		out[sp.pod.Namespace+"/"+sp.pod.Name] = sp
	}
	return out
}

// staticPodFrom turns a manifest into its mirror pod: bound to this node,
// renamed <name>-<node>, annotated with the manifest's hash.
func (k *Kubelet) staticPodFrom(path string) (staticPod, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return staticPod{}, err
	}
	var pod corev1.Pod
	if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096).Decode(&pod); err != nil {
		return staticPod{}, err
	}
	if pod.Kind != "" && pod.Kind != "Pod" {
		return staticPod{}, fmt.Errorf("kind %q: only Pod manifests are static pods", pod.Kind)
	}
	if pod.Name == "" {
		return staticPod{}, fmt.Errorf("metadata.name is required")
	}
	sum := sha256.Sum256(append(append(data, 0), k.cfg.NodeName...))
	hash := hex.EncodeToString(sum[:16])
	pod.TypeMeta = metav1.TypeMeta{}
	pod.Name = pod.Name + "-" + k.cfg.NodeName
	if pod.Namespace == "" {
		pod.Namespace = metav1.NamespaceDefault
	}
	pod.UID, pod.ResourceVersion = "", ""
	pod.Spec.NodeName = k.cfg.NodeName
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[annotationMirror] = hash
	pod.Annotations[annotationHash] = hash
	pod.Annotations[annotationSource] = "file"
	pod.Status = corev1.PodStatus{}
	return staticPod{pod: &pod, hash: hash}, nil
}
