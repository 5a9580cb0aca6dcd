package kubelet

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/kubelet/stats"
)

// Summary is /stats/summary: this node's pods with their running containers and
// the CPU/memory the runtime reports for them (zeros when it reports nothing).
func (k *Kubelet) Summary(ctx context.Context) (*stats.Summary, error) {
	running, err := k.cfg.Runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{
		State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}})
	if err != nil {
		return nil, err
	}
	usage := k.containerUsage(ctx)
	byPod := map[string][]stats.ContainerStats{}
	for _, c := range running {
		uid := c.Labels[labelPodUID]
		byPod[uid] = append(byPod[uid], containerStats(c, usage[c.Id]))
	}
	sum := &stats.Summary{Node: stats.NodeStats{NodeName: k.cfg.NodeName, StartTime: k.startTime}, Pods: []stats.PodStats{}}
	for _, p := range k.Pods() {
		sum.Pods = append(sum.Pods, podStats(p, byPod[string(p.UID)]))
	}
	return sum, nil
}

// containerUsage maps container IDs to the runtime's stats; runtimes without
// stats (hollow nodes) or a failing call give an empty map, hence zeros.
func (k *Kubelet) containerUsage(ctx context.Context) map[string]*runtimeapi.ContainerStats {
	out := map[string]*runtimeapi.ContainerStats{}
	sp, ok := k.cfg.Runtime.(StatsProvider)
	if !ok {
		return out
	}
	list, err := sp.ListContainerStats(ctx, &runtimeapi.ContainerStatsFilter{})
	if err != nil {
		return out
	}
	for _, s := range list {
		out[s.GetAttributes().GetId()] = s
	}
	return out
}

func podStats(p *corev1.Pod, containers []stats.ContainerStats) stats.PodStats {
	ps := stats.PodStats{PodRef: stats.PodReference{Name: p.Name, Namespace: p.Namespace, UID: string(p.UID)},
		Containers: containers}
	if p.Status.StartTime != nil {
		ps.StartTime = *p.Status.StartTime
	}
	if ps.Containers == nil {
		ps.Containers = []stats.ContainerStats{}
	}
	return ps
}

func containerStats(c *runtimeapi.Container, s *runtimeapi.ContainerStats) stats.ContainerStats {
	now := metav1.Now()
	cs := stats.ContainerStats{Name: c.Labels[labelContainerName], StartTime: metav1.NewTime(time.Unix(0, c.CreatedAt)),
		CPU: &stats.CPUStats{Time: now}, Memory: &stats.MemStats{Time: now}}
	if cpu := s.GetCpu(); cpu != nil {
		cs.CPU.UsageCoreNanoSeconds = cpu.GetUsageCoreNanoSeconds().GetValue()
		if cpu.Timestamp != 0 {
			cs.CPU.Time = metav1.NewTime(time.Unix(0, cpu.Timestamp))
		}
	}
	if mem := s.GetMemory(); mem != nil {
		cs.Memory.WorkingSetBytes = mem.GetWorkingSetBytes().GetValue()
		if mem.Timestamp != 0 {
			cs.Memory.Time = metav1.NewTime(time.Unix(0, mem.Timestamp))
		}
	}
	return cs
}
