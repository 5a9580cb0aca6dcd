package network

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// BridgeName is the node bridge every pod's veth joins.
const BridgeName = "skiff0"

// CNIConfigFile is the name of the conflist WriteCNIConfig writes; the "10-" keeps
// it first when the runtime picks the lexically first config.
const CNIConfigFile = "10-skiff.conflist"

// WriteCNIConfig writes dir/10-skiff.conflist (bridge skiff0 + host-local over
// podCIDR, portmap) and dir/99-loopback.conf. The bridge does not masquerade: pod
// traffic to other nodes' pods must keep its source, and Masquerade handles the
// rest. hairpinMode lets a pod reach itself through a Service. Files are written
// atomically (temp + rename) so the runtime never reads half a config.
func WriteCNIConfig(dir string, podCIDR string) error {
	_, cidr, err := net.ParseCIDR(podCIDR)
	if err != nil {
		return fmt.Errorf("network: podCIDR %q: %w", podCIDR, err)
	}
	gw := make(net.IP, len(cidr.IP))
	copy(gw, cidr.IP)
	gw[len(gw)-1]++ // the bridge takes the subnet's first address
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "skiff",
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": BridgeName, "isGateway": true, "isDefaultGateway": true,
				"ipMasq": false, "hairpinMode": true, "mtu": 1500,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": [][]map[string]string{{{"subnet": cidr.String(), "gateway": gw.String()}}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}, "snat": true},
		},
	}
	// The loopback plugin does not chain (it would replace the bridge's result), so
	// it gets its own file for runtimes that do not set lo up themselves.
	loopback := map[string]any{"cniVersion": "1.0.0", "name": "lo", "type": "loopback"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, CNIConfigFile), conf); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, "99-loopback.conf"), loopback)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
