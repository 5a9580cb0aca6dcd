package kubelet

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The methods below serve the kubelet server (logs, exec, attach, port-forward):
// they find runtime objects of a pod by the labels the workers put on them.

// Pods lists the pods bound to this node, as last seen from the API.
func (k *Kubelet) Pods() []*corev1.Pod {
	if k.pods == nil {
		return nil
	}
	var out []*corev1.Pod
	for _, obj := range k.pods.GetStore().List() {
		out = append(out, obj.(*corev1.Pod))
	}
	return out
}

// SandboxID is the ready sandbox of a pod.
func (k *Kubelet) SandboxID(ctx context.Context, namespace, name string) (string, error) {
	pod, err := k.podByName(namespace, name)
	if err != nil {
		return "", err
	}
	list, err := k.cfg.Runtime.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{
		LabelSelector: map[string]string{labelPodUID: string(pod.UID)},
		State:         &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}})
	if err != nil {
		return "", err
	}
	if len(list) == 0 {
		return "", fmt.Errorf("pod %s/%s has no running sandbox", namespace, name)
	}
	return list[0].Id, nil
}

// Container finds a container's newest attempt (or the one before it, for
// previous) and returns its runtime status, including the log path.
func (k *Kubelet) Container(ctx context.Context, namespace, name, container string, previous bool) (*runtimeapi.ContainerStatus, error) {
	pod, err := k.podByName(namespace, name)
	if err != nil {
		return nil, err
	}
	list, err := k.cfg.Runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{
		LabelSelector: map[string]string{labelPodUID: string(pod.UID), labelContainerName: container}})
	if err != nil {
		return nil, err
	}
	var all []*runtimeapi.ContainerStatus
	for _, c := range list {
		if st, err := k.cfg.Runtime.ContainerStatus(ctx, c.Id); err == nil {
			all = append(all, st)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].CreatedAt > all[j].CreatedAt })
	idx := 0
	if previous {
		idx = 1
	}
	if len(all) <= idx {
		if previous {
			return nil, fmt.Errorf("previous terminated container %q in pod %q not found", container, name)
		}
		return nil, fmt.Errorf("container %q in pod %q is waiting to start: ContainerCreating", container, name)
	}
	return all[idx], nil
}
