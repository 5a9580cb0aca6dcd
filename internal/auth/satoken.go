package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"strings"
	"time"
)

// DefaultIssuer is the "iss" of service account tokens (upstream's default).
const DefaultIssuer = "https://kubernetes.default.svc.cluster.local"

// TokenIssuer signs and verifies service account tokens: ES256 JWTs whose claims follow
// upstream's bound tokens (sub system:serviceaccount:<ns>:<name>, aud, exp, and the
// kubernetes.io claim naming the account and its UID).
type TokenIssuer struct {
	key    *ecdsa.PrivateKey
	issuer string
	// Lookup returns the UID of a live service account; tokens of deleted (or
	// re-created) accounts stop authenticating.
	Lookup func(namespace, name string) (uid string, ok bool)
}

type saClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  []string `json:"aud"`
	Expiry    int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
	K8s       struct {
		Namespace      string `json:"namespace"`
		ServiceAccount struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"serviceaccount"`
	} `json:"kubernetes.io"`
}

// LoadTokenIssuer reads (or creates on first start) the signing key at keyFile.
func LoadTokenIssuer(keyFile string) (*TokenIssuer, error) {
	if data, err := os.ReadFile(keyFile); err == nil {
		block, _ := pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM key", keyFile)
		}
		key, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", keyFile, err)
		}
		return &TokenIssuer{key: key, issuer: DefaultIssuer}, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := writeKey(keyFile, key); err != nil {
		return nil, err
	}
	return &TokenIssuer{key: key, issuer: DefaultIssuer}, nil
}

// Issue signs a token for the service account, valid for ttl, for the audiences (the
// issuer when empty). It returns the token and its expiry.
func (t *TokenIssuer) Issue(namespace, name, uid string, audiences []string, ttl time.Duration) (string, time.Time, error) {
	now := time.Now()
	if len(audiences) == 0 {
		audiences = []string{t.issuer}
	}
	c := saClaims{Issuer: t.issuer, Subject: "system:serviceaccount:" + namespace + ":" + name, Audience: audiences,
		Expiry: now.Add(ttl).Unix(), IssuedAt: now.Unix(), NotBefore: now.Unix()}
	c.K8s.Namespace = namespace
	c.K8s.ServiceAccount.Name, c.K8s.ServiceAccount.UID = name, uid
	header := b64(mustJSON(map[string]string{"alg": "ES256", "typ": "JWT", "kid": t.keyID()}))
	payload := b64(mustJSON(c))
	digest := sha256.Sum256([]byte(header + "." + payload))
	r, s, err := ecdsa.Sign(rand.Reader, t.key, digest[:])
	if err != nil {
		return "", time.Time{}, err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return header + "." + payload + "." + b64(sig), time.Unix(c.Expiry, 0), nil
}

// Authenticate accepts bearer tokens this issuer signed, still valid, for the
// issuer's audience, of a service account that still exists with the same UID.
func (t *TokenIssuer) Authenticate(r *http.Request) (*User, bool, error) {
	tok, ok := bearerToken(r)
	if !ok || strings.Count(tok, ".") != 2 {
		return nil, false, nil
	}
	c, err := t.verify(tok)
	if err != nil {
		return nil, false, nil // not ours: another authenticator may know it
	}
	now := time.Now().Unix()
	if now >= c.Expiry || now < c.NotBefore-60 || !contains(c.Audience, t.issuer) {
		return nil, false, errors.New("service account token expired or not for this API server")
	}
	sa := c.K8s.ServiceAccount
	if t.Lookup != nil {
		if uid, ok := t.Lookup(c.K8s.Namespace, sa.Name); !ok || uid != sa.UID {
			return nil, false, errors.New("service account token: the service account no longer exists")
		}
	}
	return withAuthenticatedGroup(&User{Name: c.Subject, UID: sa.UID,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + c.K8s.Namespace}}), true, nil
}

func (t *TokenIssuer) verify(tok string) (*saClaims, error) {
	parts := strings.Split(tok, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, errors.New("bad signature encoding")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(&t.key.PublicKey, digest[:], r, s) {
		return nil, errors.New("bad signature")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var c saClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, err
	}
	if c.Issuer != t.issuer {
		return nil, errors.New("other issuer")
	}
	return &c, nil
}

func (t *TokenIssuer) keyID() string {
	der, _ := x509.MarshalPKIXPublicKey(t.key.Public().(crypto.PublicKey))
	sum := sha256.Sum256(der)
	return b64(sum[:16])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
