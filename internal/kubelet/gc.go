package kubelet

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/kubelet/volume"
)

// gcPeriod is how often runtime objects without a pod are looked for.
const gcPeriod = 30 * time.Second

// collectGarbage removes sandboxes (with their containers), volumes and logs of
// pods that neither the API nor a worker knows: pods deleted while the kubelet was
// down, or force-deleted ones whose worker never started.
func (k *Kubelet) collectGarbage(ctx context.Context) {
	<-k.started
	t := time.NewTicker(gcPeriod)
	defer t.Stop()
	for {
		k.collectOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (k *Kubelet) collectOnce(ctx context.Context) {
	logger := klog.FromContext(ctx)
	active, err := k.activeUIDs(ctx)
	if err != nil {
		return
	}
	known := func(uid string) bool {
		if active[types.UID(uid)] {
			return true
		}
		for _, obj := range k.pods.GetStore().List() {
			if p, ok := obj.(interface{ GetUID() types.UID }); ok && string(p.GetUID()) == uid {
				return true
			}
		}
		return false
	}
	sandboxes, err := k.cfg.Runtime.ListPodSandbox(ctx, nil)
	if err != nil {
		return
	}
	for _, s := range sandboxes {
		uid := s.GetMetadata().GetUid()
		if uid == "" || known(uid) {
			continue
		}
		logger.Info("removing orphaned sandbox", "id", s.Id, "pod", s.GetMetadata().GetNamespace()+"/"+s.GetMetadata().GetName())
		k.removeSandbox(ctx, s)
	}
	if k.cfg.NoDisk {
		return
	}
	podsDir := filepath.Join(k.cfg.RootDir, "pods")
	entries, _ := os.ReadDir(podsDir)
	for _, e := range entries {
		if !known(e.Name()) {
			if err := volume.Teardown(filepath.Join(podsDir, e.Name(), "volumes")); err == nil {
				_ = os.RemoveAll(filepath.Join(podsDir, e.Name()))
			}
		}
	}
}

func (k *Kubelet) removeSandbox(ctx context.Context, s *runtimeapi.PodSandbox) {
	containers, _ := k.cfg.Runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{PodSandboxId: s.Id})
	for _, c := range containers {
		if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			_ = k.cfg.Runtime.StopContainer(ctx, c.Id, 2)
		}
	}
	_ = k.cfg.Runtime.StopPodSandbox(ctx, s.Id)
	_ = k.cfg.Runtime.RemovePodSandbox(ctx, s.Id)
}

func removeAll(dir string) error { return os.RemoveAll(dir) }
