package hollow

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/kubelet"
)

// Runtime is an in-memory CRI runtime: sandboxes and containers are records that
// "run" as soon as they are started (a sandbox takes StartDelay to come up, as
// pulling the pause image and CNI would), honour stop and remove, and report
// statuses shaped like containerd's. Pod IPs come from the node's podCIDR once the
// kubelet passes it (UpdatePodCIDR), else from a process-wide counter. Every image
// is present. One mutex guards the maps: calls are short and never block on I/O.
type Runtime struct {
	StartDelay time.Duration

	mu         sync.Mutex
	sandboxes  map[string]*sandbox
	containers map[string]*container
	cidr       *net.IPNet
	usedIPs    map[string]bool
	nextID     uint64
}

type sandbox struct {
	id      string
	cfg     *runtimeapi.PodSandboxConfig
	state   runtimeapi.PodSandboxState
	created int64
	ip      string
}

type container struct {
	id       string
	sandbox  string
	cfg      *runtimeapi.ContainerConfig
	state    runtimeapi.ContainerState
	created  int64
	started  int64
	finished int64
	exitCode int32
	reason   string
}

var _ kubelet.Runtime = (*Runtime)(nil)
var _ kubelet.PodCIDRUpdater = (*Runtime)(nil)

// NewRuntime returns an empty runtime whose sandboxes take startDelay to start.
func NewRuntime(startDelay time.Duration) *Runtime {
	return &Runtime{StartDelay: startDelay, sandboxes: map[string]*sandbox{},
		containers: map[string]*container{}, usedIPs: map[string]bool{}}
}

// fallbackIPs numbers pods of nodes without a podCIDR, across every hollow node
// of the process, inside 100.64.0.0/10 (shared address space, never routed here).
var fallbackIPs atomic.Uint32

func (r *Runtime) newID() string {
	r.nextID++
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], r.nextID)
	sum := sha256.Sum256(append(b[:], fmt.Sprintf("%p", r)...))
	return hex.EncodeToString(sum[:])
}

// Version names the runtime "hollow" in node status (containerRuntimeVersion).
func (r *Runtime) Version(context.Context) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{Version: "0.1.0", RuntimeName: "hollow", RuntimeVersion: "0.1.0", RuntimeApiVersion: "v1"}, nil
}

// UpdatePodCIDR is the CRI's UpdateRuntimeConfig: later sandboxes get IPs from cidr.
func (r *Runtime) UpdatePodCIDR(_ context.Context, cidr string) error {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.cidr = n
	r.mu.Unlock()
	return nil
}

// allocateIP picks the first free host address of the podCIDR (skipping the
// network and gateway addresses, as the bridge plugin does), or a counter address.
func (r *Runtime) allocateIP() string {
	if r.cidr != nil {
		base := binary.BigEndian.Uint32(r.cidr.IP.To4())
		ones, bits := r.cidr.Mask.Size()
		size := uint32(1) << uint(bits-ones)
		for off := uint32(2); off+1 < size; off++ {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], base+off)
			ip := net.IP(b[:]).String()
			if !r.usedIPs[ip] {
				r.usedIPs[ip] = true
				return ip
			}
		}
	}
	n := fallbackIPs.Add(1)
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], 100<<24|64<<16+n%(1<<22))
	return net.IP(b[:]).String()
}

// RunPodSandbox records a READY sandbox with an IP (none for hostNetwork) after
// StartDelay.
func (r *Runtime) RunPodSandbox(ctx context.Context, cfg *runtimeapi.PodSandboxConfig) (string, error) {
	if r.StartDelay > 0 {
		t := time.NewTimer(r.StartDelay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-t.C:
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &sandbox{id: r.newID(), cfg: cfg, state: runtimeapi.PodSandboxState_SANDBOX_READY, created: time.Now().UnixNano()}
	if cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork() != runtimeapi.NamespaceMode_NODE {
		s.ip = r.allocateIP()
	}
	r.sandboxes[s.id] = s
	return s.id, nil
}

// StopPodSandbox kills the sandbox's running containers and releases its IP.
func (r *Runtime) StopPodSandbox(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sandboxes[id]
	if !ok {
		return nil // CRI: stopping an unknown sandbox is not an error
	}
	for _, c := range r.containers {
		if c.sandbox == id {
			r.exit(c, 137, "Error")
		}
	}
	s.state = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	if s.ip != "" {
		delete(r.usedIPs, s.ip)
	}
	return nil
}

// RemovePodSandbox removes the sandbox and its containers.
func (r *Runtime) RemovePodSandbox(ctx context.Context, id string) error {
	_ = r.StopPodSandbox(ctx, id)
	r.mu.Lock()
	defer r.mu.Unlock()
	for cid, c := range r.containers {
		if c.sandbox == id {
			delete(r.containers, cid)
		}
	}
	delete(r.sandboxes, id)
	return nil
}

func (r *Runtime) PodSandboxStatus(_ context.Context, id string) (*runtimeapi.PodSandboxStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sandboxes[id]
	if !ok {
		return nil, fmt.Errorf("sandbox %q not found", id)
	}
	return &runtimeapi.PodSandboxStatus{
		Id: s.id, Metadata: s.cfg.Metadata, State: s.state, CreatedAt: s.created,
		Network: &runtimeapi.PodSandboxNetworkStatus{Ip: s.ip},
		Linux: &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{
			Options: s.cfg.GetLinux().GetSecurityContext().GetNamespaceOptions()}},
		Labels: s.cfg.Labels, Annotations: s.cfg.Annotations,
	}, nil
}

func (r *Runtime) ListPodSandbox(_ context.Context, f *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*runtimeapi.PodSandbox
	for _, s := range r.sandboxes {
		if f != nil {
			if (f.Id != "" && f.Id != s.id) || (f.State != nil && f.State.State != s.state) || !matches(f.LabelSelector, s.cfg.Labels) {
				continue
			}
		}
		out = append(out, &runtimeapi.PodSandbox{Id: s.id, Metadata: s.cfg.Metadata, State: s.state,
			CreatedAt: s.created, Labels: s.cfg.Labels, Annotations: s.cfg.Annotations})
	}
	return out, nil
}

func matches(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// CreateContainer records a CREATED container in a ready sandbox.
func (r *Runtime) CreateContainer(_ context.Context, sandboxID string, cfg *runtimeapi.ContainerConfig, _ *runtimeapi.PodSandboxConfig) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sandboxes[sandboxID]
	if !ok || s.state != runtimeapi.PodSandboxState_SANDBOX_READY {
		return "", fmt.Errorf("sandbox %q is not ready", sandboxID)
	}
	c := &container{id: r.newID(), sandbox: sandboxID, cfg: cfg, state: runtimeapi.ContainerState_CONTAINER_CREATED, created: time.Now().UnixNano()}
	r.containers[c.id] = c
	return c.id, nil
}

// StartContainer makes a CREATED container RUNNING at once: it never exits by
// itself.
func (r *Runtime) StartContainer(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	switch {
	case !ok:
		return fmt.Errorf("container %q not found", id)
	case c.state != runtimeapi.ContainerState_CONTAINER_CREATED:
		return fmt.Errorf("container %q is not in created state", id)
	}
	c.state, c.started = runtimeapi.ContainerState_CONTAINER_RUNNING, time.Now().UnixNano()
	return nil
}

// StopContainer stops at once: the hollow app honours SIGTERM (exit 0) unless
// the caller asked for an immediate kill (timeout 0: 137).
func (r *Runtime) StopContainer(_ context.Context, id string, timeout int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return fmt.Errorf("container %q not found", id)
	}
	if timeout > 0 {
		r.exit(c, 0, "Completed")
	} else {
		r.exit(c, 137, "Error")
	}
	return nil
}

