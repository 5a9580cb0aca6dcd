package kubelet

import (
	"context"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// listOnly is a Runtime that only lists containers (other methods panic).
type listOnly struct {
	Runtime
	containers []*runtimeapi.Container
}

func (r listOnly) ListContainers(context.Context, *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	return r.containers, nil
}

type withStats struct{ listOnly }

func (withStats) ListContainerStats(context.Context, *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error) {
	return []*runtimeapi.ContainerStats{{Attributes: &runtimeapi.ContainerAttributes{Id: "c1"},
		Cpu:    &runtimeapi.CpuUsage{UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: 42}},
		Memory: &runtimeapi.MemoryUsage{WorkingSetBytes: &runtimeapi.UInt64Value{Value: 4096}}}}, nil
}

func TestContainerUsage(t *testing.T) {
	lo := listOnly{containers: []*runtimeapi.Container{{Id: "c1", Labels: map[string]string{labelPodUID: "u", labelContainerName: "app"}}}}
	for _, tc := range []struct {
		name     string
		rt       Runtime
		cpu, mem uint64
	}{{"no stats: zeros", lo, 0, 0}, {"runtime stats", withStats{lo}, 42, 4096}} {
		k := &Kubelet{cfg: Config{NodeName: "n1", Runtime: tc.rt}}
		if _, err := k.Summary(context.Background()); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		usage := k.containerUsage(context.Background())
		cs := containerStats(lo.containers[0], usage["c1"])
		if cs.Name != "app" || cs.CPU.UsageCoreNanoSeconds != tc.cpu || cs.Memory.WorkingSetBytes != tc.mem {
			t.Errorf("%s: got %+v cpu=%+v mem=%+v", tc.name, cs, cs.CPU, cs.Memory)
		}
	}
}
