package network

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
)

// MasqTable is the nftables table (family ip) holding the pod egress masquerade.
const MasqTable = "skiff-net"

// masqScript replaces the table in one transaction: pod traffic (source in the
// cluster CIDR) leaving for anything outside it takes the node's address. Traffic
// between pods of any nodes keeps its source, as the Kubernetes network model
// requires; Service traffic was already DNATed to a pod address by then.
func masqScript(clusterCIDR string) (string, error) {
	_, cidr, err := net.ParseCIDR(clusterCIDR)
	if err != nil || cidr.IP.To4() == nil {
		return "", fmt.Errorf("network: cluster CIDR %q is not an IPv4 CIDR", clusterCIDR)
	}
	c := cidr.String()
	return "add table ip " + MasqTable + "\ndelete table ip " + MasqTable + "\n" +
		"table ip " + MasqTable + " {\n" +
		"\tchain postrouting {\n" +
		"\t\ttype nat hook postrouting priority srcnat + 10 ; policy accept ;\n" +
		"\t\tip saddr " + c + " ip daddr != " + c + " fib daddr type != local masquerade\n" +
		"\t}\n}\n", nil
}

// nft runs an nft script, optionally through a prefix (["ip","netns","exec",ns]).
func nft(ctx context.Context, prefix []string, script string, args ...string) (string, error) {
	argv := append(append(append([]string{}, prefix...), "nft"), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// EnsureMasquerade installs (or replaces) the masquerade table.
func EnsureMasquerade(ctx context.Context, prefix []string, clusterCIDR string) error {
	script, err := masqScript(clusterCIDR)
	if err != nil {
		return err
	}
	_, err = nft(ctx, prefix, script, "-f", "-")
	return err
}

// RemoveMasquerade deletes the masquerade table (absent is fine).
func RemoveMasquerade(ctx context.Context, prefix []string) error {
	out, err := nft(ctx, prefix, "", "delete", "table", "ip", MasqTable)
	if err != nil && !strings.Contains(out, "No such file") {
		return err
	}
	return nil
}
