package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, kubeletCmd) }

// kubeletCmd runs the kubelet alone against an existing CRI runtime, as upstream's
// kubelet does; `skiff agent` is the same with a supervised containerd.
func kubeletCmd() *cobra.Command {
	f := &agentFlags{}
	cmd := &cobra.Command{
		Use:   "kubelet",
		Short: "Run only the kubelet against an existing CRI runtime (--container-runtime-endpoint)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.cfg.RuntimeEndpoint == "" {
				return errors.New("--container-runtime-endpoint is required (or use `skiff agent`, which starts containerd)")
			}
			return f.run()
		},
	}
	f.register(cmd)
	return cmd
}
