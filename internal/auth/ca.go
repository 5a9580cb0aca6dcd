package auth

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// CA is a signing CA: its certificate and key. The CSR signing controller holds
// one (the cluster CA) to issue node and client certificates.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
}

// LoadCA reads a CA certificate and its private key from PEM files.
func LoadCA(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("signing CA: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("signing CA key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("signing CA %s: %w", certFile, err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signing CA %s: key cannot sign", keyFile)
	}
	cert := pair.Leaf
	if cert == nil {
		if cert, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("signing CA %s: %w", certFile, err)
		}
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("signing CA %s: not a CA certificate", certFile)
	}
	return &CA{Cert: cert, Key: signer, CertPEM: certPEM}, nil
}

// CA returns the cluster CA for signing.
func (p *PKI) CA() *CA { return &CA{Cert: p.caCert, Key: p.caKey, CertPEM: p.CACertPEM} }
