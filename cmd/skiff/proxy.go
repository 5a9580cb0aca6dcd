package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/dns"
	"github.com/skiff-sh/skiff/internal/network"
	"github.com/skiff-sh/skiff/internal/proxy"
	"github.com/skiff-sh/skiff/internal/server"
)

// nodeNetOptions are the flags of `skiff proxy`: the service proxy, the pod
// network (routes + masquerade) and the node's cluster DNS, which every node runs.
type nodeNetOptions struct {
	Kubeconfig      string
	NodeName        string
	NodeIP          string
	ClusterCIDR     string
	Mode            string
	MinSyncInterval time.Duration
	DisableDNS      bool
	DisableNetwork  bool
	ClusterDNS      string
	DNSPort         int
}

func init() {
	extraCommands = append(extraCommands, proxyCmd)
	componentsFor = append(componentsFor, func(o server.Options) server.Component {
		if o.DisableAgent {
			return nil
		}
		return func(ctx context.Context, s *server.Server) error {
			return runNodeNet(ctx, s.Loopback, nodeNetOptions{ClusterCIDR: network.DefaultClusterCIDR, ClusterDNS: dns.DefaultClusterDNS})
		}
	})
}

func proxyCmd() *cobra.Command {
	var o nodeNetOptions
	var cleanup bool
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Run the node's service proxy (nftables), pod network routes and cluster DNS",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signalContext()
			defer stop()
			if cleanup {
				return errors.Join(proxy.Cleanup(ctx, nil), network.Cleanup(ctx, nil, nil))
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
			if err != nil {
				return err
			}
			return runNodeNet(ctx, cfg, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&cleanup, "cleanup", false, "remove every rule and route the proxy and pod network installed, then exit")
	f.StringVar(&o.Kubeconfig, "kubeconfig", defaultDataDir()+"/kubeconfig", "kubeconfig to reach the API server")
	f.StringVar(&o.NodeName, "hostname-override", "", "node name (default: the host name)")
	f.StringVar(&o.NodeIP, "node-ip", "", "this node's IP (default: the Node's InternalIP, else the default route's source)")
	f.StringVar(&o.ClusterCIDR, "cluster-cidr", network.DefaultClusterCIDR, "pod network of the cluster")
	f.StringVar(&o.Mode, "proxy-mode", "", "nftables or iptables (default: nftables when available)")
	f.DurationVar(&o.MinSyncInterval, "min-sync-period", 200*time.Millisecond, "minimum interval between rule syncs (batches changes)")
	f.BoolVar(&o.DisableDNS, "disable-dns", false, "do not serve cluster DNS on this node")
	f.BoolVar(&o.DisableNetwork, "disable-pod-network", false, "do not manage pod routes and masquerade")
	f.StringVar(&o.ClusterDNS, "cluster-dns", dns.DefaultClusterDNS, "ClusterIP of kube-system/kube-dns")
	f.IntVar(&o.DNSPort, "dns-port", 53, "port of the node's DNS server (on --node-ip)")
	return cmd
}

// runNodeNet runs the three node networking pieces until ctx ends; the first
// failure stops all of them.
func runNodeNet(ctx context.Context, cfg *rest.Config, o nodeNetOptions) error {
	if o.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return err
		}
		o.NodeName = h
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	results := make(chan result, 3)
	n := 0
	start := func(name string, f func() error) {
		n++
		go func() { results <- result{name, f()} }()
	}
	start("proxy", func() error {
		return proxy.Run(ctx, client, proxy.Config{
			RulesConfig:     proxy.RulesConfig{NodeName: o.NodeName, ClusterCIDR: o.ClusterCIDR, Mode: proxy.Mode(o.Mode)},
			MinSyncInterval: o.MinSyncInterval,
		})
	})
	if !o.DisableNetwork {
		start("pod network", func() error {
			return network.Run(ctx, client, network.Config{NodeName: o.NodeName, ClusterCIDR: o.ClusterCIDR})
		})
	}
	if !o.DisableDNS {
		start("dns", func() error {
			ip := o.NodeIP
			if ip == "" {
				v, err := network.NodeIP(ctx, client, o.NodeName, 30*time.Second)
				if err != nil {
					return err
				}
				ip = v.String()
			}
			return dns.Run(ctx, client, dns.RunConfig{NodeName: o.NodeName, NodeIP: ip, Port: o.DNSPort, ClusterDNS: o.ClusterDNS})
		})
	}
	var first error
	for i := 0; i < n; i++ {
		r := <-results
		if r.err != nil && ctx.Err() == nil {
			log.Printf("skiff proxy: %s stopped: %v", r.name, r.err)
			if first == nil {
				first = fmt.Errorf("%s: %w", r.name, r.err)
			}
		}
		cancel()
	}
	return first
}
