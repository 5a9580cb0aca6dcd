package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/auth"
)

func init() { extraCommands = append(extraCommands, tokenCmd) }

// tokenCmd manages bootstrap tokens, the short-lived credentials a new node joins
// with (`skiff agent --token`). It talks to the API server with the admin
// kubeconfig of a server's data dir, like `skiff kubectl`.
func tokenCmd() *cobra.Command {
	var dataDir, kubeconfig string
	cmd := &cobra.Command{Use: "token", Short: "Create, list and delete bootstrap tokens for joining nodes"}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", defaultDataDir(), "the server's data directory (its admin kubeconfig is used)")
	cmd.PersistentFlags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig to use instead of <data-dir>/kubeconfig")
	client := func() (kubernetes.Interface, *clientcmdConfig, error) { return tokenClient(dataDir, kubeconfig) }
	cmd.AddCommand(tokenCreateCmd(client), tokenListCmd(client), tokenDeleteCmd(client))
	return cmd
}

type clientcmdConfig struct{ caPEM []byte }

func tokenClient(dataDir, kubeconfig string) (kubernetes.Interface, *clientcmdConfig, error) {
	if kubeconfig == "" {
		kubeconfig = os.Getenv("KUBECONFIG")
	}
	if kubeconfig == "" {
		kubeconfig = filepath.Join(dataDir, "kubeconfig")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, nil, fmt.Errorf("kubeconfig: %w", err)
	}
	rc.Timeout = 30 * time.Second
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, err
	}
	return c, &clientcmdConfig{caPEM: rc.TLSClientConfig.CAData}, nil
}

func tokenCreateCmd(client func() (kubernetes.Interface, *clientcmdConfig, error)) *cobra.Command {
	var (
		ttl         time.Duration
		description string
		groups      []string
		printJoin   bool
	)
	cmd := &cobra.Command{
		Use:   "create [TOKEN]",
		Short: "Create a bootstrap token (random unless given) and print it",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, cc, err := client()
			if err != nil {
				return err
			}
			token := ""
			if len(args) == 1 {
				token = args[0]
			} else if token, err = auth.GenerateBootstrapToken(); err != nil {
				return err
			}
			sec, err := auth.BootstrapTokenSecret(token, ttl, description, groups, time.Now())
			if err != nil {
				return err
			}
			ctx := context.Background()
			if _, err := c.CoreV1().Secrets(auth.BootstrapTokenNamespace).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
				if apierrors.IsAlreadyExists(err) {
					return fmt.Errorf("a token with id %s already exists", strings.TrimPrefix(sec.Name, auth.BootstrapTokenSecretPrefix))
				}
				return err
			}
			if !printJoin {
				fmt.Println(token)
				return nil
			}
			line, err := joinCommand(ctx, c, cc.caPEM, token)
			if err != nil {
				return err
			}
			fmt.Println(line)
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token is valid (0: never expires)")
	f.StringVar(&description, "description", "", "a human-readable note stored with the token")
	f.StringSliceVar(&groups, "groups", nil, "extra groups (system:bootstrappers:...) the token authenticates as")
	f.BoolVar(&printJoin, "print-join-command", false, "print the full `skiff agent` command a node joins with")
	return cmd
}

// joinCommand is the agent command line: the server URL published in
// cluster-info, the token and the pin of the cluster CA.
func joinCommand(ctx context.Context, c kubernetes.Interface, caPEM []byte, token string) (string, error) {
	cm, err := c.CoreV1().ConfigMaps(auth.ClusterInfoNamespace).Get(ctx, auth.ClusterInfoName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading %s/%s: %w", auth.ClusterInfoNamespace, auth.ClusterInfoName, err)
	}
	kc, err := clientcmd.Load([]byte(cm.Data[auth.ClusterInfoKey]))
	if err != nil {
		return "", fmt.Errorf("cluster-info: %w", err)
	}
	server := ""
	for _, cl := range kc.Clusters {
		server = cl.Server
		if len(caPEM) == 0 {
			caPEM = cl.CertificateAuthorityData
		}
	}
	hash, err := auth.CAHashOfPEM(caPEM)
	if err != nil {
		return "", fmt.Errorf("cluster CA: %w", err)
	}
	return fmt.Sprintf("skiff agent --server %s --token %s --ca-cert-hash %s", server, token, hash), nil
}

func tokenListCmd(client func() (kubernetes.Interface, *clientcmdConfig, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List bootstrap tokens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := client()
			if err != nil {
				return err
			}
			l, err := c.CoreV1().Secrets(auth.BootstrapTokenNamespace).List(context.Background(), metav1.ListOptions{
				FieldSelector: fields.OneTermEqualSelector("type", string(auth.BootstrapTokenSecretType)).String()})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "TOKEN ID\tTTL\tEXPIRES\tUSAGES\tDESCRIPTION\tEXTRA GROUPS")
			for i := range l.Items {
				printTokenRow(tw, &l.Items[i])
			}
			return tw.Flush()
		},
	}
}

// printTokenRow shows a token without its secret, as `kubeadm token list` does
// not either (the secret part is only ever printed at creation).
func printTokenRow(tw *tabwriter.Writer, s *corev1.Secret) {
	if s.Type != auth.BootstrapTokenSecretType {
		return
	}
	ttl, expires := "<forever>", "<never>"
	if exp, set, err := auth.BootstrapTokenExpiry(s); err != nil {
		ttl, expires = "<invalid>", "<invalid>"
	} else if set {
		expires = exp.Format(time.RFC3339)
		if left := time.Until(exp); left > 0 {
			ttl = left.Round(time.Second).String()
		} else {
			ttl = "<expired>"
		}
	}
	var usages []string
	for _, u := range []string{auth.BootstrapUsageAuthentication, auth.BootstrapUsageSigning} {
		if string(s.Data[u]) == "true" {
			usages = append(usages, strings.TrimPrefix(u, "usage-bootstrap-"))
		}
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Data[auth.BootstrapTokenIDKey], ttl, expires,
		strings.Join(usages, ","), orNone(string(s.Data[auth.BootstrapTokenDescriptionKey])), orNone(string(s.Data[auth.BootstrapTokenExtraGroupsKey])))
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func tokenDeleteCmd(client func() (kubernetes.Interface, *clientcmdConfig, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "delete TOKEN-ID|TOKEN...",
		Short: "Delete bootstrap tokens (by id or whole token)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := client()
			if err != nil {
				return err
			}
			for _, a := range args {
				id, _, _ := strings.Cut(a, ".")
				name := auth.BootstrapTokenSecretPrefix + id
				if err := c.CoreV1().Secrets(auth.BootstrapTokenNamespace).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
					if apierrors.IsNotFound(err) {
						return fmt.Errorf("bootstrap token %q not found", id)
					}
					return err
				}
				fmt.Printf("bootstrap token %q deleted\n", id)
			}
			return nil
		},
	}
}
