package main

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
)

// kubectlCmd is the real kubectl, embedded, using <data-dir>/kubeconfig unless
// KUBECONFIG or --kubeconfig says otherwise.
func kubectlCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:                "kubectl",
		Short:              "Run kubectl against this cluster",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if os.Getenv("KUBECONFIG") == "" {
				dir := os.Getenv("SKIFF_DATA_DIR")
				if dir == "" {
					dir = defaultDataDir()
				}
				os.Setenv("KUBECONFIG", filepath.Join(dir, "kubeconfig"))
			}
			k := kubectlcmd.NewDefaultKubectlCommand()
			k.SetArgs(args)
			return k.Execute()
		},
	}
	return cmd
}
