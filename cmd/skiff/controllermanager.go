package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/controllermanager"
	"github.com/skiff-sh/skiff/internal/server"
)

func init() {
	extraCommands = append(extraCommands, controllerManagerCmd)
	componentsFor = append(componentsFor, func(o server.Options) server.Component {
		if o.DisableControllers {
			return nil
		}
		return func(ctx context.Context, s *server.Server) error {
			// Each controller acts as its own kube-system service account
			// (upstream's --use-service-account-credentials); the shared
			// informers and leader election use the controller manager's identity.
			// The CSR signer signs with the cluster CA of the data dir.
			tls := filepath.Join(o.DataDir, "tls")
			return runControllerManager(ctx, s.ControllerManager, controllermanager.Options{
				NodeMonitorPeriod: o.NodeMonitorPeriod, NodeMonitorGracePeriod: o.NodeMonitorGracePeriod,
				ClientFor:              clientsFor(s.ControllerConfig),
				ClusterSigningCertFile: filepath.Join(tls, "ca.crt"), ClusterSigningKeyFile: filepath.Join(tls, "ca.key")})
		}
	})
}

func controllerManagerCmd() *cobra.Command {
	var (
		kubeconfig string
		opts       controllermanager.Options
	)
	cmd := &cobra.Command{
		Use:   "controller-manager",
		Short: "Run the controllers (replication, deployments, nodes, endpoints, garbage collection ...) against an API server",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := clientConfig(kubeconfig, 1000, 2000)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			return runControllerManager(ctx, cfg, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the API server (default $KUBECONFIG or <data-dir>/kubeconfig)")
	f.StringSliceVar(&opts.Controllers, "controllers", []string{"*"}, "controllers to run: * for all, name to add, -name to remove")
	f.BoolVar(&opts.LeaderElect, "leader-elect", false, "elect a leader on the Lease kube-system/skiff-controller-manager, for HA")
	f.DurationVar(&opts.NodeMonitorPeriod, "node-monitor-period", 5*time.Second, "how often node heartbeats are checked")
	f.DurationVar(&opts.NodeMonitorGracePeriod, "node-monitor-grace-period", 40*time.Second, "heartbeat age after which a node becomes Unknown")
	f.StringVar(&opts.ClusterCIDR, "cluster-cidr", "10.42.0.0/16", "range node podCIDRs are allocated from")
	f.IntVar(&opts.NodeCIDRMaskSize, "node-cidr-mask-size", 24, "size of each node's podCIDR")
	f.IntVar(&opts.ConcurrentSyncs, "concurrent-syncs", 5, "workers per controller")
	f.StringVar(&opts.ClusterSigningCertFile, "cluster-signing-cert-file", "", "CA certificate the CSR signer issues node and client certificates from (the cluster CA)")
	f.StringVar(&opts.ClusterSigningKeyFile, "cluster-signing-key-file", "", "private key of --cluster-signing-cert-file")
	f.DurationVar(&opts.ClusterSigningDuration, "cluster-signing-duration", 365*24*time.Hour, "longest lifetime of a certificate the CSR signer issues")
	f.Var(fileBytes{&opts.RootCA}, "root-ca-file", "CA bundle published in every namespace as the kube-root-ca.crt ConfigMap (default: the kubeconfig's CA)")
	f.StringVar(&opts.HealthAddr, "bind-address", "127.0.0.1:10257", "address of /healthz and /metrics (empty: off)")
	return cmd
}

// clientsFor builds a controller's clients from its service account's config;
// a controller without one uses the controller manager's own clients.
func clientsFor(configFor func(sa string) *rest.Config) func(sa string) (kubernetes.Interface, metadata.Interface, error) {
	return func(sa string) (kubernetes.Interface, metadata.Interface, error) {
		cfg := configFor(sa)
		if cfg == nil {
			return nil, nil, nil
		}
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, nil, err
		}
		md, err := metadata.NewForConfig(cfg)
		return c, md, err
	}
}

// runControllerManager runs every enabled controller until ctx ends. The garbage
// collector and the namespace controller need a metadata client for all resources.
func runControllerManager(ctx context.Context, cfg *rest.Config, opts controllermanager.Options) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return err
	}
	opts.Metadata = md
	if len(opts.RootCA) == 0 { // as upstream: the CA the kubeconfig trusts the API server with
		opts.RootCA = cfg.CAData
		if len(opts.RootCA) == 0 && cfg.CAFile != "" {
			if opts.RootCA, err = os.ReadFile(cfg.CAFile); err != nil {
				return err
			}
		}
	}
	return controllermanager.Run(ctx, client, opts)
}

// fileBytes is a flag whose value is a file name, read when the flag is set.
type fileBytes struct{ b *[]byte }

func (f fileBytes) String() string { return "" }
func (f fileBytes) Type() string   { return "file" }
func (f fileBytes) Set(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	*f.b = b
	return nil
}
