package proxy

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// TableName is the nftables table (family ip) that holds every proxy rule.
const TableName = "skiff"

// masqMark is the packet mark bit that asks the postrouting chain to masquerade.
const masqMark = "0x4000"

// The named maps and sets of the table. Service entry points are verdict-map
// elements, so adding, changing or removing one service port touches one element
// and that port's own chains — never a rule shared by every service.
const (
	mapServiceIPs     = "service-ips"       // daddr . proto . dport → goto chain
	mapNodePorts      = "service-nodeports" // proto . dport → goto chain (local daddr)
	setNoEndpoints    = "no-endpoints"      // daddr . proto . dport: reject
	setNoEndpointPort = "no-endpoint-nodeports"
	setHairpin        = "hairpin" // endpoint IP . same IP: masquerade a pod reaching itself
)

var elementSets = []string{mapServiceIPs, mapNodePorts, setNoEndpoints, setNoEndpointPort, setHairpin}

// nftState is the per-service part of the table: chains, affinity sets and the
// elements of the shared maps. The fixed skeleton (base chains, map declarations)
// is only written by a full sync.
type nftState struct {
	chains map[string][]string          // chain name → rules
	sets   map[string]int32             // affinity set name → timeout seconds
	elems  map[string]map[string]string // map or set name → key → value ("" for sets)
}

func newNFTState() *nftState {
	s := &nftState{chains: map[string][]string{}, sets: map[string]int32{}, elems: map[string]map[string]string{}}
	for _, m := range elementSets {
		s.elems[m] = map[string]string{}
	}
	return s
}

// nftRenderer turns the model into nftState; ClusterCIDR decides which sources
// count as "inside the cluster" (they keep their source address).
type nftRenderer struct {
	ClusterCIDR string // "" masquerades all service traffic
}

// skeleton is the fixed part of the table, declared in a full sync.
func (r nftRenderer) skeleton() string {
	return `table ip ` + TableName + ` {
	map ` + mapServiceIPs + ` { type ipv4_addr . inet_proto . inet_service : verdict ; }
	map ` + mapNodePorts + ` { type inet_proto . inet_service : verdict ; }
	set ` + setNoEndpoints + ` { type ipv4_addr . inet_proto . inet_service ; }
	set ` + setNoEndpointPort + ` { type inet_proto . inet_service ; }
	set ` + setHairpin + ` { type ipv4_addr . ipv4_addr ; }
	chain services {
		ip daddr . meta l4proto . th dport vmap @` + mapServiceIPs + `
		fib daddr type local meta l4proto . th dport vmap @` + mapNodePorts + `
	}
	chain nat-prerouting { type nat hook prerouting priority dstnat ; policy accept ; jump services ; }
	chain nat-output { type nat hook output priority -100 ; policy accept ; jump services ; }
	chain nat-postrouting {
		type nat hook postrouting priority srcnat ; policy accept ;
		meta mark & ` + masqMark + ` == ` + masqMark + ` masquerade
		ct status dnat ip saddr . ip daddr @` + setHairpin + ` masquerade
	}
	chain reject-no-endpoints {
		ct state new ip daddr . meta l4proto . th dport @` + setNoEndpoints + ` reject
		ct state new fib daddr type local meta l4proto . th dport @` + setNoEndpointPort + ` reject
	}
	chain filter-input { type filter hook input priority filter - 10 ; policy accept ; jump reject-no-endpoints ; }
	chain filter-forward { type filter hook forward priority filter - 10 ; policy accept ; jump reject-no-endpoints ; }
	chain filter-output { type filter hook output priority filter - 10 ; policy accept ; jump reject-no-endpoints ; }
}
`
}

// render computes the desired per-service state.
func (r nftRenderer) render(sps []*servicePort) *nftState {
	s := newNFTState()
	for _, sp := range sps {
		r.renderPort(s, sp)
	}
	return s
}

