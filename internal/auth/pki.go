// Package auth holds Skiff's cluster PKI, kubeconfig writing and request
// authentication (client certificates and bearer tokens).
package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	// renewBefore: leaf certificates this close to expiry are reissued on start, so a
	// server restarted at least once in the final stretch never serves an expired cert.
	renewBefore = 90 * 24 * time.Hour
	// clockSkew backdates NotBefore so a client with a slightly slow clock accepts
	// a certificate issued seconds ago.
	clockSkew = time.Hour

	// AdminUser and MastersGroup identify the bootstrap administrator; system:masters
	// bypasses authorization as upstream.
	AdminUser    = "skiff-admin"
	MastersGroup = "system:masters"
	// FirstServiceIP is the ClusterIP of the "kubernetes" Service in the default
	// service CIDR 10.43.0.0/16; in-cluster clients dial it.
	FirstServiceIP = "10.43.0.1"
)

// inClusterNames are the DNS names pods use for the API server.
var inClusterNames = []string{
	"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
}

// PKI is the cluster CA and the certificates derived from it, as files under one
// directory plus the parsed CA for issuing more.
type PKI struct {
	CACertFile, CAKeyFile           string
	ServingCertFile, ServingKeyFile string
	AdminCertFile, AdminKeyFile     string
	CACertPEM                       []byte
	AdminCertPEM, AdminKeyPEM       []byte

	caCert *x509.Certificate
	caKey  crypto.Signer
}

// EnsurePKI creates the CA, the API server's serving certificate and the admin client
// certificate under dir on first start, and reuses them later. Leaf certificates are
// reissued when missing a requested SAN, near expiry, or not signed by the CA; the CA
// itself is never replaced, since every issued credential depends on it.
func EnsurePKI(dir string, extraSANs []string) (*PKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	p := &PKI{
		CACertFile: filepath.Join(dir, "ca.crt"), CAKeyFile: filepath.Join(dir, "ca.key"),
		ServingCertFile: filepath.Join(dir, "serving.crt"), ServingKeyFile: filepath.Join(dir, "serving.key"),
		AdminCertFile: filepath.Join(dir, "admin.crt"), AdminKeyFile: filepath.Join(dir, "admin.key"),
	}
	if err := p.ensureCA(); err != nil {
		return nil, err
	}
	dnsNames, ips := servingSANs(extraSANs)
	serving := leafSpec{
		certFile: p.ServingCertFile, keyFile: p.ServingKeyFile,
		subject: pkix.Name{CommonName: "skiff-apiserver"}, usage: x509.ExtKeyUsageServerAuth,
		dnsNames: dnsNames, ips: ips,
	}
	if err := p.ensureLeaf(serving); err != nil {
		return nil, err
	}
	admin := leafSpec{
		certFile: p.AdminCertFile, keyFile: p.AdminKeyFile,
		subject: pkix.Name{CommonName: AdminUser, Organization: []string{MastersGroup}},
		usage:   x509.ExtKeyUsageClientAuth,
	}
	if err := p.ensureLeaf(admin); err != nil {
		return nil, err
	}
	var err error
	if p.AdminCertPEM, err = os.ReadFile(p.AdminCertFile); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if p.AdminKeyPEM, err = os.ReadFile(p.AdminKeyFile); err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return p, nil
}

// CAPool returns a pool holding only the cluster CA.
func (p *PKI) CAPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.caCert)
	return pool
}

// IssueClientCert signs a client certificate, e.g. for a kubelet
// (CN system:node:<name>, O system:nodes) or a component. validity <= 0 means one year.
func (p *PKI) IssueClientCert(cn string, orgs []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	return p.CA().IssueClientCert(cn, orgs, validity)
}

// IssueClientCert signs a client certificate with a fresh key; see PKI.IssueClientCert.
func (ca *CA) IssueClientCert(cn string, orgs []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if cn == "" {
		return nil, nil, errors.New("pki: client certificate needs a common name")
	}
	if validity <= 0 {
		validity = leafValidity
	}
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	tmpl, err := leafTemplate(pkix.Name{CommonName: cn, Organization: orgs}, x509.ExtKeyUsageClientAuth, validity)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: sign %s: %w", cn, err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// ServerTLSConfig is the API server's TLS configuration: its serving certificate,
// optional client certificates verified against the CA (token clients present none),
// TLS 1.2 or later, HTTP/2 preferred.
func (p *PKI) ServerTLSConfig() (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(p.ServingCertFile, p.ServingKeyFile)
	if err != nil {
		return nil, fmt.Errorf("pki: serving certificate: %w", err)
	}
	// Send the CA with the leaf: a joining node that knows only the CA's pin
	// (--ca-cert-hash) can then check the whole chain before it sends its token.
	pair.Certificate = append(pair.Certificate, p.caCert.Raw)
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    p.CAPool(),
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}, nil
}

