package network

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// DefaultClusterCIDR is the pod network of a default Skiff cluster.
const DefaultClusterCIDR = "10.42.0.0/16"

// Config configures Run.
type Config struct {
	NodeName    string
	ClusterCIDR string // DefaultClusterCIDR when empty
	// Backend connects the nodes; a HostGW on the host when nil.
	Backend Backend
	// NFTPrefix runs nft elsewhere (tests); SkipSysctl leaves ip_forward alone.
	NFTPrefix  []string
	SkipSysctl bool
	Logf       func(format string, args ...any)
}

// Run installs the masquerade, turns on forwarding and keeps the backend's peers
// equal to the other Nodes (with a podCIDR and an InternalIP) until ctx ends.
// Node events only mark the state dirty; this goroutine owns the backend.
func Run(ctx context.Context, client kubernetes.Interface, cfg Config) error {
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = DefaultClusterCIDR
	}
	if cfg.Backend == nil {
		cfg.Backend = &HostGW{}
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	if !cfg.SkipSysctl {
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
			return fmt.Errorf("network: enabling ip_forward: %w", err)
		}
	}
	if err := EnsureMasquerade(ctx, cfg.NFTPrefix, cfg.ClusterCIDR); err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	nodes := factory.Core().V1().Nodes()
	dirty := make(chan struct{}, 1)
	mark := func() {
		select {
		case dirty <- struct{}{}:
		default:
		}
	}
	if _, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { mark() }, UpdateFunc: func(any, any) { mark() }, DeleteFunc: func(any) { mark() },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), nodes.Informer().HasSynced) {
		return ctx.Err()
	}
	mark()
	// Resync now and then: someone may delete our routes (ifdown/ifup does).
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-dirty:
		case <-tick.C:
		}
		list, err := nodes.Lister().List(labels.Everything())
		if err != nil {
			return err
		}
		if err := cfg.Backend.Sync(Peers(list, cfg.NodeName)); err != nil {
			cfg.Logf("network: %v (retrying)", err)
			time.AfterFunc(2*time.Second, mark)
		}
	}
}

// Peers turns Node objects into the backend's peers, leaving out this node and
// nodes without a podCIDR or an InternalIP (not routable yet).
func Peers(nodes []*corev1.Node, self string) []Peer {
	var out []Peer
	for _, n := range nodes {
		if n.Name == self || n.Spec.PodCIDR == "" {
			continue
		}
		_, cidr, err := net.ParseCIDR(n.Spec.PodCIDR)
		if err != nil {
			continue
		}
		var ip net.IP
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				if v := net.ParseIP(a.Address).To4(); v != nil {
					ip = v
					break
				}
			}
		}
		if ip == nil {
			continue
		}
		out = append(out, Peer{Name: n.Name, PodCIDR: cidr, NodeIP: ip})
	}
	return out
}

// Cleanup removes the masquerade table and the backend's routes.
func Cleanup(ctx context.Context, backend Backend, nftPrefix []string) error {
	if backend == nil {
		backend = &HostGW{}
	}
	return errors.Join(RemoveMasquerade(ctx, nftPrefix), backend.Cleanup())
}

// NodeIP picks the address this node is known by: the Node's InternalIP when the
// Node object exists (waiting up to wait for the kubelet to register it), else
// the source address of the host's default route.
func NodeIP(ctx context.Context, client kubernetes.Interface, nodeName string, wait time.Duration) (net.IP, error) {
	deadline := time.Now().Add(wait)
	for {
		if n, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{}); err == nil {
			for _, a := range n.Status.Addresses {
				if ip := net.ParseIP(a.Address).To4(); a.Type == corev1.NodeInternalIP && ip != nil {
					return ip, nil
				}
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	routes, err := netlink.RouteGet(net.ParseIP("1.1.1.1"))
	if err == nil {
		for _, r := range routes {
			if r.Src.To4() != nil {
				return r.Src.To4(), nil
			}
		}
	}
	return nil, fmt.Errorf("network: no InternalIP for node %q and no default route: set --node-ip", nodeName)
}