func (r nftRenderer) renderPort(s *nftState, sp *servicePort) {
	id := sp.id()
	clusterChain, localChain, extChain := "svc-"+id, "local-"+id, "ext-"+id
	needLocal := sp.InternalLocal || (sp.ExternalLocal && sp.hasExternal())

	// The cluster-wide chain: masquerade sources outside the cluster (the host,
	// external clients) so replies come back through this node, then balance.
	cluster := []string{}
	if r.ClusterCIDR != "" {
		cluster = append(cluster, "ip saddr != "+r.ClusterCIDR+" meta mark set meta mark | "+masqMark)
	} else {
		cluster = append(cluster, "meta mark set meta mark | "+masqMark)
	}
	cluster = append(cluster, r.balance(s, sp, sp.ClusterEndpoints)...)
	s.chains[clusterChain] = cluster
	for _, ep := range sp.ClusterEndpoints {
		s.elems[setHairpin][ep.IP+" . "+ep.IP] = ""
	}
	if needLocal {
		local := r.balance(s, sp, sp.LocalEndpoints)
		if len(sp.LocalEndpoints) == 0 {
			local = []string{"drop"} // Local policy and nothing here: never forward elsewhere
		}
		s.chains[localChain] = local
	}

	proto, port := sp.Protocol, strconv.Itoa(int(sp.Port))
	if sp.ClusterIP != "" {
		key := sp.ClusterIP + " . " + proto + " . " + port
		target := clusterChain
		if sp.InternalLocal {
			target = localChain // drops when endpoints exist only on other nodes
		}
		if len(sp.ClusterEndpoints) == 0 {
			s.elems[setNoEndpoints][key] = "" // no endpoints anywhere: reject (ICMP unreachable)
		} else {
			s.elems[mapServiceIPs][key] = "goto " + target
		}
	}
	if !sp.hasExternal() {
		return
	}
	// External entry: with externalTrafficPolicy Local, traffic from pods and from
	// the node itself may still use any endpoint (upstream's short-circuit), the rest
	// only local endpoints, unmasqueraded so the client address is preserved.
	target := clusterChain
	if sp.ExternalLocal {
		target = extChain
		rules := []string{}
		if r.ClusterCIDR != "" {
			rules = append(rules, "ip saddr "+r.ClusterCIDR+" goto "+clusterChain)
		}
		rules = append(rules, "fib saddr type local goto "+clusterChain, "goto "+localChain)
		s.chains[extChain] = rules
	}
	if len(sp.ClusterEndpoints) == 0 {
		for _, ip := range sp.ExternalIPs {
			s.elems[setNoEndpoints][ip+" . "+proto+" . "+port] = ""
		}
		if sp.NodePort != 0 {
			s.elems[setNoEndpointPort][proto+" . "+strconv.Itoa(int(sp.NodePort))] = ""
		}
		return
	}
	for _, ip := range sp.ExternalIPs {
		s.elems[mapServiceIPs][ip+" . "+proto+" . "+port] = "goto " + target
	}
	if sp.NodePort != 0 {
		s.elems[mapNodePorts][proto+" . "+strconv.Itoa(int(sp.NodePort))] = "goto " + target
	}
}

