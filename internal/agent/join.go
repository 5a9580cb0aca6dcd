package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/authz"
)

// Joining a cluster (kubeadm's token discovery, reduced): the node knows the
// server URL, a bootstrap token and the pin of the cluster CA. It learns the CA
// from the server, refuses it unless it matches the pin, and only then — over a
// connection verified against that CA — shows its token, to ask for its own
// client certificate with a CertificateSigningRequest. Its private key is made
// on the node and never leaves it.

// DiscoverCA returns the cluster CA bundle of server, checked against pin
// (sha256:<hex> of the CA's public key). It reads kube-public/cluster-info
// anonymously; where anonymous reads are not allowed it takes the CA from the
// server's TLS chain, checks it against the pin, and reads cluster-info with the
// token over the now verified connection.
func DiscoverCA(ctx context.Context, server, token, pin string) ([]byte, error) {
	if _, err := auth.ParseCAHash(pin); err != nil {
		return nil, err
	}
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("--server %q must be an https:// URL", server)
	}
	insecure := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // the CA is checked against the pin below
	caPEM, status, err := fetchClusterInfo(ctx, server, insecure, "")
	if err == nil {
		if _, err := pinned(caPEM, pin); err != nil {
			return nil, err
		}
		return caPEM, nil
	}
	if status != http.StatusUnauthorized && status != http.StatusForbidden {
		return nil, err
	}
	ca, err := caFromTLSChain(ctx, u.Host, pin)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	verified := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
	caPEM, _, err = fetchClusterInfo(ctx, server, verified, token)
	if err != nil {
		return nil, err
	}
	if _, err := pinned(caPEM, pin); err != nil {
		return nil, err
	}
	return caPEM, nil
}

func pinned(caPEM []byte, pin string) (*x509.Certificate, error) {
	certs, err := auth.ParseCertsPEM(caPEM)
	if err != nil {
		return nil, fmt.Errorf("cluster-info: %w", err)
	}
	return auth.MatchCAHash(certs, pin)
}

// caFromTLSChain dials the server and returns the certificate of its chain that
// matches the pin, after checking the server's certificate chains to it.
func caFromTLSChain(ctx context.Context, host, pin string) (*x509.Certificate, error) {
	if !strings.Contains(host, ":") {
		host += ":443"
	}
	d := &tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}} //nolint:gosec // verified against the pin
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("reaching the server: %w", err)
	}
	defer conn.Close()
	chain := conn.(*tls.Conn).ConnectionState().PeerCertificates
	ca, err := auth.MatchCAHash(chain, pin)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: pool}); err != nil {
		return nil, fmt.Errorf("the server's certificate is not signed by the pinned CA: %w", err)
	}
	return ca, nil
}

// fetchClusterInfo GETs kube-public/cluster-info and returns the CA of its
// kubeconfig, with the HTTP status on failure.
func fetchClusterInfo(ctx context.Context, server string, tlsConfig *tls.Config, token string) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	path := strings.TrimRight(server, "/") + "/api/v1/namespaces/" + auth.ClusterInfoNamespace + "/configmaps/" + auth.ClusterInfoName
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("reading cluster-info: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, fmt.Errorf("reading cluster-info: HTTP %d", resp.StatusCode)
	}
	var cm corev1.ConfigMap
	if err := json.Unmarshal(body, &cm); err != nil {
		return nil, resp.StatusCode, fmt.Errorf("cluster-info: %w", err)
	}
	kc, err := clientcmd.Load([]byte(cm.Data[auth.ClusterInfoKey]))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("cluster-info: %w", err)
	}
	for _, cl := range kc.Clusters {
		if len(cl.CertificateAuthorityData) > 0 {
			return cl.CertificateAuthorityData, resp.StatusCode, nil
		}
	}
	return nil, resp.StatusCode, errors.New("cluster-info has no CA")
}

// RequestNodeCertificate makes a new key, asks for a client certificate for
// system:node:<nodeName> with client (authenticated as whoever rc is: a bootstrap
// token the first time, the node itself on renewal), and waits until it is issued.
// It returns the certificate and the key, both PEM.
func RequestNodeCertificate(ctx context.Context, client kubernetes.Interface, nodeName string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: authz.NodeUserPrefix + nodeName, Organization: []string{authz.NodesGroup}}}, key)
	if err != nil {
		return nil, nil, err
	}
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "node-csr-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		},
	}
	created, err := client.CertificatesV1().CertificateSigningRequests().Create(ctx, csr, metav1.CreateOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("submitting the certificate request: %w", err)
	}
	certPEM, err = waitIssued(ctx, client, created.Name)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// waitIssued polls the request until it carries a certificate, or fails when it is
// denied or failed.
func waitIssued(ctx context.Context, client kubernetes.Interface, name string) ([]byte, error) {
	var cert []byte
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 15*time.Minute, true, func(ctx context.Context) (bool, error) {
		csr, err := client.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, fmt.Errorf("certificate request %s was deleted before it was issued", name)
		}
		if err != nil {
			return false, nil // transient: keep waiting
		}
		for _, c := range csr.Status.Conditions {
			if c.Type == certificatesv1.CertificateDenied || c.Type == certificatesv1.CertificateFailed {
				return false, fmt.Errorf("certificate request %s was %s: %s %s", name, strings.ToLower(string(c.Type)), c.Reason, c.Message)
			}
		}
		cert = csr.Status.Certificate
		return len(cert) > 0, nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for certificate request %s: %w", name, err)
	}
	return cert, nil
}

// bootstrapClient is a client authenticated by the bootstrap token, verifying the
// server against the discovered CA.
func bootstrapClient(server string, caPEM []byte, token string) (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(&rest.Config{Host: server, BearerToken: token,
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM}, Timeout: 30 * time.Second})
}
