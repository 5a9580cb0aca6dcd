package proxy

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// These tests program the real kernel inside a throwaway network namespace. They
// need root and the nft binary; without them they skip loudly.

func requireKernel(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPING KERNEL TEST: needs root (network namespaces + nftables)")
	}
	for _, bin := range []string{"nft", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("SKIPPING KERNEL TEST: %s not installed (run hack/install-deps.sh)", bin)
		}
	}
}

// testNetns creates a namespace with lo up and a veth pair d0/d1 (dummy links are
// not available on every kernel), d0 holding addrs.
func testNetns(t *testing.T, addrs ...string) string {
	t.Helper()
	name := fmt.Sprintf("skiff-pt-%d-%d", os.Getpid(), rand.Intn(1<<20))
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	run(t, "ip", "-n", name, "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	run(t, "ip", "-n", name, "link", "set", "d0", "up")
	run(t, "ip", "-n", name, "link", "set", "d1", "up")
	for _, a := range addrs {
		run(t, "ip", "-n", name, "addr", "add", a, "dev", "d0")
	}
	// Service IPs must be routable before DNAT for locally generated traffic.
	run(t, "ip", "-n", name, "route", "add", "10.43.0.0/16", "dev", "d0")
	return name
}

func run(t *testing.T, argv ...string) string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// inNetns runs fn on a thread switched into the namespace; sockets created by fn
// belong to it.
func inNetns(t *testing.T, name string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		// Never unlock: the thread ends with the goroutine instead of going back
		// to the pool in the wrong namespace.
		h, err := netns.GetFromName(name)
		if err != nil {
			t.Errorf("netns %s: %v", name, err)
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			t.Errorf("setns: %v", err)
			return
		}
		fn()
	}()
	<-done
}

// serveName listens on addr inside ns and answers every connection with name.
func serveName(t *testing.T, ns, addr, name string) {
	t.Helper()
	var ln net.Listener
	inNetns(t, ns, func() {
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			t.Fatalf("listen %s: %v", addr, err)
		}
	})
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(name))
			c.Close()
		}
	}()
}

// ask connects to addr from inside ns n times and counts the answers.
func ask(t *testing.T, ns, addr string, n int) (map[string]int, error) {
	t.Helper()
	got := map[string]int{}
	var firstErr error
	inNetns(t, ns, func() {
		for i := 0; i < n; i++ {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				firstErr = err
				return
			}
			b, _ := io.ReadAll(c)
			c.Close()
			got[string(b)]++
		}
	})
	return got, firstErr
}