// balance returns the rules that DNAT to one of eps, chosen at random (or by the
// client's affinity entry). With session affinity each endpoint gets a chain and a
// dynamic set of recent clients, named after the endpoint so an unchanged endpoint
// keeps its clients across syncs.
func (r nftRenderer) balance(s *nftState, sp *servicePort, eps []endpoint) []string {
	if len(eps) == 0 {
		return nil
	}
	l4 := "meta l4proto " + sp.Protocol + " "
	if sp.AffinityTimeout == 0 {
		if len(eps) == 1 {
			return []string{l4 + "dnat ip to " + eps[0].String()}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%sdnat ip to numgen random mod %d map { ", l4, len(eps))
		for i, ep := range eps {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%d : %s . %d", i, ep.IP, ep.Port)
		}
		b.WriteString(" }")
		return []string{b.String()}
	}
	var rules []string
	var vmap strings.Builder
	fmt.Fprintf(&vmap, "numgen random mod %d vmap { ", len(eps))
	for i, ep := range eps {
		suffix := sp.id() + "/" + ep.IP + "/" + itoa(ep.Port)
		set, chain := "aff-"+suffix, "sep-"+suffix
		s.sets[set] = sp.AffinityTimeout
		s.chains[chain] = []string{"update @" + set + " { ip saddr }", l4 + "dnat ip to " + ep.String()}
		rules = append(rules, "ip saddr @"+set+" goto "+chain)
		if i > 0 {
			vmap.WriteString(", ")
		}
		fmt.Fprintf(&vmap, "%d : goto %s", i, chain)
	}
	vmap.WriteString(" }")
	return append(rules, vmap.String())
}

// fullScript recreates the table from scratch in one transaction: the leading
// add+delete makes it work whether or not the table exists.
func (r nftRenderer) fullScript(desired *nftState) string {
	return r.fullHeader() + diffScript(newNFTState(), desired)
}

// fullHeader (re)creates the table skeleton; the leading add+delete makes it work
// whether or not the table exists.
func (r nftRenderer) fullHeader() string {
	return "add table ip " + TableName + "\ndelete table ip " + TableName + "\n" + r.skeleton()
}

// diffScript is the transaction from prev to desired (whole states); "" when equal.
func diffScript(prev, desired *nftState) string {
	var b strings.Builder
	writeDiff(&b, prev, desired, elemDiff(prev, desired))
	return b.String()
}

// elemDiff returns, per map or set, the keys to delete and the elements to add.
func elemDiff(prev, desired *nftState) map[string][2][]string {
	out := map[string][2][]string{}
	for _, m := range elementSets {
		old, cur := prev.elems[m], desired.elems[m]
		var del, add []string
		for k, v := range old {
			if v2, ok := cur[k]; !ok || v2 != v {
				del = append(del, k)
			}
		}
		for k, v := range cur {
			if v2, ok := old[k]; !ok || v2 != v {
				add = append(add, elemText(k, v))
			}
		}
		sort.Strings(del)
		sort.Strings(add)
		out[m] = [2][]string{del, add}
	}
	return out
}

// writeDiff writes the chain and set changes from prev to desired plus the given
// element changes (keys to delete, elements to add). It orders the commands so every reference is valid at each step: sets and
// empty chains first, then chain bodies, then map elements, and only then removal
// of what nothing references any more.
func writeDiff(b *strings.Builder, prev, desired *nftState, elems map[string][2][]string) {
	t := "ip " + TableName + " "
	for _, name := range sortedKeys(desired.sets) {
		if _, ok := prev.sets[name]; !ok {
			fmt.Fprintf(b, "add set %s%s { type ipv4_addr ; flags dynamic,timeout ; timeout %ds ; }\n", t, name, desired.sets[name])
		}
	}
	names := sortedKeys(desired.chains)
	for _, name := range names {
		if _, ok := prev.chains[name]; !ok {
			fmt.Fprintf(b, "add chain %s%s\n", t, name)
		}
	}
	for _, name := range names {
		old, existed := prev.chains[name]
		rules := desired.chains[name]
		if existed && equalStrings(old, rules) {
			continue
		}
		if existed {
			fmt.Fprintf(b, "flush chain %s%s\n", t, name)
		}
		for _, rule := range rules {
			fmt.Fprintf(b, "add rule %s%s %s\n", t, name, rule)
		}
	}
	for _, m := range elementSets {
		d := elems[m]
		if len(d[0]) > 0 {
			fmt.Fprintf(b, "delete element %s%s { %s }\n", t, m, strings.Join(d[0], ", "))
		}
		if len(d[1]) > 0 {
			fmt.Fprintf(b, "add element %s%s { %s }\n", t, m, strings.Join(d[1], ", "))
		}
	}
	var gone []string
	for _, name := range sortedKeys(prev.chains) {
		if _, ok := desired.chains[name]; !ok {
			gone = append(gone, name)
		}
	}
	// Flush them all before deleting any, so jumps between stale chains don't block.
	for _, name := range gone {
		fmt.Fprintf(b, "flush chain %s%s\n", t, name)
	}
	for _, name := range gone {
		fmt.Fprintf(b, "delete chain %s%s\n", t, name)
	}
	for _, name := range sortedKeys(prev.sets) {
		if _, ok := desired.sets[name]; !ok {
			fmt.Fprintf(b, "delete set %s%s\n", t, name)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }
