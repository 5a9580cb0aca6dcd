package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/agent"
	"github.com/skiff-sh/skiff/internal/dns"
	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/network"
	"github.com/skiff-sh/skiff/internal/server"
)

func init() {
	extraCommands = append(extraCommands, agentCmd)
	// The local node of `skiff server`: containerd + kubelet under <data-dir>/agent.
	componentsFor = append(componentsFor, func(o server.Options) server.Component {
		if o.DisableAgent {
			return nil
		}
		return func(ctx context.Context, s *server.Server) error {
			// The local node keeps the loopback credentials until it gets its
			// own node identity.
			cfg := s.Loopback
			// The API server reaches this kubelet with its client certificate,
			// signed by the cluster CA like every kubelet client.
			// A failure (e.g. the kubelet port is taken) is logged by the agent and
			// ends only this component: the control plane keeps serving.
			addr := ""
			if o.KubeletPort != 0 {
				addr = ":" + strconv.Itoa(o.KubeletPort)
			}
			// ClusterFirst pods resolve through kube-dns, served by this node's DNS.
			return agent.Run(ctx, agent.Config{DataDir: filepath.Join(o.DataDir, "agent"), KubeletAddress: addr,
				ClusterDNS: []string{dns.DefaultClusterDNS}}, cfg)
		}
	})
}

type agentFlags struct {
	cfg            agent.Config
	kubeconfig     string
	nodeIP         string
	clusterDNS     string
	clusterCIDR    string
	disableNodeNet bool
	evictionHard   string
}

func (f *agentFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig to reach the API server (default: <data-dir>/kubeconfig)")
	fl.StringVar(&f.cfg.DataDir, "data-dir", defaultDataDir(), "data directory (the agent uses <data-dir>/agent)")
	fl.StringVar(&f.cfg.NodeName, "node-name", "", "node name (default: hostname)")
	fl.StringVar(&f.nodeIP, "node-ip", "", "InternalIP to report (default: the default route's source address)")
	fl.StringVar(&f.cfg.RuntimeEndpoint, "container-runtime-endpoint", "", "use this CRI socket instead of starting containerd")
	fl.StringVar(&f.cfg.KubeletAddress, "kubelet-address", ":10250", "kubelet server listen address")
	fl.StringVar(&f.cfg.PodManifestPath, "pod-manifest-path", "", "directory of static pod manifests (YAML/JSON Pods) to run on this node, published as mirror pods")
	fl.StringVar(&f.cfg.CNIBinDir, "cni-bin-dir", "/usr/lib/cni", "CNI plugin directory")
	fl.StringVar(&f.clusterDNS, "cluster-dns", dns.DefaultClusterDNS, "nameserver of dnsPolicy ClusterFirst pods (the kube-dns ClusterIP); empty: the node's resolv.conf")
	fl.StringVar(&f.clusterCIDR, "cluster-cidr", network.DefaultClusterCIDR, "pod network of the cluster")
	fl.BoolVar(&f.disableNodeNet, "disable-proxy", false, "do not run the node's service proxy, pod network routes and DNS (run `skiff proxy` separately)")
	fl.StringVar(&f.evictionHard, "eviction-hard", "", "hard eviction thresholds, e.g. memory.available<100Mi,nodefs.available<10% (default: those two); a 0 value disables a signal")
	fl.BoolVar(&f.cfg.AllowLocalAnonymous, "kubelet-allow-local-anonymous", false, "accept unauthenticated kubelet API requests from this machine's own addresses")
}

func (f *agentFlags) run() error {
	if f.kubeconfig == "" {
		f.kubeconfig = filepath.Join(f.cfg.DataDir, "kubeconfig")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", f.kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	if f.nodeIP != "" {
		if f.cfg.NodeIP = net.ParseIP(f.nodeIP); f.cfg.NodeIP == nil {
			return fmt.Errorf("--node-ip %q is not an IP", f.nodeIP)
		}
	}
	if f.evictionHard != "" {
		if f.cfg.EvictionHard, err = kubelet.ParseEvictionHard(f.evictionHard); err != nil {
			return fmt.Errorf("--eviction-hard: %w", err)
		}
	}
	f.cfg.DataDir = filepath.Join(f.cfg.DataDir, "agent")
	if f.clusterDNS != "" {
		f.cfg.ClusterDNS = []string{f.clusterDNS}
	}
	ctx, stop := signalContext()
	defer stop()
	if f.disableNodeNet {
		return agent.Run(ctx, f.cfg, rc)
	}
	// Every node runs the proxy, the pod network and DNS beside the kubelet, as
	// `skiff server`'s local node does; the first to stop ends the other.
	errc := make(chan error, 2)
	go func() { errc <- agent.Run(ctx, f.cfg, rc) }()
	go func() {
		errc <- runNodeNet(ctx, rc, nodeNetOptions{NodeName: f.cfg.NodeName, NodeIP: f.nodeIP,
			ClusterCIDR: f.clusterCIDR, ClusterDNS: f.clusterDNS})
	}()
	err = <-errc
	stop()
	return errors.Join(err, <-errc)
}

func agentCmd() *cobra.Command {
	f := &agentFlags{}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a node: supervised containerd, kubelet and its server, joining a server through a kubeconfig",
		RunE:  func(cmd *cobra.Command, args []string) error { return f.run() },
	}
	f.register(cmd)
	return cmd
}
