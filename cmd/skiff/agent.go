package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/agent"
	"github.com/skiff-sh/skiff/internal/auth"
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
			cfg := s.Loopback // only its address: the node has its own identity
			// The API server reaches this kubelet with its client certificate,
			// signed by the cluster CA like every kubelet client.
			// A failure (e.g. the kubelet port is taken) is logged by the agent and
			// ends only this component: the control plane keeps serving.
			addr := ""
			if o.KubeletPort != 0 {
				addr = ":" + strconv.Itoa(o.KubeletPort)
			}
			// The local node authenticates as system:node:<hostname> with a
			// certificate the cluster CA issues directly, not with the loopback token.
			ca, err := auth.LoadCA(filepath.Join(o.DataDir, "tls", "ca.crt"), filepath.Join(o.DataDir, "tls", "ca.key"))
			if err != nil {
				return err
			}
			nodeName, _ := os.Hostname()
			dir := filepath.Join(o.DataDir, "agent")
			rc, err := agent.LocalNodeConfig(ctx, dir, nodeName, cfg.Host, ca)
			if err != nil {
				return err
			}
			// ClusterFirst pods resolve through kube-dns, served by this node's DNS.
			return agent.Run(ctx, agent.Config{DataDir: dir, NodeName: nodeName, KubeletAddress: addr,
				ClusterDNS: []string{dns.DefaultClusterDNS}, ClusterCA: ca.CertPEM}, rc)
		}
	})
}

type agentFlags struct {
	cfg            agent.Config
	kubeconfig     string
	server         string
	token          string
	caCertHash     string
	nodeIP         string
	clusterDNS     string
	clusterCIDR    string
	disableNodeNet bool
	evictionHard   string
}

func (f *agentFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", "API server URL to join (https://HOST:PORT); with --token and --ca-cert-hash on the first start")
	fl.StringVar(&f.token, "token", "", "bootstrap token (<id>.<secret>, from `skiff token create`) exchanged for this node's certificate")
	fl.StringVar(&f.caCertHash, "ca-cert-hash", "", "pin of the cluster CA: sha256:<hex of its public key> (printed by `skiff token create --print-join-command`)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig to reach the API server instead of joining with a token")
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

// clientConfig is how the node reaches the server: its own certificate (joining
// with a bootstrap token the first time), or an explicit --kubeconfig.
func (f *agentFlags) clientConfig(ctx context.Context) (*rest.Config, error) {
	agentDir := filepath.Join(f.cfg.DataDir, "agent")
	if f.kubeconfig == "" {
		if f.cfg.NodeName == "" {
			f.cfg.NodeName, _ = os.Hostname()
		}
		rc, ca, err := agent.Join(ctx, agentDir, f.cfg.NodeName, f.server, f.token, f.caCertHash)
		if err != nil {
			return nil, err
		}
		f.cfg.ClusterCA = ca
		return rc, nil
	}
	if f.server != "" || f.token != "" {
		return nil, errors.New("--kubeconfig and --server/--token are alternatives: give one")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", f.kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return rc, nil
}

func (f *agentFlags) run() error {
	ctx, stop := signalContext()
	defer stop()
	rc, err := f.clientConfig(ctx)
	if err != nil {
		return err
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