func TestKernelClusterIPNodePortAffinityAndReject(t *testing.T) {
	requireKernel(t)
	ns := testNetns(t, "10.42.0.1/24", "10.42.0.5/32", "10.42.0.6/32", "192.168.77.1/24")
	serveName(t, ns, "10.42.0.5:8080", "a")
	serveName(t, ns, "10.42.0.6:8080", "b")
	ctx := context.Background()
	rules, err := NewRules(ctx, RulesConfig{NodeName: "n1", ClusterCIDR: "10.42.0.0/16", Mode: ModeNFTables, CommandPrefix: []string{"ip", "netns", "exec", ns}})
	if err != nil {
		t.Fatal(err)
	}
	web := svc("default", "web", "10.43.0.50", tcpPort("http", 80, "8080"))
	web.Spec.Type = corev1.ServiceTypeNodePort
	web.Spec.Ports[0].NodePort = 30080
	sticky := svc("default", "sticky", "10.43.0.51", tcpPort("http", 80, "8080"))
	sticky.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	empty := svc("default", "empty", "10.43.0.52", tcpPort("http", 80, "8080"))
	two := func(name string) *discoveryv1.EndpointSlice {
		return slice("default", name, name+"-1", map[string]int32{"http": 8080}, readyEP("10.42.0.5", "n1"), readyEP("10.42.0.6", "n1"))
	}
	svcs := []*corev1.Service{web, sticky, empty}
	slices := []*discoveryv1.EndpointSlice{two("web"), two("sticky")}
	st, err := rules.Sync(ctx, svcs, slices)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Full {
		t.Fatal("first sync was not a full sync")
	}

	got, err := ask(t, ns, "10.43.0.50:80", 40)
	if err != nil || got["a"] == 0 || got["b"] == 0 {
		t.Fatalf("ClusterIP: answers %v, err %v (want both backends)", got, err)
	}
	got, err = ask(t, ns, "192.168.77.1:30080", 20)
	if err != nil || got["a"]+got["b"] != 20 {
		t.Fatalf("NodePort: answers %v, err %v", got, err)
	}
	got, err = ask(t, ns, "10.43.0.51:80", 20)
	if err != nil || len(got) != 1 {
		t.Fatalf("ClientIP affinity: answers %v, err %v (want one backend)", got, err)
	}
	_, err = ask(t, ns, "10.43.0.52:80", 1)
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("service without endpoints: err %v, want connection refused (reject)", err)
	}

	// One endpoint becomes unready: an incremental sync, and only "b" answers.
	slices[0] = slice("default", "web", "web-1", map[string]int32{"http": 8080}, ep{ip: "10.42.0.5", node: "n1"}, readyEP("10.42.0.6", "n1"))
	st, err = rules.Sync(ctx, svcs, slices)
	if err != nil || st.Full {
		t.Fatalf("incremental sync: %+v %v", st, err)
	}
	got, err = ask(t, ns, "10.43.0.50:80", 20)
	if err != nil || got["b"] != 20 {
		t.Fatalf("after unready: answers %v, err %v (want only b)", got, err)
	}

	// Service deleted: its rules go, the table stays consistent.
	if _, err := rules.Sync(ctx, svcs[1:], slices[1:]); err != nil {
		t.Fatal(err)
	}
	table := run(t, "ip", "netns", "exec", ns, "nft", "list", "table", "ip", TableName)
	if strings.Contains(table, "default/web/") || !strings.Contains(table, "default/sticky/") {
		t.Fatalf("table after delete:\n%s", table)
	}

	if err := Cleanup(ctx, []string{"ip", "netns", "exec", ns}); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "ip", TableName).CombinedOutput(); err == nil {
		t.Fatalf("table still there after Cleanup:\n%s", out)
	}
}

func TestKernelIPTablesFallback(t *testing.T) {
	requireKernel(t)
	if _, err := exec.LookPath("iptables-restore"); err != nil {
		t.Skip("SKIPPING: iptables-restore not installed")
	}
	ns := testNetns(t, "10.42.0.1/24", "10.42.0.5/32", "10.42.0.6/32")
	serveName(t, ns, "10.42.0.5:8080", "a")
	serveName(t, ns, "10.42.0.6:8080", "b")
	ctx := context.Background()
	prefix := []string{"ip", "netns", "exec", ns}
	rules, err := NewRules(ctx, RulesConfig{NodeName: "n1", ClusterCIDR: "10.42.0.0/16", Mode: ModeIPTables, CommandPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	web := svc("default", "web", "10.43.0.50", tcpPort("http", 80, "8080"))
	sl := slice("default", "web", "web-1", map[string]int32{"http": 8080}, readyEP("10.42.0.5", "n1"), readyEP("10.42.0.6", "n1"))
	if _, err := rules.Sync(ctx, []*corev1.Service{web}, []*discoveryv1.EndpointSlice{sl}); err != nil {
		t.Fatal(err)
	}
	got, err := ask(t, ns, "10.43.0.50:80", 40)
	if err != nil || got["a"] == 0 || got["b"] == 0 {
		t.Fatalf("iptables ClusterIP: answers %v, err %v", got, err)
	}
	sl = slice("default", "web", "web-1", map[string]int32{"http": 8080}, readyEP("10.42.0.6", "n1"))
	if _, err := rules.Sync(ctx, []*corev1.Service{web}, []*discoveryv1.EndpointSlice{sl}); err != nil {
		t.Fatal(err)
	}
	got, err = ask(t, ns, "10.43.0.50:80", 10)
	if err != nil || got["b"] != 10 {
		t.Fatalf("iptables after endpoint removal: answers %v, err %v", got, err)
	}
	if err := Cleanup(ctx, prefix); err != nil {
		t.Fatal(err)
	}
	if out := run(t, "ip", "netns", "exec", ns, "iptables-save", "-t", "nat"); strings.Contains(out, "SKIFF") {
		t.Fatalf("SKIFF chains left after cleanup:\n%s", out)
	}
}
