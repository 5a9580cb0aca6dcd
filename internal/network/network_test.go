package network

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/testserver"
)

func TestWriteCNIConfig(t *testing.T) {
	dir := t.TempDir()
	if err := WriteCNIConfig(dir, "10.42.3.0/24"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, CNIConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Name    string `json:"name"`
		Plugins []struct {
			Type, Bridge string
			IPMasq       bool `json:"ipMasq"`
			HairpinMode  bool `json:"hairpinMode"`
			IPAM         struct {
				Type   string
				Ranges [][]map[string]string
			}
		}
	}
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	p := conf.Plugins
	if len(p) != 2 || p[0].Type != "bridge" || p[0].Bridge != "skiff0" || p[0].IPMasq || !p[0].HairpinMode ||
		p[0].IPAM.Type != "host-local" || p[0].IPAM.Ranges[0][0]["subnet"] != "10.42.3.0/24" ||
		p[0].IPAM.Ranges[0][0]["gateway"] != "10.42.3.1" || p[1].Type != "portmap" {
		t.Fatalf("unexpected conflist:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "99-loopback.conf")); err != nil {
		t.Fatal(err)
	}
	if err := WriteCNIConfig(dir, "nonsense"); err == nil {
		t.Fatal("bad podCIDR accepted")
	}
}

func node(name, podCIDR, ip string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: podCIDR}}
	if ip != "" {
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}}
	}
	return n
}

func TestPeersSkipsSelfAndUnroutableNodes(t *testing.T) {
	peers := Peers([]*corev1.Node{
		node("a", "10.42.0.0/24", "192.168.1.1"), node("b", "10.42.1.0/24", "192.168.1.2"),
		node("c", "", "192.168.1.3"), node("d", "10.42.3.0/24", ""),
	}, "a")
	if len(peers) != 1 || peers[0].Name != "b" || peers[0].PodCIDR.String() != "10.42.1.0/24" || !peers[0].NodeIP.Equal(net.ParseIP("192.168.1.2")) {
		t.Fatalf("peers = %+v", peers)
	}
}

func requireKernel(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPING KERNEL TEST: needs root")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("SKIPPING KERNEL TEST: nft not installed (run hack/install-deps.sh)")
	}
}

// testNetns makes a namespace with a veth whose end d0 holds 192.168.50.1/24,
// so 192.168.50.x are valid next hops.
func testNetns(t *testing.T) (string, *netlink.Handle) {
	t.Helper()
	name := fmt.Sprintf("skiff-nt-%d-%d", os.Getpid(), rand.Intn(1<<20))
	sh := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	sh("netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	sh("-n", name, "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	sh("-n", name, "addr", "add", "192.168.50.1/24", "dev", "d0")
	sh("-n", name, "link", "set", "d0", "up")
	sh("-n", name, "link", "set", "d1", "up")
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(); ns.Close() })
	return name, h
}

func routes(t *testing.T, ns string) string {
	out, err := exec.Command("ip", "-n", ns, "route", "show", "proto", "0x53").CombinedOutput()
	if err != nil {
		t.Fatalf("%v %s", err, out)
	}
	return string(out)
}

func TestKernelHostGWRoutesFollowPeers(t *testing.T) {
	requireKernel(t)
	ns, h := testNetns(t)
	gw := &HostGW{Handle: h}
	peers := Peers([]*corev1.Node{node("b", "10.42.1.0/24", "192.168.50.2"), node("c", "10.42.2.0/24", "192.168.50.3")}, "a")
	if err := gw.Sync(peers); err != nil {
		t.Fatal(err)
	}
	r := routes(t, ns)
	if !strings.Contains(r, "10.42.1.0/24 via 192.168.50.2") || !strings.Contains(r, "10.42.2.0/24 via 192.168.50.3") {
		t.Fatalf("routes after sync:\n%s", r)
	}
	// c is gone and b moved: c's route goes, b's is replaced.
	if err := gw.Sync(Peers([]*corev1.Node{node("b", "10.42.1.0/24", "192.168.50.9")}, "a")); err != nil {
		t.Fatal(err)
	}
	r = routes(t, ns)
	if strings.Contains(r, "10.42.2.0/24") || !strings.Contains(r, "10.42.1.0/24 via 192.168.50.9") {
		t.Fatalf("routes after node removal:\n%s", r)
	}
	if err := Cleanup(context.Background(), gw, []string{"ip", "netns", "exec", ns}); err != nil {
		t.Fatal(err)
	}
	if r = routes(t, ns); strings.TrimSpace(r) != "" {
		t.Fatalf("routes after cleanup:\n%s", r)
	}
}

func TestKernelMasqueradeTable(t *testing.T) {
	requireKernel(t)
	ns, _ := testNetns(t)
	prefix := []string{"ip", "netns", "exec", ns}
	ctx := context.Background()
	for i := 0; i < 2; i++ { // idempotent
		if err := EnsureMasquerade(ctx, prefix, "10.42.0.0/16"); err != nil {
			t.Fatal(err)
		}
	}
	out, err := nft(ctx, prefix, "", "list", "table", "ip", MasqTable)
	if err != nil || !strings.Contains(out, "ip saddr 10.42.0.0/16 ip daddr != 10.42.0.0/16 fib daddr type != local masquerade") {
		t.Fatalf("masquerade table: %v\n%s", err, out)
	}
	if err := RemoveMasquerade(ctx, prefix); err != nil {
		t.Fatal(err)
	}
	if err := RemoveMasquerade(ctx, prefix); err != nil {
		t.Fatalf("second remove: %v", err)
	}
}

// TestKernelRunFollowsNodeObjects drives Run from a real API server: a node that
// appears gets a route, a deleted node's route disappears.
func TestKernelRunFollowsNodeObjects(t *testing.T) {
	requireKernel(t)
	ns, h := testNetns(t)
	srv := testserver.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, srv.Client, Config{NodeName: "a", Backend: &HostGW{Handle: h},
			NFTPrefix: []string{"ip", "netns", "exec", ns}, SkipSysctl: true, Logf: t.Logf})
	}()
	create := func(n *corev1.Node) {
		status := n.Status
		got, err := srv.Client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got.Status = status
		if _, err := srv.Client.CoreV1().Nodes().UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create(node("a", "10.42.0.0/24", "192.168.50.1"))
	create(node("b", "10.42.1.0/24", "192.168.50.2"))
	waitFor(t, func() bool { return strings.Contains(routes(t, ns), "10.42.1.0/24 via 192.168.50.2") }, "route to b")
	if strings.Contains(routes(t, ns), "10.42.0.0/24") {
		t.Fatal("route to this node's own podCIDR")
	}
	if err := srv.Client.CoreV1().Nodes().Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return !strings.Contains(routes(t, ns), "10.42.1.0/24") }, "route to deleted node b gone")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
