package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"sort"
	"strings"
)

// The iptables fallback is deliberately simpler than the nftables mode: every sync
// rewrites all SKIFF-* chains with one `iptables-restore --noflush` (atomic per
// table), using upstream's classic shape (per-service and per-endpoint chains,
// statistic for balancing, recent for affinity).

const (
	iptServices    = "SKIFF-SERVICES"
	iptNodePorts   = "SKIFF-NODEPORTS"
	iptPostrouting = "SKIFF-POSTROUTING"
	iptFilter      = "SKIFF-FILTER"
)

// iptHooks are the jumps from built-in chains into ours: table, chain, target.
var iptHooks = [][3]string{
	{"nat", "PREROUTING", iptServices},
	{"nat", "OUTPUT", iptServices},
	{"nat", "POSTROUTING", iptPostrouting},
	{"filter", "INPUT", iptFilter},
	{"filter", "FORWARD", iptFilter},
	{"filter", "OUTPUT", iptFilter},
}

type iptRenderer struct {
	ClusterCIDR string
}

// iptChain names a chain after a hash: iptables limits names to 28 characters.
func iptChain(prefix, id string) string {
	sum := sha256.Sum256([]byte(id))
	return prefix + base32.StdEncoding.EncodeToString(sum[:])[:16]
}

func (r iptRenderer) render(sps []*servicePort) string {
	var chains []string
	var nat, filter []string
	add := func(chain string, rule string) { nat = append(nat, "-A "+chain+" "+rule) }
	mark := "-j MARK --set-xmark " + masqMark + "/" + masqMark
	for _, sp := range sps {
		id := sp.id()
		svc, local, ext := iptChain("SKIFF-SVC-", id), iptChain("SKIFF-SVL-", id), iptChain("SKIFF-EXT-", id)
		chains = append(chains, svc)
		comment := fmt.Sprintf(`-m comment --comment "%s"`, id)
		if r.ClusterCIDR != "" {
			add(svc, comment+" ! -s "+r.ClusterCIDR+" "+mark)
		} else {
			add(svc, comment+" "+mark)
		}
		chains = append(chains, r.balance(add, sp, svc, sp.ClusterEndpoints)...)
		needLocal := sp.InternalLocal || (sp.ExternalLocal && sp.hasExternal())
		if needLocal {
			chains = append(chains, local)
			if len(sp.LocalEndpoints) == 0 {
				add(local, "-j DROP")
			}
			chains = append(chains, r.balance(add, sp, local, sp.LocalEndpoints)...)
		}
		match := func(ip string, port int32) string {
			return fmt.Sprintf("%s -d %s/32 -p %s --dport %d", comment, ip, sp.Protocol, port)
		}
		reject := func(m string) {
			filter = append(filter, "-A "+iptFilter+" "+m+" -m conntrack --ctstate NEW -j REJECT")
		}
		if sp.ClusterIP != "" {
			target := svc
			if sp.InternalLocal {
				target = local
			}
			if len(sp.ClusterEndpoints) == 0 {
				reject(match(sp.ClusterIP, sp.Port))
			} else {
				add(iptServices, match(sp.ClusterIP, sp.Port)+" -j "+target)
			}
		}
		if !sp.hasExternal() {
			continue
		}
		target := svc
		if sp.ExternalLocal {
			target = ext
			chains = append(chains, ext)
			if r.ClusterCIDR != "" {
				add(ext, "-s "+r.ClusterCIDR+" -j "+svc)
			}
			add(ext, "-m addrtype --src-type LOCAL -j "+svc)
			add(ext, "-j "+local)
		}
		np := fmt.Sprintf("%s -p %s --dport %d", comment, sp.Protocol, sp.NodePort)
		for _, ip := range sp.ExternalIPs {
			if len(sp.ClusterEndpoints) == 0 {
				reject(match(ip, sp.Port))
			} else {
				add(iptServices, match(ip, sp.Port)+" -j "+target)
			}
		}
		if sp.NodePort != 0 {
			if len(sp.ClusterEndpoints) == 0 {
				reject("-m addrtype --dst-type LOCAL " + np)
			} else {
				add(iptNodePorts, np+" -j "+target)
			}
		}
	}
	add(iptServices, "-m addrtype --dst-type LOCAL -j "+iptNodePorts)
	add(iptPostrouting, "-m mark --mark "+masqMark+"/"+masqMark+" -j MASQUERADE")

	var b strings.Builder
	b.WriteString("*nat\n")
	all := append([]string{iptServices, iptNodePorts, iptPostrouting}, chains...)
	for _, c := range all {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c)
	}
	for _, l := range nat {
		b.WriteString(l + "\n")
	}
	b.WriteString("COMMIT\n*filter\n:" + iptFilter + " - [0:0]\n")
	for _, l := range filter {
		b.WriteString(l + "\n")
	}
	b.WriteString("COMMIT\n")
	return b.String()
}

