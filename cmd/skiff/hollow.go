package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/hollow"
)

func init() { extraCommands = append(extraCommands, hollowCmd) }

// hollowCmd runs N hollow nodes (real kubelets over an in-memory runtime) in one
// process, to load a control plane as N machines would.
func hollowCmd() *cobra.Command {
	var (
		kubeconfig string
		opts       hollow.Options
	)
	cmd := &cobra.Command{
		Use:   "hollow",
		Short: "Run N hollow nodes (real kubelets over an in-memory container runtime) in one process",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := clientConfig(kubeconfig, 0, 0)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			start := time.Now()
			c, wait, err := hollow.Start(ctx, cfg, opts)
			if err != nil {
				return err
			}
			go func() {
				select {
				case <-c.Registered:
					fmt.Fprintf(cmd.OutOrStdout(), "%d hollow nodes registered in %s\n", len(c.Nodes), time.Since(start).Round(time.Millisecond))
				case <-ctx.Done():
				}
			}()
			return wait()
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the API server (default $KUBECONFIG or <data-dir>/kubeconfig)")
	f.IntVar(&opts.Nodes, "nodes", 1, "number of hollow nodes")
	f.StringVar(&opts.NamePrefix, "name-prefix", "hollow-", "node name prefix (nodes are <prefix>0 .. <prefix>N-1)")
	f.DurationVar(&opts.StartDelay, "start-delay", 0, "how long each pod sandbox takes to start")
	f.Float32Var(&opts.QPS, "kube-api-qps", 50, "API requests per second of each node")
	f.IntVar(&opts.Burst, "kube-api-burst", 100, "API request burst of each node")
	f.BoolVar(&opts.SharedClient, "shared-client", false, "one clientset (and rate limiter) for all nodes instead of one per node")
	f.IntVar(&opts.Register, "register-concurrency", 50, "nodes registering at once")
	return cmd
}
