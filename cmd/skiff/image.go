package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/agent"
)

func init() { extraCommands = append(extraCommands, imageCmd) }

func imageCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Manage the node's container images"}
	var dataDir, socket string
	imp := &cobra.Command{
		Use:   "import FILE...",
		Short: "Import docker-archive or OCI image tarballs into the node's containerd (no registry needed)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if socket == "" {
				socket = filepath.Join(dataDir, "agent", "containerd.sock")
			}
			for _, f := range args {
				out, err := agent.ImportImage(context.Background(), socket, "", f)
				if err != nil {
					return err
				}
				fmt.Println(out)
			}
			return nil
		},
	}
	imp.Flags().StringVar(&dataDir, "data-dir", defaultDataDir(), "data directory of the running agent/server")
	imp.Flags().StringVar(&socket, "address", "", "containerd socket (default: <data-dir>/agent/containerd.sock)")
	cmd.AddCommand(imp)
	return cmd
}
