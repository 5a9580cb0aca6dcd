package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/connrotation"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/authz"
)

// The node's client credential lives in <agent>/pki/kubelet-client-current.pem
// (certificate and key in one file, as upstream's kubelet keeps it) and
// <agent>/kubelet.kubeconfig points at it. The kubelet renews it, as the node
// itself, once 70-90 % of its lifetime has passed, and swaps it in without a
// restart: the transport asks for the current certificate on every handshake, and
// open connections are closed so they reconnect with the new one.
const (
	clientCertFile = "kubelet-client-current.pem"
	kubeconfigFile = "kubelet.kubeconfig"
)

// NodeCredentials describes how a node reaches its server as itself.
type NodeCredentials struct {
	// Server is the API server URL; CAPEM the cluster CA that verifies it.
	Server string
	CAPEM  []byte
	// Dir is the agent's data directory (<data-dir>/agent).
	Dir      string
	NodeName string
	// Bootstrap obtains a first certificate and key (PEM) when the node has no
	// valid one: a CSR under a bootstrap token, or a direct issue by the local CA.
	Bootstrap func(ctx context.Context) (certPEM, keyPEM []byte, err error)
}

// certManager holds the current client certificate and renews it.
type certManager struct {
	mu       sync.Mutex
	cert     *tls.Certificate
	file     string
	conns    *connrotation.Dialer
	nodeUser string
	renewFn  func(ctx context.Context) (certPEM, keyPEM []byte, err error)
}

// NodeClientConfig returns a client config authenticated by the node's own
// certificate (obtaining it first if needed) and starts renewing it until ctx ends.
func NodeClientConfig(ctx context.Context, nc NodeCredentials) (*rest.Config, error) {
	pkiDir := filepath.Join(nc.Dir, "pki")
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		return nil, err
	}
	m := &certManager{file: filepath.Join(pkiDir, clientCertFile), nodeUser: authz.NodeUserPrefix + nc.NodeName}
	if err := m.load(nc.CAPEM); err != nil {
		if nc.Bootstrap == nil {
			return nil, fmt.Errorf("no valid node certificate in %s (%v): join with --server, --token and --ca-cert-hash", m.file, err)
		}
		certPEM, keyPEM, err := nc.Bootstrap(ctx)
		if err != nil {
			return nil, err
		}
		if err := m.store(certPEM, keyPEM); err != nil {
			return nil, err
		}
	}
	if err := writeNodeKubeconfig(filepath.Join(nc.Dir, kubeconfigFile), nc.Server, nc.CAPEM, m.file); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(nc.CAPEM) {
		return nil, errors.New("cluster CA: no certificate")
	}
	m.conns = connrotation.NewDialer((&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext)
	tr := utilnet.SetTransportDefaults(&http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12,
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return m.current(), nil }},
		DialContext: m.conns.DialContext, TLSHandshakeTimeout: 10 * time.Second, MaxIdleConnsPerHost: 25,
	})
	rc := &rest.Config{Host: nc.Server, Transport: tr, QPS: 50, Burst: 100}
	m.renewFn = func(ctx context.Context) ([]byte, []byte, error) {
		client, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return nil, nil, err
		}
		return RequestNodeCertificate(ctx, client, nc.NodeName)
	}
	go m.rotate(ctx)
	return rc, nil
}

func (m *certManager) current() *tls.Certificate {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cert
}

// load reads the stored certificate; it must chain to the CA, name this node
// and not have expired.
func (m *certManager) load(caPEM []byte) error {
	data, err := os.ReadFile(m.file)
	if err != nil {
		return err
	}
	pair, err := tls.X509KeyPair(data, data)
	if err != nil {
		return err
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return err
	}
	if leaf.Subject.CommonName != m.nodeUser {
		return fmt.Errorf("certificate is for %q, not %q", leaf.Subject.CommonName, m.nodeUser)
	}
	pair.Leaf = leaf
	m.mu.Lock()
	m.cert = &pair
	m.mu.Unlock()
	return nil
}

// store writes the new pair atomically, then makes it current.
func (m *certManager) store(certPEM, keyPEM []byte) error {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("issued certificate: %w", err)
	}
	if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
		return err
	}
	tmp := m.file + ".tmp"
	if err := os.WriteFile(tmp, append(append([]byte{}, certPEM...), keyPEM...), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, m.file); err != nil {
		return err
	}
	m.mu.Lock()
	m.cert = &pair
	m.mu.Unlock()
	return nil
}

