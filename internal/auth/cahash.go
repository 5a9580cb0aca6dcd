package auth

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// CAHash is kubeadm's --discovery-token-ca-cert-hash format for pinning a CA:
// "sha256:" and the hex SHA-256 of the certificate's DER SubjectPublicKeyInfo.
func CAHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// CAHashOfPEM is CAHash of the first certificate of a PEM bundle.
func CAHashOfPEM(caPEM []byte) (string, error) {
	certs, err := ParseCertsPEM(caPEM)
	if err != nil {
		return "", err
	}
	return CAHash(certs[0]), nil
}

// ParseCAHash checks a pin is "sha256:<64 hex digits>" and normalises it to lower case.
func ParseCAHash(pin string) (string, error) {
	algo, digest, ok := strings.Cut(strings.TrimSpace(pin), ":")
	if !ok || !strings.EqualFold(algo, "sha256") {
		return "", fmt.Errorf("CA hash %q must be of the form sha256:<hex>", pin)
	}
	if b, err := hex.DecodeString(digest); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("CA hash %q: want 64 hex digits after sha256:", pin)
	}
	return "sha256:" + strings.ToLower(digest), nil
}

// MatchCAHash returns the certificate of the bundle whose public key matches the
// pin, or an error saying the CA is not the one pinned.
func MatchCAHash(certs []*x509.Certificate, pin string) (*x509.Certificate, error) {
	want, err := ParseCAHash(pin)
	if err != nil {
		return nil, err
	}
	for _, c := range certs {
		if CAHash(c) == want {
			return c, nil
		}
	}
	got := "none"
	if len(certs) > 0 {
		got = CAHash(certs[0])
	}
	return nil, fmt.Errorf("the server's CA (%s) does not match the pinned --ca-cert-hash %s: refusing to join", got, want)
}

// ParseCertsPEM parses every CERTIFICATE block of a PEM bundle (at least one).
func ParseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate in PEM data")
	}
	return out, nil
}

// cluster-info is kubeadm's discovery ConfigMap: kube-public/cluster-info holds, under
// "kubeconfig", a kubeconfig with the server URL and the cluster CA, readable
// anonymously so a joining node can fetch the CA and check it against its pin.
const (
	ClusterInfoNamespace = "kube-public"
	ClusterInfoName      = "cluster-info"
	ClusterInfoKey       = "kubeconfig"
)
