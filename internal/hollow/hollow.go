// Package hollow runs many kubelets in one process, kubemark's approach: each
// hollow node is the real kubelet (internal/kubelet) — registration, Lease,
// node status, pod workers, status writes — over an in-memory CRI runtime
// (Runtime) instead of containerd, with no CNI and no volumes on disk. The
// control plane sees realistic node and pod traffic from a single machine.
package hollow

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/kubelet"
)

// Options configures a set of hollow nodes.
type Options struct {
	Nodes      int
	NamePrefix string        // "hollow-": nodes are hollow-0, hollow-1, ...
	StartDelay time.Duration // how long each pod sandbox takes to come up
	// Capacity of every node; empty fields default to 4 CPUs, 16Gi memory,
	// 100Gi ephemeral storage and 110 pods.
	Capacity corev1.ResourceList
	// QPS and Burst limit each node's client, as a real kubelet's (50/100).
	QPS   float32
	Burst int
	// SharedClient gives every node the same clientset (one rate limiter for
	// all) instead of one clientset per node over the shared connection pool.
	SharedClient bool
	// Register bounds how many nodes register and sync their caches at once,
	// so N nodes starting together do not stampede the API server (50).
	Register int
	// Kubelet tweaks each node's kubelet config (tests shorten periods).
	Kubelet func(*kubelet.Config)
}

func (o *Options) defaults() {
	if o.NamePrefix == "" {
		o.NamePrefix = "hollow-"
	}
	if o.QPS == 0 {
		o.QPS, o.Burst = 50, 100
	}
	if o.Register == 0 {
		o.Register = 50
	}
	caps := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("4"),
		corev1.ResourceMemory:           resource.MustParse("16Gi"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
	}
	for k, v := range o.Capacity {
		caps[k] = v
	}
	o.Capacity = caps
}

// Node is one running hollow node.
type Node struct {
	Name    string
	Kubelet *kubelet.Kubelet
	Runtime *Runtime
}

// Cluster is the set of hollow nodes of one process.
type Cluster struct {
	Nodes []*Node
	// Registered is closed once every node registered and synced its pod cache.
	Registered chan struct{}
}

// Start creates the nodes and runs them until ctx ends; Wait returns then.
func Start(ctx context.Context, cfg *rest.Config, opts Options) (*Cluster, func() error, error) {
	opts.defaults()
	if opts.Nodes <= 0 {
		return nil, nil, errors.New("hollow: Nodes must be positive")
	}
	clients, err := newClients(cfg, opts)
	if err != nil {
		return nil, nil, err
	}
	c := &Cluster{Registered: make(chan struct{})}
	for i := 0; i < opts.Nodes; i++ {
		n, err := newNode(i, clients(), opts)
		if err != nil {
			return nil, nil, err
		}
		c.Nodes = append(c.Nodes, n)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(c.Nodes))
	gate := make(chan struct{}, opts.Register)
	var registered sync.WaitGroup
	for _, n := range c.Nodes {
		wg.Add(1)
		registered.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Kubelet.Run(ctx); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("%s: %w", n.Name, err)
			}
		}()
		go func() {
			defer registered.Done()
			select {
			case gate <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-gate }()
			select {
			case <-n.Kubelet.Started():
			case <-ctx.Done():
			}
		}()
	}
	go func() { registered.Wait(); close(c.Registered) }()
	wait := func() error {
		wg.Wait()
		close(errs)
		return errors.Join(collect(errs)...)
	}
	return c, wait, nil
}

func collect(errs <-chan error) []error {
	var out []error
	for err := range errs {
		out = append(out, err)
	}
	return out
}

// newClients returns a factory of node clients. All of them share one HTTP
// client (one transport, so one pool of HTTP/2 connections); unless SharedClient,
// each node gets its own clientset and thus its own rate limiter, like separate
// kubelets.
func newClients(cfg *rest.Config, opts Options) (func() kubernetes.Interface, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = opts.QPS, opts.Burst
	cfg.UserAgent = "skiff-hollow-kubelet"
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	if opts.SharedClient {
		cfg.QPS, cfg.Burst = opts.QPS*float32(opts.Nodes), opts.Burst*opts.Nodes
		shared, err := kubernetes.NewForConfigAndClient(cfg, httpClient)
		if err != nil {
			return nil, err
		}
		return func() kubernetes.Interface { return shared }, nil
	}
	return func() kubernetes.Interface { return mustClient(cfg, httpClient) }, nil
}

func mustClient(cfg *rest.Config, hc *http.Client) kubernetes.Interface {
	c, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		// Only invalid configs fail, and HTTPClientFor accepted this one.
		panic(err)
	}
	return c
}

func newNode(i int, client kubernetes.Interface, opts Options) (*Node, error) {
	name := fmt.Sprintf("%s%d", opts.NamePrefix, i)
	rt := NewRuntime(opts.StartDelay)
	cfg := kubelet.Config{
		NodeName: name,
		Client:   client,
		Runtime:  rt,
		RootDir:  "/nonexistent/hollow/" + name, // never touched: NoDisk
		NoDisk:   true,
		NodeIP:   nodeIP(i),
		Capacity: opts.Capacity,
		Labels:   map[string]string{"skiff.sh/hollow": "true"},
		Machine:  machine(name, opts.Capacity),
	}
	if opts.Kubelet != nil {
		opts.Kubelet(&cfg)
	}
	k, err := kubelet.New(cfg)
	if err != nil {
		return nil, err
	}
	return &Node{Name: name, Kubelet: k, Runtime: rt}, nil
}

// nodeIP numbers nodes inside 198.18.0.0/15, the range reserved for benchmarks.
func nodeIP(i int) net.IP {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], 198<<24|18<<16+uint32(i+1)%(1<<17))
	return net.IP(b[:])
}

// machine is the synthetic host a hollow node reports.
func machine(name string, caps corev1.ResourceList) *kubelet.MachineInfo {
	cpu, mem, eph := caps[corev1.ResourceCPU], caps[corev1.ResourceMemory], caps[corev1.ResourceEphemeralStorage]
	return &kubelet.MachineInfo{
		CPUs: int(cpu.Value()), MemoryBytes: mem.Value(), EphemeralBytes: eph.Value(),
		MachineID: name, SystemUUID: name, BootID: name,
		KernelVersion: "hollow", OSImage: "Skiff hollow node", Hostname: name,
		OperatingSystem: "linux", Architecture: runtime.GOARCH,
	}
}

// Counts sums live sandboxes and running containers over the nodes.
func (c *Cluster) Counts() (sandboxes, running int) {
	for _, n := range c.Nodes {
		s, r := n.Runtime.counts()
		sandboxes += s
		running += r
	}
	return
}