// ensureCA loads the CA, or creates it when its certificate does not exist yet.
func (p *PKI) ensureCA() error {
	certPEM, err := os.ReadFile(p.CACertFile)
	if errors.Is(err, os.ErrNotExist) {
		// A new CA is right only for a new cluster: minting one beside certificates
		// the old CA signed would silently invalidate every kubeconfig and node.
		if signed := p.signedFiles(); len(signed) > 0 {
			return fmt.Errorf("pki: %s is missing but %s (its key and the certificates it signed) are still there: restore the CA certificate from a backup, or remove %s to start a new CA (every kubeconfig and node certificate then has to be issued again)",
				p.CACertFile, strings.Join(signed, ", "), filepath.Dir(p.CACertFile))
		}
		return p.createCA()
	}
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	keyPEM, err := os.ReadFile(p.CAKeyFile)
	if err != nil {
		return fmt.Errorf("pki: CA certificate exists but its key is unreadable: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("pki: CA certificate and key: %w", err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return errors.New("pki: CA key cannot sign")
	}
	p.caCert, p.caKey, p.CACertPEM = pair.Leaf, signer, certPEM
	if p.caCert == nil {
		if p.caCert, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return fmt.Errorf("pki: CA certificate: %w", err)
		}
	}
	return nil
}

// signedFiles lists the files of this PKI that only exist once a CA has: its key
// and the certificates it issued.
func (p *PKI) signedFiles() []string {
	var out []string
	for _, f := range []string{p.CAKeyFile, p.ServingCertFile, p.AdminCertFile} {
		if _, err := os.Stat(f); err == nil {
			out = append(out, filepath.Base(f))
		}
	}
	return out
}

func (p *PKI) createCA() error {
	key, err := newKey()
	if err != nil {
		return err
	}
	serial, err := randomSerial()
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: fmt.Sprintf("skiff-ca@%d", now.Unix())},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          keyID(key.Public()),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("pki: create CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// Key first: a crash between the writes leaves no CA certificate, so the next
	// start simply creates a fresh CA.
	if err := writeKey(p.CAKeyFile, key); err != nil {
		return err
	}
	if err := writeFileAtomic(p.CACertFile, certPEM, 0o644); err != nil {
		return err
	}
	p.caCert, p.caKey, p.CACertPEM = cert, key, certPEM
	return nil
}

// leafSpec describes a certificate EnsurePKI keeps on disk.
type leafSpec struct {
	certFile, keyFile string
	subject           pkix.Name
	usage             x509.ExtKeyUsage
	dnsNames          []string
	ips               []net.IP
}

func (p *PKI) ensureLeaf(s leafSpec) error {
	if p.leafUsable(s) {
		return nil
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	tmpl, err := leafTemplate(s.subject, s.usage, leafValidity)
	if err != nil {
		return err
	}
	tmpl.DNSNames, tmpl.IPAddresses = s.dnsNames, s.ips
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, key.Public(), p.caKey)
	if err != nil {
		return fmt.Errorf("pki: sign %s: %w", s.subject.CommonName, err)
	}
	if err := writeKey(s.keyFile, key); err != nil {
		return err
	}
	return writeFileAtomic(s.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// leafUsable reports whether the stored certificate can be kept: it matches its
// key, chains to the CA, is not near expiry, and has every requested SAN.
func (p *PKI) leafUsable(s leafSpec) bool {
	pair, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return false
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || cert.CheckSignatureFrom(p.caCert) != nil {
		return false
	}
	if time.Until(cert.NotAfter) < renewBefore {
		return false
	}
	return hasSANs(cert, s.dnsNames, s.ips)
}

func hasSANs(cert *x509.Certificate, dnsNames []string, ips []net.IP) bool {
	have := map[string]bool{}
	for _, n := range cert.DNSNames {
		have[n] = true
	}
	for _, n := range dnsNames {
		if !have[n] {
			return false
		}
	}
	for _, want := range ips {
		found := false
		for _, ip := range cert.IPAddresses {
			if ip.Equal(want) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// servingSANs is the API server's SAN list: loopback, the host name, the in-cluster
// names and service IP, and extra hosts or IPs, deduplicated.
func servingSANs(extra []string) ([]string, []net.IP) {
	hosts := []string{"localhost", "127.0.0.1", "::1", FirstServiceIP}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	hosts = append(hosts, inClusterNames...)
	hosts = append(hosts, extra...)
	seen := map[string]bool{}
	var dnsNames []string
	var ips []net.IP
	for _, h := range hosts {
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			h = ip.String() // canonical form, so "::0001" and "::1" dedupe
			if !seen[h] {
				ips = append(ips, ip)
			}
		} else if !seen[h] {
			dnsNames = append(dnsNames, h)
		}
		seen[h] = true
	}
	return dnsNames, ips
}

func leafTemplate(subject pkix.Name, usage x509.ExtKeyUsage, validity time.Duration) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{usage},
		BasicConstraintsValid: true,
	}, nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate key: %w", err)
	}
	return key, nil
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: serial: %w", err)
	}
	return serial, nil
}

// keyID is the RFC 5280 method-1 key identifier (SHA-1 of the public key bytes).
func keyID(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	sum := sha1.Sum(der)
	return sum[:]
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, keyPEM, 0o600)
}

// writeFileAtomic replaces path with data via a synced temporary file and rename, so
// a crash leaves the old or the new content, never a torn file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("pki: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("pki: sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	return nil
}
