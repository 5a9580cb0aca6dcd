// Package proxy is Skiff's kube-proxy: it watches Services and EndpointSlices
// through the API (client-go informers, nothing else) and programs the node's
// kernel so that ClusterIPs, NodePorts, external IPs and load-balancer IPs reach
// ready endpoints.
//
// The work is split the way the style guide asks:
//
//   - model.go is pure: API objects → []servicePort (what each service port should
//     do on this node: endpoints chosen, policies resolved).
//   - nftables.go is pure: []servicePort → desired nftables state, and
//     (previous, desired) → one nft script (a single atomic transaction) that only
//     touches what changed. iptables.go renders the same model for
//     iptables-restore when nft is missing.
//   - proxier.go is the shell: informers mark the state dirty, one goroutine owns
//     the applied state and runs syncs no more often than MinSyncInterval.
//
// Rules live in their own table `ip skiff` (or chains prefixed SKIFF- in the iptables
// nat table), so Cleanup removes exactly what the proxy added.
package proxy
