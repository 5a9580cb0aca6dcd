package network

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Peer is another node as the pod network needs it.
type Peer struct {
	Name    string
	PodCIDR *net.IPNet
	NodeIP  net.IP // the node's InternalIP
}

// Backend connects this node to its peers' pod subnets. Implementations own
// their kernel state and must be idempotent: Sync is called with the complete
// peer list every time (level-triggered), from one goroutine.
type Backend interface {
	// Sync makes exactly these peers reachable; peers no longer listed are removed.
	Sync(peers []Peer) error
	// Cleanup removes everything the backend installed.
	Cleanup() error
}

// RouteProtocol tags Skiff's routes (see /etc/iproute2/rt_protos) so the backend
// can find and remove exactly its own.
const RouteProtocol = netlink.RouteProtocol(0x53)

// HostGW routes each peer's podCIDR via the peer's InternalIP. All nodes must
// share an L2 segment (the next hop must be directly reachable).
type HostGW struct {
	// Handle is the netlink handle to use (a namespace in tests); nil: the host.
	Handle *netlink.Handle
}

func (h *HostGW) handle() *netlink.Handle {
	if h.Handle != nil {
		return h.Handle
	}
	return &netlink.Handle{}
}

// Sync adds or replaces one route per peer and deletes Skiff routes of peers gone.
func (h *HostGW) Sync(peers []Peer) error {
	nl := h.handle()
	want := map[string]Peer{}
	for _, p := range peers {
		if p.PodCIDR == nil || p.NodeIP == nil || p.PodCIDR.IP.To4() == nil {
			continue
		}
		want[p.PodCIDR.String()] = p
	}
	have, err := nl.RouteListFiltered(unix.AF_INET, &netlink.Route{Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("network: listing routes: %w", err)
	}
	var errs []error
	for _, r := range have {
		p, ok := want[r.Dst.String()]
		if ok && r.Gw.Equal(p.NodeIP) {
			delete(want, r.Dst.String()) // already right
			continue
		}
		if !ok {
			if err := nl.RouteDel(&r); err != nil {
				errs = append(errs, fmt.Errorf("network: deleting route %s: %w", r.Dst, err))
			}
		}
	}
	for _, p := range want {
		r := &netlink.Route{Dst: p.PodCIDR, Gw: p.NodeIP, Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN}
		if err := nl.RouteReplace(r); err != nil {
			errs = append(errs, fmt.Errorf("network: route %s via %s (node %s): %w", p.PodCIDR, p.NodeIP, p.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Cleanup deletes every Skiff route.
func (h *HostGW) Cleanup() error { return h.Sync(nil) }
