// Package network is the node's pod network, the part of the seed's "virtual
// network spanning all nodes" that is not Services:
//
//   - WriteCNIConfig writes the CNI configuration containerd uses to give each pod
//     an address: a bridge (skiff0) with host-local IPAM over the node's podCIDR,
//     portmap for hostPort, and loopback.
//   - a Backend connects this node to the other nodes' podCIDRs. HostGW (the only
//     one today) adds one kernel route per peer: podCIDR via the peer's InternalIP.
//     That needs every node on one L2 segment. An overlay for routed networks
//     plugs in behind the same interface: a VXLAN backend would create a vxlan
//     device (VNI 1, port 8472) once, and in Sync add per peer a route
//     podCIDR via <peer's vtep IP> onlink dev skiff.vxlan, an ARP entry for that
//     vtep IP and an FDB entry mapping the vtep MAC to the peer's InternalIP (the
//     MAC published by each node in a Node annotation). Nothing else changes.
//   - Masquerade (nft table `ip skiff-net`) rewrites the source of pod traffic
//     that leaves the cluster CIDR; pod-to-pod traffic keeps its addresses.
//
// Run keeps the backend in sync with the Node objects, seen only through the API.
package network