// renewAt is a random point 70-90 % into the certificate's lifetime (upstream's
// jitter, so a fleet of nodes started together does not renew together).
func renewAt(leaf *x509.Certificate) time.Time {
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	frac := 0.7 + 0.2*rand.Float64()
	return leaf.NotBefore.Add(time.Duration(float64(life) * frac))
}

func (m *certManager) rotate(ctx context.Context) {
	backoff := 5 * time.Second
	for {
		wait := time.Until(renewAt(m.current().Leaf))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		certPEM, keyPEM, err := m.renewFn(ctx)
		if err == nil {
			err = m.store(certPEM, keyPEM)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			klog.FromContext(ctx).Error(err, "Renewing the node client certificate failed; retrying", "in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Minute)
			continue
		}
		backoff = 5 * time.Second
		klog.FromContext(ctx).Info("Node client certificate renewed", "notAfter", m.current().Leaf.NotAfter)
		// Connections authenticated with the old certificate would keep it for their
		// lifetime; close them so every request is made as the renewed identity.
		m.conns.CloseAll()
	}
}

// writeNodeKubeconfig writes the node's kubeconfig (for tools and restarts): the
// server, the CA and the path of the rotating certificate+key file.
func writeNodeKubeconfig(path, server string, caPEM []byte, certFile string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["default"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	kc.AuthInfos["default"] = &clientcmdapi.AuthInfo{ClientCertificate: certFile, ClientKey: certFile}
	kc.Contexts["default"] = &clientcmdapi.Context{Cluster: "default", AuthInfo: "default"}
	kc.CurrentContext = "default"
	return clientcmd.WriteToFile(*kc, path)
}

// LoadNodeKubeconfig reads a kubelet.kubeconfig this package wrote: the server and CA.
func LoadNodeKubeconfig(dir string) (server string, caPEM []byte, err error) {
	kc, err := clientcmd.LoadFromFile(filepath.Join(dir, kubeconfigFile))
	if err != nil {
		return "", nil, err
	}
	cl := kc.Clusters["default"]
	if cl == nil || cl.Server == "" || len(cl.CertificateAuthorityData) == 0 {
		return "", nil, fmt.Errorf("%s: no server or CA", filepath.Join(dir, kubeconfigFile))
	}
	return cl.Server, cl.CertificateAuthorityData, nil
}

// Join returns the node's client config for a node joining with a bootstrap
// token: on first start it discovers and pins the CA, and exchanges the token for
// a node certificate; later starts reuse the stored certificate (and need no token).
func Join(ctx context.Context, dir, nodeName, server, token, pin string) (*rest.Config, []byte, error) {
	if server == "" {
		var err error
		if server, _, err = LoadNodeKubeconfig(dir); err != nil {
			return nil, nil, fmt.Errorf("no --server given and no earlier join: %w", err)
		}
	}
	var caPEM []byte
	if s, ca, err := LoadNodeKubeconfig(dir); err == nil && s == server && (pin == "" || pinMatches(ca, pin)) {
		caPEM = ca
	} else {
		if token == "" || pin == "" {
			return nil, nil, errors.New("joining needs --token and --ca-cert-hash")
		}
		if caPEM, err = DiscoverCA(ctx, server, token, pin); err != nil {
			return nil, nil, err
		}
	}
	nc := NodeCredentials{Server: server, CAPEM: caPEM, Dir: dir, NodeName: nodeName}
	if token != "" {
		nc.Bootstrap = func(ctx context.Context) ([]byte, []byte, error) {
			client, err := bootstrapClient(server, caPEM, token)
			if err != nil {
				return nil, nil, err
			}
			klog.FromContext(ctx).Info("Requesting a node client certificate with the bootstrap token", "node", nodeName)
			return RequestNodeCertificate(ctx, client, nodeName)
		}
	}
	rc, err := NodeClientConfig(ctx, nc)
	return rc, caPEM, err
}

func pinMatches(caPEM []byte, pin string) bool {
	_, err := pinned(caPEM, pin)
	return err == nil
}

// LocalNodeConfig is the client config of `skiff server`'s own node: its
// certificate is issued directly by the cluster CA (no token, no CSR) the first
// time, and renewed through CSRs like any node's.
func LocalNodeConfig(ctx context.Context, dir, nodeName, server string, ca *auth.CA) (*rest.Config, error) {
	return NodeClientConfig(ctx, NodeCredentials{Server: server, CAPEM: ca.CertPEM, Dir: dir, NodeName: nodeName,
		Bootstrap: func(context.Context) ([]byte, []byte, error) {
			return ca.IssueClientCert(authz.NodeUserPrefix+nodeName, []string{authz.NodesGroup}, 0)
		}})
}
