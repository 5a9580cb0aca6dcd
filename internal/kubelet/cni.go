package kubelet

import (
	"encoding/json"
	"fmt"
	"github.com/vishvananda/netlink"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
)

// networkState tracks the pod network of this node. The heartbeat goroutine writes
// it when spec.podCIDR appears; pod workers read it (atomically) before creating
// sandboxes of non-hostNetwork pods.
type networkState struct {
	confDir, dataDir string
	ready            atomic.Pointer[string] // the podCIDR a config was written for
}

func newNetworkState(confDir, dataDir string) *networkState {
	n := &networkState{confDir: confDir, dataDir: dataDir}
	if confDir == "" {
		// The runtime brings its own networking (or none: hollow nodes).
		unmanaged := ""
		n.ready.Store(&unmanaged)
	}
	return n
}

// isReady reports whether pod sandboxes can get an IP.
func (n *networkState) isReady() bool { return n.ready.Load() != nil }

// cniConfName sorts first in the directory so the runtime picks it.
const cniConfName = "10-skiff.conflist"

// ensure writes the conflist for podCIDR: a Linux bridge cni0 with the first
// address as the pods' gateway (so the host reaches pod IPs directly), host-local
// IPAM over the node's range, masquerade for traffic leaving the cluster range, and
// portmap for hostPort.
func (n *networkState) ensure(podCIDR string) error {
	if n.confDir == "" || podCIDR == "" {
		return nil
	}
	if cur := n.ready.Load(); cur != nil && *cur == podCIDR {
		return nil
	}
	_, cidr, err := net.ParseCIDR(podCIDR)
	if err != nil {
		return fmt.Errorf("node podCIDR %q: %w", podCIDR, err)
	}
	if err := clearStaleBridge(BridgeName, cidr); err != nil {
		return err
	}
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "skiff",
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": BridgeName, "isGateway": true, "ipMasq": true, "hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": podCIDR}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
					"dataDir": n.dataDir,
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(n.confDir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(n.confDir, "."+cniConfName+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(n.confDir, cniConfName)); err != nil {
		return err
	}
	n.ready.Store(&podCIDR)
	return nil
}

// BridgeName is the pods' Linux bridge.
const BridgeName = "cni0"

// clearStaleBridge removes IPv4 addresses outside cidr from the bridge: after the
// node's podCIDR changed (or a previous cluster used this host) the bridge plugin
// otherwise fails with "cni0 already has an IP address different from ...".
func clearStaleBridge(name string, cidr *net.IPNet) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return nil // no bridge yet: the plugin creates it
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if !cidr.Contains(a.IP) {
			if err := netlink.AddrDel(link, &a); err != nil {
				return fmt.Errorf("removing stale address %s from %s: %w", a.IPNet, name, err)
			}
		}
	}
	return nil
}
