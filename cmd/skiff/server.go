package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/authz"
	"github.com/skiff-sh/skiff/internal/server"
)

// defaultDataDir is /var/lib/skiff for root and ~/.skiff otherwise.
func defaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/skiff"
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".skiff")
}

func serverFlags(cmd *cobra.Command, o *server.Options) {
	f := cmd.Flags()
	f.StringVar(&o.DataDir, "data-dir", defaultDataDir(), "directory for etcd data, certificates and the admin kubeconfig")
	f.StringVar(&o.BindAddress, "bind-address", "0.0.0.0", "address the API server listens on")
	f.IntVar(&o.HTTPSPort, "https-port", 6443, "HTTPS port of the API server (0 picks a free port)")
	f.StringSliceVar(&o.EtcdServers, "etcd-servers", nil, "external etcd endpoints (default: embedded etcd in <data-dir>/etcd)")
	f.StringVar(&o.EtcdCAFile, "etcd-cafile", "", "CA bundle of the external etcd cluster")
	f.StringVar(&o.EtcdCertFile, "etcd-certfile", "", "client certificate for the external etcd cluster")
	f.StringVar(&o.EtcdKeyFile, "etcd-keyfile", "", "client key for the external etcd cluster")
	f.StringVar(&o.ServiceCIDR, "service-cluster-ip-range", "10.43.0.0/16", "range of Service ClusterIPs")
	f.StringVar(&o.TokenFile, "token-auth-file", "", "CSV file of bearer tokens: token,user,uid,\"group1,group2\"")
	f.StringSliceVar(&o.AuthorizationModes, "authorization-mode", authz.DefaultModes,
		"ordered list of authorizers: Node, RBAC, AlwaysAllow, AlwaysDeny (system:masters always bypasses)")
	f.StringSliceVar(&o.ExtraSANs, "tls-san", nil, "extra host names or IPs for the serving certificate")
}

// signalContext ends on SIGINT or SIGTERM, so every component stops cleanly.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func serverCmd() *cobra.Command {
	var o server.Options
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane (etcd, API server, scheduler, controller manager) and a local node",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServer(o)
		},
	}
	serverFlags(cmd, &o)
	cmd.Flags().BoolVar(&o.DisableAgent, "disable-agent", false, "do not run a node agent in this process")
	cmd.Flags().IntVar(&o.KubeletPort, "kubelet-port", 10250, "port of the local node's kubelet server")
	cmd.Flags().BoolVar(&o.DisableScheduler, "disable-scheduler", false, "do not run the scheduler in this process")
	cmd.Flags().BoolVar(&o.DisableControllers, "disable-controller-manager", false, "do not run the controller manager in this process")
	cmd.Flags().DurationVar(&o.NodeMonitorPeriod, "node-monitor-period", 5*time.Second, "how often the controller manager checks node heartbeats")
	cmd.Flags().DurationVar(&o.NodeMonitorGracePeriod, "node-monitor-grace-period", 40*time.Second, "heartbeat age after which a node becomes Unknown")
	return cmd
}

func apiserverCmd() *cobra.Command {
	var o server.Options
	cmd := &cobra.Command{
		Use:   "apiserver",
		Short: "Run only the API server (with embedded or external etcd)",
		RunE: func(cmd *cobra.Command, args []string) error {
			o.DisableAgent, o.DisableScheduler, o.DisableControllers = true, true, true
			return runServer(o)
		},
	}
	serverFlags(cmd, &o)
	return cmd
}

func runServer(o server.Options) error {
	modes, err := authz.ParseModes(strings.Join(o.AuthorizationModes, ","))
	if err != nil {
		return err
	}
	o.AuthorizationModes = modes
	ctx, stop := signalContext()
	defer stop()
	o.ServiceAccountAdmission = true // a real cluster runs the serviceaccount controller (here or beside)
	s, err := server.Start(ctx, o)
	if err != nil {
		return err
	}
	for _, c := range inProcessComponents(o) {
		go func(c server.Component) {
			if err := c(ctx, s); err != nil && ctx.Err() == nil {
				fmt.Fprintln(os.Stderr, "skiff: component stopped:", err)
			}
		}(c)
	}
	fmt.Printf("skiff server ready at %s (kubeconfig: %s)\n", s.URL, s.Kubeconfig)
	return s.Wait()
}

// componentsFor lists the in-process components the options enable; the component
// files of this package register themselves here.
var componentsFor []func(o server.Options) server.Component

func inProcessComponents(o server.Options) []server.Component {
	var out []server.Component
	for _, f := range componentsFor {
		if c := f(o); c != nil {
			out = append(out, c)
		}
	}
	return out
}
