package proxy

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Mode selects the kernel interface used for service rules.
type Mode string

const (
	ModeAuto     Mode = ""         // nftables when `nft` works, else iptables
	ModeNFTables Mode = "nftables" // table `ip skiff`, incremental transactions
	ModeIPTables Mode = "iptables" // SKIFF-* chains in the nat table, full restore per sync
)

// RulesConfig configures Rules.
type RulesConfig struct {
	// NodeName selects the "local" endpoints (EndpointSlice endpoint.nodeName).
	NodeName string
	// ClusterCIDR is the pod network (10.42.0.0/16). Service traffic from outside it
	// is masqueraded; "" masquerades all service traffic.
	ClusterCIDR string
	Mode        Mode
	// CommandPrefix runs nft/iptables-restore through another command, e.g.
	// ["ip", "netns", "exec", "test"] to program a throwaway namespace.
	CommandPrefix []string
}

// SyncStats describes one sync, for logs and benchmarks.
type SyncStats struct {
	Full         bool
	ServicePorts int
	ScriptBytes  int
	Render       time.Duration // model + rendering + diff
	Apply        time.Duration // the kernel transaction
}

// Rules owns the rules this node has applied and brings them to a new desired
// state. It is not safe for concurrent use: one goroutine (the proxier's sync
// loop, or a benchmark) owns it.
type Rules struct {
	cfg   RulesConfig
	cmd   commander
	mode  Mode
	nft   nftRenderer
	table *nftTable // applied state; nil: the next sync is a full one
	ipt   iptRenderer
}

// NewRules picks the mode (probing `nft` when Mode is ModeAuto).
func NewRules(ctx context.Context, cfg RulesConfig) (*Rules, error) {
	r := &Rules{cfg: cfg, cmd: commander{Prefix: cfg.CommandPrefix}, mode: cfg.Mode,
		nft: nftRenderer{ClusterCIDR: cfg.ClusterCIDR}, ipt: iptRenderer{ClusterCIDR: cfg.ClusterCIDR}}
	if r.mode == ModeAuto {
		r.mode = ModeIPTables
		if _, err := r.cmd.run(ctx, "", "nft", "list", "tables"); err == nil {
			r.mode = ModeNFTables
		}
	}
	if r.mode != ModeNFTables && r.mode != ModeIPTables {
		return nil, fmt.Errorf("proxy: unknown mode %q", cfg.Mode)
	}
	return r, nil
}

// Mode reports the mode in use.
func (r *Rules) Mode() Mode { return r.mode }

// ForceFullSync makes the next Sync rewrite everything (after an outside change).
func (r *Rules) ForceFullSync() { r.table = nil }

// Sync programs the kernel for these objects. In nftables mode only the changes
// since the last successful sync are sent, as one transaction; if that fails the
// next sync is a full one.
func (r *Rules) Sync(ctx context.Context, services []*corev1.Service, slices []*discoveryv1.EndpointSlice) (SyncStats, error) {
	start := time.Now()
	var st SyncStats
	var script string
	if r.mode == ModeNFTables {
		if r.table == nil {
			st.Full = true
			r.table = newNFTTable(r.nft, r.cfg.NodeName)
		}
		script, st.ServicePorts = r.table.update(services, slices)
		if st.Full {
			script = r.nft.fullHeader() + script
		}
	} else {
		sps := buildServicePorts(services, slices, r.cfg.NodeName)
		st.Full, st.ServicePorts, script = true, len(sps), r.ipt.render(sps)
	}
	st.Render, st.ScriptBytes = time.Since(start), len(script)
	if script == "" {
		return st, nil
	}
	start = time.Now()
	var err error
	if r.mode == ModeNFTables {
		_, err = r.cmd.run(ctx, script, "nft", "-f", "-")
	} else {
		err = r.ipt.apply(ctx, r.cmd, script)
	}
	st.Apply = time.Since(start)
	if err != nil {
		r.table = nil // the kernel may hold anything now: rewrite it all next time
		return st, fmt.Errorf("proxy: applying %s rules: %w", r.mode, err)
	}
	return st, nil
}

// Cleanup removes every rule the proxy may have installed, in both modes.
func Cleanup(ctx context.Context, commandPrefix []string) error {
	cmd := commander{Prefix: commandPrefix}
	var errs []string
	if cmd.lookPath("nft") {
		if out, err := cmd.run(ctx, "", "nft", "delete", "table", "ip", TableName); err != nil && !strings.Contains(out, "No such file") {
			errs = append(errs, err.Error())
		}
	}
	if cmd.lookPath("iptables-restore") {
		if err := iptCleanup(ctx, cmd); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("proxy cleanup: %s", strings.Join(errs, "; "))
	}
	return nil
}
