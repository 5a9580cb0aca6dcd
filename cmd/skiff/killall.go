package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/vishvananda/netlink"

	"github.com/skiff-sh/skiff/internal/agent"
	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/network"
	"github.com/skiff-sh/skiff/internal/proxy"
)

func init() { extraCommands = append(extraCommands, killallCmd, uninstallCmd) }

func killallCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "killall",
		Short: "Stop this machine's Skiff server or agent and everything it started, keeping its data",
		Long: `killall stops the skiff server or agent running on --data-dir, containerd and every
pod container it started, unmounts pod volumes, removes the pod network (bridge,
routes, nftables tables) and the network namespaces of dead pods, and forgets the
pods' IP allocations. The data (etcd, certificates, images) is kept: starting
skiff server or agent on the same --data-dir again resumes the cluster, and the
node restarts its pods. Run it inside the node's network namespace for a node
that runs in one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return killAll(dataDir) },
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir(), "data directory of the server or agent to stop")
	return cmd
}

func uninstallCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "killall, then delete the data directory (every cluster object, certificate and image)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := killAll(dataDir); err != nil {
				return err
			}
			if err := os.RemoveAll(dataDir); err != nil {
				return fmt.Errorf("removing %s: %w", dataDir, err)
			}
			fmt.Println("removed", dataDir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir(), "data directory to remove")
	return cmd
}

// killAll runs the sweep in the order that keeps each step effective: processes
// first (a live agent would restart containerd and its pods), then what they
// leave pinned (mounts, namespaces), then the network they configured.
func killAll(dataDir string) error {
	if os.Geteuid() != 0 {
		return errors.New("killall needs root (it stops containers, unmounts volumes and removes network devices)")
	}
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	stopped, err := agent.StopNodeProcesses(dataDir, defaultDataDir(), 15*time.Second)
	fmt.Printf("stopped %d processes\n", len(stopped.PIDs))
	if err != nil {
		return err
	}
	var errs []error
	n, err := agent.UnmountUnder(dataDir)
	fmt.Printf("unmounted %d mounts under %s\n", n, dataDir)
	errs = append(errs, err)
	gone, err := agent.RemoveNetns("/run/netns", stopped.Netns)
	fmt.Printf("removed %d pod network namespaces\n", len(gone))
	errs = append(errs, err)
	// Every sandbox is gone, so no pod IP is in use: the IPAM records would only
	// keep those addresses from ever being handed out again.
	errs = append(errs, os.RemoveAll(filepath.Join(dataDir, "agent", "kubelet", "cni")))
	errs = append(errs, removeLink(kubelet.BridgeName))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs = append(errs, proxy.Cleanup(ctx, nil), network.Cleanup(ctx, nil, nil))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Println("removed the pod bridge, routes and nftables tables")
	return nil
}

func removeLink(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nil
		}
		return err
	}
	if err := netlink.LinkDel(link); err != nil {
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	return nil
}