// exit moves a running or created container to EXITED; mu is held.
func (r *Runtime) exit(c *container, code int32, reason string) {
	if c.state == runtimeapi.ContainerState_CONTAINER_EXITED {
		return
	}
	c.state, c.finished, c.exitCode, c.reason = runtimeapi.ContainerState_CONTAINER_EXITED, time.Now().UnixNano(), code, reason
}

func (r *Runtime) RemoveContainer(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.containers, id)
	return nil
}

func (r *Runtime) ListContainers(_ context.Context, f *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*runtimeapi.Container
	for _, c := range r.containers {
		if f != nil {
			if (f.Id != "" && f.Id != c.id) || (f.PodSandboxId != "" && f.PodSandboxId != c.sandbox) ||
				(f.State != nil && f.State.State != c.state) || !matches(f.LabelSelector, c.cfg.Labels) {
				continue
			}
		}
		out = append(out, &runtimeapi.Container{Id: c.id, PodSandboxId: c.sandbox, Metadata: c.cfg.Metadata,
			Image: c.cfg.Image, ImageRef: imageID(c.cfg.Image.GetImage()), State: c.state, CreatedAt: c.created,
			Labels: c.cfg.Labels, Annotations: c.cfg.Annotations})
	}
	return out, nil
}

func (r *Runtime) ContainerStatus(_ context.Context, id string) (*runtimeapi.ContainerStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil, fmt.Errorf("container %q not found", id)
	}
	return &runtimeapi.ContainerStatus{Id: c.id, Metadata: c.cfg.Metadata, State: c.state,
		CreatedAt: c.created, StartedAt: c.started, FinishedAt: c.finished, ExitCode: c.exitCode, Reason: c.reason,
		Image: c.cfg.Image, ImageRef: imageID(c.cfg.Image.GetImage()), Labels: c.cfg.Labels,
		Annotations: c.cfg.Annotations, LogPath: c.cfg.LogPath}, nil
}

// ExecSync succeeds without output: exec probes of hollow pods pass.
func (r *Runtime) ExecSync(_ context.Context, id string, _ []string, _ int64) (*runtimeapi.ExecSyncResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.containers[id]; !ok || c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return nil, fmt.Errorf("container %q is not running", id)
	}
	return &runtimeapi.ExecSyncResponse{}, nil
}

// ImageStatus reports every image present, so IfNotPresent never pulls.
func (r *Runtime) ImageStatus(_ context.Context, image string) (*runtimeapi.Image, error) {
	return &runtimeapi.Image{Id: imageID(image), RepoTags: []string{image}, Size: 1 << 20}, nil
}

func (r *Runtime) PullImage(_ context.Context, image string, _ *runtimeapi.AuthConfig, _ *runtimeapi.PodSandboxConfig) (string, error) {
	return imageID(image), nil
}

// imageID is a stable digest-like ID for an image reference (an ID passes through).
func imageID(image string) string {
	if len(image) == 71 && image[:7] == "sha256:" {
		return image
	}
	sum := sha256.Sum256([]byte(image))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// counts reports live sandboxes and running containers (for tests and metrics).
func (r *Runtime) counts() (sandboxes, running int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sandboxes {
		if s.state == runtimeapi.PodSandboxState_SANDBOX_READY {
			sandboxes++
		}
	}
	for _, c := range r.containers {
		if c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
			running++
		}
	}
	return
}
