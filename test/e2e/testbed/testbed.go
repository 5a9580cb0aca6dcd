// Package testbed builds the multi-node network for Skiff's e2e tests on one
// machine: each node is a network namespace joined by a veth pair to a bridge in
// the host namespace, so nodes share one L2 segment (what the host-gw pod network
// needs) and the host can reach every node (NodePort tests). Everything is
// removed at test cleanup, including processes started in the nodes.
//
//	bed := testbed.New(t, 3)             // nodes n0, n1, n2 at 172.31.<k>.2..4
//	p := bed.Start(t, "n0", "skiff", "server", ...)
//	bed.LinkDown(t, "n2")                 // cut a node off (kill tests)
package testbed

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
)

// T is what the bed needs of a test: *testing.T satisfies it, and so does the
// conformance run's process-level stand-in (test/conformance/cluster).
type T interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skip(args ...any)
	Skipf(format string, args ...any)
	Failed() bool
}

// Node is one simulated machine.
type Node struct {
	Name  string // n0, n1, ...
	Netns string // namespace name (ip netns)
	IP    string // address on the shared segment
	veth  string // host side of the veth pair
}

// Bed is a set of nodes on one bridge.
type Bed struct {
	Bridge  string
	Gateway string // the host's address on the bridge
	Nodes   []*Node
	mu      sync.Mutex
	procs   []*exec.Cmd
}

// New creates n nodes, skipping the test (loudly) without root or iproute2.
func New(t T, n int) *Bed {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPING E2E: the test bed needs root (network namespaces)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("SKIPPING E2E: iproute2 missing (run hack/install-deps.sh)")
	}
	id := fmt.Sprintf("%05x", rand.Intn(1<<20))
	k := 16 + rand.Intn(200) // 172.31.k.0/24, random so parallel beds rarely clash
	b := &Bed{Bridge: "skb" + id, Gateway: fmt.Sprintf("172.31.%d.1", k)}
	t.Cleanup(b.teardown)
	run(t, "ip", "link", "add", b.Bridge, "type", "bridge")
	run(t, "ip", "addr", "add", b.Gateway+"/24", "dev", b.Bridge)
	run(t, "ip", "link", "set", b.Bridge, "up")
	for i := 0; i < n; i++ {
		nd := &Node{Name: fmt.Sprintf("n%d", i), Netns: fmt.Sprintf("skiff-%s-n%d", id, i),
			IP: fmt.Sprintf("172.31.%d.%d", k, i+2), veth: fmt.Sprintf("skv%s%d", id, i)}
		b.Nodes = append(b.Nodes, nd)
		run(t, "ip", "netns", "add", nd.Netns)
		run(t, "ip", "link", "add", nd.veth, "type", "veth", "peer", "name", "eth0", "netns", nd.Netns)
		run(t, "ip", "link", "set", nd.veth, "master", b.Bridge, "up")
		ns := []string{"ip", "-n", nd.Netns}
		run(t, append(ns, "link", "set", "lo", "up")...)
		run(t, append(ns, "addr", "add", nd.IP+"/24", "dev", "eth0")...)
		run(t, append(ns, "link", "set", "eth0", "up")...)
		run(t, append(ns, "route", "add", "default", "via", b.Gateway)...)
		run(t, "ip", "netns", "exec", nd.Netns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	}
	return b
}

// Node returns the node by name (nil when unknown).
func (b *Bed) Node(name string) *Node {
	for _, n := range b.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Command is a command that will run inside the node's network namespace. It
// enters only the network namespace (nsenter), not `ip netns exec`'s private mount
// namespace: that one remounts /sys, which hides /sys/fs/cgroup from runc ("no
// cgroup mount found in mountinfo") and keeps the nodes' container mounts apart
// from the host's.
func (b *Bed) Command(node string, argv ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"--net=/run/netns/" + b.Node(node).Netns, "--"}, argv...)...)
}

// Run runs a command in the node and returns its combined output, failing the test on error.
func (b *Bed) Run(t T, node string, argv ...string) string {
	t.Helper()
	out, err := b.Command(node, argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %v\n%s", node, argv, err, out)
	}
	return string(out)
}

// Start runs a long-lived process in the node (output to the test log when it
// fails); it is killed at cleanup. The returned Cmd may be stopped earlier with Stop.
func (b *Bed) Start(t T, node string, argv ...string) *exec.Cmd {
	t.Helper()
	cmd := b.Command(node, argv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: starting %v: %v", node, argv, err)
	}
	b.mu.Lock()
	b.procs = append(b.procs, cmd)
	b.mu.Unlock()
	t.Cleanup(func() {
		if Stop(cmd) != nil && t.Failed() {
			t.Logf("%s %v output:\n%s", node, argv, out.String())
		}
	})
	return cmd
}

// Stop ends a process started by Start (SIGTERM, then SIGKILL after 10 s) and
// returns how it ended.
func Stop(cmd *exec.Cmd) error {
	if cmd.Process == nil || cmd.ProcessState != nil {
		return nil
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return <-done
	}
}

// LinkDown cuts the node off the segment; LinkUp reconnects it.
func (b *Bed) LinkDown(t T, node string) {
	run(t, "ip", "link", "set", b.Node(node).veth, "down")
}
func (b *Bed) LinkUp(t T, node string) { run(t, "ip", "link", "set", b.Node(node).veth, "up") }

// InNode runs fn on an OS thread switched into the node's namespace: sockets fn
// opens (listeners, dials) belong to the node.
func (b *Bed) InNode(t T, node string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		h, err := netns.GetFromName(b.Node(node).Netns)
		if err != nil {
			t.Errorf("netns %s: %v", node, err)
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			t.Errorf("setns %s: %v", node, err)
			return
		}
		fn()
	}()
	<-done
}

// teardown kills processes, then deletes namespaces (their veth ends go with
// them) and the bridge. Errors are ignored: half-built beds are torn down too.
func (b *Bed) teardown() {
	b.mu.Lock()
	procs := b.procs
	b.mu.Unlock()
	for _, p := range procs {
		_ = Stop(p)
	}
	for _, n := range b.Nodes {
		_ = exec.Command("ip", "netns", "del", n.Netns).Run()
		_ = exec.Command("ip", "link", "del", n.veth).Run()
	}
	_ = exec.Command("ip", "link", "del", b.Bridge).Run()
}

func run(t T, argv ...string) {
	t.Helper()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
}
