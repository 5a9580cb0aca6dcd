// Command skiff is the single binary of the Skiff orchestrator: every component
// is a subcommand (see docs/architecture.md).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "skiff",
		Short:         "Skiff: a small Kubernetes-compatible orchestrator",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serverCmd(), apiserverCmd(), kubectlCmd(), versionCmd())
	for _, add := range extraCommands {
		root.AddCommand(add())
	}
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "skiff:", err)
		os.Exit(1)
	}
}

// extraCommands are added by the component files of this package.
var extraCommands []func() *cobra.Command
