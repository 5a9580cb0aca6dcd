package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/apiserver"
)

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Printf("skiff %s (Kubernetes API %s.%s)\n", apiserver.Version.GitVersion, apiserver.Version.Major, apiserver.Version.Minor)
		},
	}
}