// balance fills chain with a statistic cascade over per-endpoint chains and
// returns the endpoint chains it created.
func (r iptRenderer) balance(add func(string, string), sp *servicePort, chain string, eps []endpoint) []string {
	var created []string
	for i, ep := range eps {
		sep := iptChain("SKIFF-SEP-", chain+"/"+ep.String())
		created = append(created, sep)
		if sp.AffinityTimeout > 0 {
			add(chain, fmt.Sprintf("-m recent --name %s --rcheck --seconds %d --reap -j %s", sep, sp.AffinityTimeout, sep))
		}
		if n := len(eps) - i; n > 1 {
			add(chain, fmt.Sprintf("-m statistic --mode random --probability %.10f -j %s", 1/float64(n), sep))
		} else {
			add(chain, "-j "+sep)
		}
		add(sep, "-s "+ep.IP+"/32 -j MARK --set-xmark "+masqMark+"/"+masqMark) // hairpin
		recent := ""
		if sp.AffinityTimeout > 0 {
			recent = "-m recent --name " + sep + " --set "
		}
		add(sep, fmt.Sprintf("-p %s %s-j DNAT --to-destination %s", sp.Protocol, recent, ep))
	}
	return created
}

// apply restores the script, deletes SKIFF chains it no longer declares and makes
// sure the built-in chains jump into ours.
func (r iptRenderer) apply(ctx context.Context, cmd commander, script string) error {
	stale, err := iptStaleChains(ctx, cmd, script)
	if err != nil {
		return err
	}
	if len(stale) > 0 {
		// Declaring a chain flushes it, so references between stale chains are gone
		// before the -X lines at the end of the nat section run.
		var decl, del []string
		for _, c := range stale {
			decl = append(decl, ":"+c+" - [0:0]")
			del = append(del, "-X "+c)
		}
		script = strings.Replace(script, "*nat\n", "*nat\n"+strings.Join(decl, "\n")+"\n", 1)
		script = strings.Replace(script, "COMMIT\n", strings.Join(del, "\n")+"\nCOMMIT\n", 1)
	}
	if _, err := cmd.run(ctx, script, "iptables-restore", "-w", "--noflush"); err != nil {
		return err
	}
	return iptEnsureHooks(ctx, cmd)
}

func iptStaleChains(ctx context.Context, cmd commander, script string) ([]string, error) {
	out, err := cmd.run(ctx, "", "iptables-save", "-t", "nat")
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, l := range strings.Split(script, "\n") {
		if strings.HasPrefix(l, ":SKIFF-") {
			want[strings.Fields(l[1:])[0]] = true
		}
	}
	var stale []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, ":SKIFF-") {
			if c := strings.Fields(l[1:])[0]; !want[c] {
				stale = append(stale, c)
			}
		}
	}
	sort.Strings(stale)
	return stale, nil
}

func iptEnsureHooks(ctx context.Context, cmd commander) error {
	for _, h := range iptHooks {
		if _, err := cmd.run(ctx, "", "iptables", "-w", "-t", h[0], "-C", h[1], "-j", h[2]); err == nil {
			continue
		}
		if _, err := cmd.run(ctx, "", "iptables", "-w", "-t", h[0], "-I", h[1], "-j", h[2]); err != nil {
			return err
		}
	}
	return nil
}

// iptCleanup removes the hooks and every SKIFF chain from nat and filter.
func iptCleanup(ctx context.Context, cmd commander) error {
	for _, h := range iptHooks {
		for {
			if _, err := cmd.run(ctx, "", "iptables", "-w", "-t", h[0], "-D", h[1], "-j", h[2]); err != nil {
				break
			}
		}
	}
	for _, table := range []string{"nat", "filter"} {
		out, err := cmd.run(ctx, "", "iptables-save", "-t", table)
		if err != nil {
			return nil // no iptables support in this kernel: nothing to clean
		}
		var decl, del []string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, ":SKIFF-") {
				c := strings.Fields(l[1:])[0]
				decl = append(decl, ":"+c+" - [0:0]")
				del = append(del, "-X "+c)
			}
		}
		if len(decl) == 0 {
			continue
		}
		script := "*" + table + "\n" + strings.Join(decl, "\n") + "\n" + strings.Join(del, "\n") + "\nCOMMIT\n"
		if _, err := cmd.run(ctx, script, "iptables-restore", "-w", "--noflush"); err != nil {
			return err
		}
	}
	return nil
}
