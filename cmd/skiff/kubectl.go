package main

import (
	"flag"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"
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
			addLogFlags(k)
			k.SetArgs(args)
			return k.Execute()
		},
	}
	return cmd
}

// addLogFlags gives the embedded kubectl its -v and --vmodule flags: upstream's
// kubectl binary registers them in main, around the command this package builds.
func addLogFlags(k *cobra.Command) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	for _, name := range []string{"v", "vmodule"} {
		if f := fs.Lookup(name); f != nil {
			k.PersistentFlags().AddGoFlag(f)
		}
	}
}
