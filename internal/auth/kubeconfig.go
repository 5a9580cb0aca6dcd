package auth

import (
	"errors"
	"fmt"
	"os"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Names inside kubeconfigs Skiff writes.
const (
	KubeconfigCluster = "skiff"
	KubeconfigUser    = "admin"
	KubeconfigContext = "default"
)

// WriteKubeconfig writes a self-contained kubeconfig (CA, client certificate and key
// embedded) for serverURL to path, readable by the owner only.
func WriteKubeconfig(path, serverURL string, caPEM, certPEM, keyPEM []byte) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[KubeconfigCluster] = &clientcmdapi.Cluster{
		Server:                   serverURL,
		CertificateAuthorityData: caPEM,
	}
	cfg.AuthInfos[KubeconfigUser] = &clientcmdapi.AuthInfo{
		ClientCertificateData: certPEM,
		ClientKeyData:         keyPEM,
	}
	cfg.Contexts[KubeconfigContext] = &clientcmdapi.Context{
		Cluster:  KubeconfigCluster,
		AuthInfo: KubeconfigUser,
	}
	cfg.CurrentContext = KubeconfigContext
	// WriteToFile creates new files 0600 but keeps the mode of an existing one; the
	// file holds a private key, so tighten an existing file before writing the key.
	if err := os.Chmod(path, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	return nil
}
