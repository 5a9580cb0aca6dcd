package kubelet

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Runtime is what the kubelet needs from a container runtime: the CRI's runtime and
// image services, in CRI types. The gRPC client in kubelet/cri implements it over a
// real runtime (containerd, CRI-O); internal/hollow implements it in memory for
// hollow nodes. Methods are safe for concurrent use.
type Runtime interface {
	Version(ctx context.Context) (*runtimeapi.VersionResponse, error)

	RunPodSandbox(ctx context.Context, cfg *runtimeapi.PodSandboxConfig) (string, error)
	StopPodSandbox(ctx context.Context, id string) error
	RemovePodSandbox(ctx context.Context, id string) error
	PodSandboxStatus(ctx context.Context, id string) (*runtimeapi.PodSandboxStatus, error)
	ListPodSandbox(ctx context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error)

	CreateContainer(ctx context.Context, sandboxID string, cfg *runtimeapi.ContainerConfig, sandbox *runtimeapi.PodSandboxConfig) (string, error)
	StartContainer(ctx context.Context, id string) error
	// StopContainer sends the stop signal and kills after timeout seconds.
	StopContainer(ctx context.Context, id string, timeout int64) error
	RemoveContainer(ctx context.Context, id string) error
	ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error)
	ContainerStatus(ctx context.Context, id string) (*runtimeapi.ContainerStatus, error)
	ExecSync(ctx context.Context, id string, cmd []string, timeoutSeconds int64) (*runtimeapi.ExecSyncResponse, error)

	ImageStatus(ctx context.Context, image string) (*runtimeapi.Image, error)
	PullImage(ctx context.Context, image string, auth *runtimeapi.AuthConfig, sandbox *runtimeapi.PodSandboxConfig) (string, error)
}

// Streamer serves interactive sessions: the runtime returns a URL of its own
// streaming server that the kubelet server proxies the client's upgrade to.
type Streamer interface {
	Exec(ctx context.Context, req *runtimeapi.ExecRequest) (string, error)
	Attach(ctx context.Context, req *runtimeapi.AttachRequest) (string, error)
	PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (string, error)
}

// PodCIDRUpdater is optionally implemented by runtimes that allocate pod IPs
// themselves (the CRI's UpdateRuntimeConfig): the kubelet tells them the node's
// spec.podCIDR once it is assigned. The in-memory runtime of hollow nodes uses it.
type PodCIDRUpdater interface {
	UpdatePodCIDR(ctx context.Context, cidr string) error
}

// StatsProvider is optionally implemented by runtimes that report resource usage
// (the CRI's ListContainerStats); without it /stats/summary reports zeros.
type StatsProvider interface {
	ListContainerStats(ctx context.Context, filter *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error)
}
