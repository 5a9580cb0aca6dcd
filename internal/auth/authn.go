package auth

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
)

// AuthenticatedGroup is added to every authenticated user, as upstream does.
const AuthenticatedGroup = "system:authenticated"

// CredentialIDKey is the user extra upstream fills with a fingerprint of the credential
// used (e.g. "X509SHA256=<hex>"), so audit logs can tell two credentials of one user apart.
const CredentialIDKey = "authentication.kubernetes.io/credential-id"

// uidOID is the subject attribute upstream reads as the user's UID from client
// certificates (feature AllowParsingUserUIDFromCertAuth, on by default since 1.34).
var uidOID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57683, 2}

// User is an authenticated identity, the input to authorization.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// Authenticator identifies the sender of a request. ok=false with a nil error means
// the request carries no credentials of this kind; an error means it carries
// credentials that are invalid.
type Authenticator interface {
	Authenticate(r *http.Request) (*User, bool, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (*User, bool, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(r *http.Request) (*User, bool, error) { return f(r) }

var errInvalidToken = errors.New("invalid bearer token")

// NewX509 authenticates by client certificate, verified against pool for client
// authentication: Name is the subject CN, Groups its O values plus system:authenticated.
// It verifies itself rather than trusting the TLS layer, so it stays correct
// whatever ClientAuth mode the listener uses.
func NewX509(pool *x509.CertPool) Authenticator {
	return AuthenticatorFunc(func(r *http.Request) (*User, bool, error) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			return nil, false, nil
		}
		leaf := r.TLS.PeerCertificates[0]
		if len(r.TLS.VerifiedChains) > 0 {
			// The handshake already verified the chain against the same CA pool
			// (ServerTLSConfig): verifying again on every HTTP/2 request costs an
			// ECDSA signature check per call.
			return userFromCert(leaf)
		}
		opts := x509.VerifyOptions{
			Roots:         pool,
			Intermediates: x509.NewCertPool(),
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		for _, c := range r.TLS.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := leaf.Verify(opts); err != nil {
			return nil, false, fmt.Errorf("x509: %w", err)
		}
		return userFromCert(leaf)
	})
}

func userFromCert(c *x509.Certificate) (*User, bool, error) {
	if c.Subject.CommonName == "" {
		return nil, false, errors.New("x509: client certificate has an empty common name")
	}
	u := &User{Name: c.Subject.CommonName, Groups: slices.Clone(c.Subject.Organization)}
	for _, n := range c.Subject.Names {
		if !n.Type.Equal(uidOID) {
			continue
		}
		uid, ok := n.Value.(string)
		if !ok || u.UID != "" {
			return nil, false, errors.New("x509: client certificate has an invalid or repeated UID attribute")
		}
		u.UID = uid
	}
	sum := sha256.Sum256(c.Raw)
	u.Extra = map[string][]string{CredentialIDKey: {"X509SHA256=" + hex.EncodeToString(sum[:])}}
	return withAuthenticatedGroup(u), true, nil
}

// NewTokenFile reads a static token file in upstream's --token-auth-file format: CSV
// lines token,user,uid[,"group1,group2"]. The file is read once.
func NewTokenFile(path string) (Authenticator, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	tokens, err := parseTokenCSV(f)
	if err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	return NewStaticTokens(tokens), nil
}

func parseTokenCSV(r io.Reader) (map[string]*User, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	tokens := map[string]*User{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return tokens, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if len(rec) < 3 {
			return nil, fmt.Errorf("line %d: want at least 3 columns (token,user,uid), got %d", line, len(rec))
		}
		if rec[0] == "" || rec[1] == "" {
			return nil, fmt.Errorf("line %d: token and user must not be empty", line)
		}
		// A later line for the same token wins, as upstream.
		u := &User{Name: rec[1], UID: rec[2]}
		if len(rec) > 3 {
			for _, g := range strings.Split(rec[3], ",") {
				if g = strings.TrimSpace(g); g != "" {
					u.Groups = append(u.Groups, g)
				}
			}
		}
		tokens[rec[0]] = u
	}
}

// NewStaticTokens authenticates bearer tokens from an in-memory map (the
// bootstrap/agent token, tests). The map is copied.
func NewStaticTokens(tokens map[string]*User) Authenticator {
	own := make(map[string]*User, len(tokens))
	for t, u := range tokens {
		own[t] = withAuthenticatedGroup(u)
	}
	return AuthenticatorFunc(func(r *http.Request) (*User, bool, error) {
		token, ok := bearerToken(r)
		if !ok {
			return nil, false, nil
		}
		u, ok := own[token]
		if !ok {
			return nil, false, errInvalidToken
		}
		return cloneUser(u), true, nil
	})
}

// bearerToken extracts the token of an "Authorization: Bearer <token>" header.
func bearerToken(r *http.Request) (string, bool) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	// Upstream rejects a value with more than one space-separated part; treat that,
	// like an empty token, as no credentials of this kind.
	if token == "" || strings.Contains(token, " ") {
		return "", false
	}
	return token, true
}

// Union tries each authenticator in order; the first success wins. If none
// succeeds, any error (e.g. an unknown bearer token) is returned, so the request
// is rejected rather than treated as anonymous.
func Union(auths ...Authenticator) Authenticator {
	return AuthenticatorFunc(func(r *http.Request) (*User, bool, error) {
		var errs []error
		for _, a := range auths {
			u, ok, err := a.Authenticate(r)
			if ok {
				return u, true, nil
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		return nil, false, errors.Join(errs...)
	})
}

// withAuthenticatedGroup returns a copy of u that has system:authenticated.
func withAuthenticatedGroup(u *User) *User {
	c := cloneUser(u)
	if !slices.Contains(c.Groups, AuthenticatedGroup) {
		c.Groups = append(c.Groups, AuthenticatedGroup)
	}
	return c
}

// cloneUser deep-copies u, so handlers can't mutate an authenticator's table.
func cloneUser(u *User) *User {
	c := &User{Name: u.Name, UID: u.UID, Groups: slices.Clone(u.Groups)}
	if u.Extra != nil {
		c.Extra = make(map[string][]string, len(u.Extra))
		for k, v := range u.Extra {
			c.Extra[k] = slices.Clone(v)
		}
	}
	return c
}

type userKey struct{}

// WithUser returns ctx carrying u.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the user stored by Middleware or WithUser.
func UserFrom(ctx context.Context) (*User, bool) {
	u, ok := ctx.Value(userKey{}).(*User)
	return u, ok && u != nil
}
