package main

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/scheduler"
	"github.com/skiff-sh/skiff/internal/server"
)

func init() {
	extraCommands = append(extraCommands, schedulerCmd)
	componentsFor = append(componentsFor, func(o server.Options) server.Component {
		if o.DisableScheduler {
			return nil
		}
		return func(ctx context.Context, s *server.Server) error {
			return runScheduler(ctx, s.Scheduler, scheduler.Options{}, "")
		}
	})
}

func schedulerCmd() *cobra.Command {
	var (
		kubeconfig, addr string
		opts             scheduler.Options
	)
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Run the scheduler against an API server",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := clientConfig(kubeconfig, 5000, 10000)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			return runScheduler(ctx, cfg, opts, addr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the API server (default $KUBECONFIG or <data-dir>/kubeconfig)")
	f.StringVar(&opts.ConfigFile, "config", "", "KubeSchedulerConfiguration file (profiles, plugins, weights, extenders)")
	f.BoolVar(&opts.LeaderElect, "leader-elect", false, "elect a leader on the Lease kube-system/skiff-scheduler, for HA")
	f.StringVar(&addr, "bind-address", "127.0.0.1:10259", "address of /healthz and /metrics (empty: off)")
	return cmd
}

func runScheduler(ctx context.Context, cfg *rest.Config, opts scheduler.Options, addr string) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	s, err := scheduler.New(client, opts)
	if err != nil {
		return err
	}
	if addr != "" {
		go serveHealth(ctx, addr, s.Handler())
	}
	return s.Run(ctx)
}

// serveHealth serves a component's /healthz and /metrics until ctx ends.
func serveHealth(ctx context.Context, addr string, h http.Handler) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return
	}
	srv := &http.Server{Handler: h}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return
	}
}
