package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Bootstrap tokens (upstream's format): "<id>.<secret>", a 6-character id and a
// 16-character secret of [a-z0-9], stored as a Secret of type
// bootstrap.kubernetes.io/token named bootstrap-token-<id> in kube-system.
const (
	BootstrapTokenSecretType   corev1.SecretType = "bootstrap.kubernetes.io/token"
	BootstrapTokenSecretPrefix                   = "bootstrap-token-"
	BootstrapTokenNamespace                      = "kube-system"
	BootstrapUserPrefix                          = "system:bootstrap:"
	BootstrappersGroup                           = "system:bootstrappers"

	BootstrapTokenIDKey          = "token-id"
	BootstrapTokenSecretKey      = "token-secret"
	BootstrapTokenExpirationKey  = "expiration"
	BootstrapTokenDescriptionKey = "description"
	BootstrapTokenExtraGroupsKey = "auth-extra-groups"
	BootstrapUsageAuthentication = "usage-bootstrap-authentication"
	BootstrapUsageSigning        = "usage-bootstrap-signing"
)

var bootstrapTokenRE = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)

// ParseBootstrapToken splits "<id>.<secret>"; ok is false when s is not of that form.
func ParseBootstrapToken(s string) (id, secret string, ok bool) {
	m := bootstrapTokenRE.FindStringSubmatch(s)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// GenerateBootstrapToken returns a fresh random "<id>.<secret>".
func GenerateBootstrapToken() (string, error) {
	id, err := randomLowerAlnum(6)
	if err != nil {
		return "", err
	}
	secret, err := randomLowerAlnum(16)
	if err != nil {
		return "", err
	}
	return id + "." + secret, nil
}

func randomLowerAlnum(n int) (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", fmt.Errorf("bootstrap token: %w", err)
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b), nil
}

// BootstrapTokenSecret builds the Secret that makes token valid for
// authentication (and, as upstream's default, for signing cluster-info) until
// now+ttl (no expiry when ttl <= 0), with extra groups (each must start with
// "system:bootstrappers:").
func BootstrapTokenSecret(token string, ttl time.Duration, description string, extraGroups []string, now time.Time) (*corev1.Secret, error) {
	id, secret, ok := ParseBootstrapToken(token)
	if !ok {
		return nil, errors.New(`bootstrap token must be of the form "[a-z0-9]{6}.[a-z0-9]{16}"`)
	}
	for _, g := range extraGroups {
		if !strings.HasPrefix(g, BootstrappersGroup+":") {
			return nil, fmt.Errorf("extra group %q must start with %q", g, BootstrappersGroup+":")
		}
	}
	data := map[string]string{
		BootstrapTokenIDKey: id, BootstrapTokenSecretKey: secret,
		BootstrapUsageAuthentication: "true", BootstrapUsageSigning: "true",
	}
	if ttl > 0 {
		data[BootstrapTokenExpirationKey] = now.Add(ttl).UTC().Format(time.RFC3339)
	}
	if description != "" {
		data[BootstrapTokenDescriptionKey] = description
	}
	if len(extraGroups) > 0 {
		data[BootstrapTokenExtraGroupsKey] = strings.Join(extraGroups, ",")
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: BootstrapTokenSecretPrefix + id, Namespace: BootstrapTokenNamespace},
		Type:       BootstrapTokenSecretType,
		StringData: data,
	}, nil
}

// BootstrapTokenExpiry returns the expiry recorded in a token Secret; ok is false
// when it has none (or an unparseable one, which upstream treats as expired).
func BootstrapTokenExpiry(s *corev1.Secret) (exp time.Time, set bool, err error) {
	v := string(s.Data[BootstrapTokenExpirationKey])
	if v == "" {
		return time.Time{}, false, nil
	}
	exp, err = time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, true, fmt.Errorf("expiration %q is not RFC 3339", v)
	}
	return exp, true, nil
}

// BootstrapTokens authenticates "Authorization: Bearer <id>.<secret>" against the
// bootstrap-token Secrets, as user system:bootstrap:<id> in system:bootstrappers
// (plus the Secret's auth-extra-groups).
type BootstrapTokens struct {
	// Lookup returns kube-system's Secret of that name, or ok=false. The API
	// server gives it a read of its own watch cache.
	Lookup func(name string) (*corev1.Secret, bool)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

var errBootstrapToken = errors.New("invalid bootstrap token")

// Authenticate implements Authenticator. A bearer token not of the bootstrap
// form is not ours: another authenticator may know it.
func (b *BootstrapTokens) Authenticate(r *http.Request) (*User, bool, error) {
	tok, ok := bearerToken(r)
	if !ok {
		return nil, false, nil
	}
	id, secret, ok := ParseBootstrapToken(tok)
	if !ok || b.Lookup == nil {
		return nil, false, nil
	}
	s, ok := b.Lookup(BootstrapTokenSecretPrefix + id)
	if !ok {
		return nil, false, errBootstrapToken
	}
	u, err := b.check(s, id, secret)
	if err != nil {
		return nil, false, err
	}
	return u, true, nil
}

// check applies upstream's rules: right type, not being deleted, matching id
// and secret, authentication usage, not expired, well-formed extra groups.
func (b *BootstrapTokens) check(s *corev1.Secret, id, secret string) (*User, error) {
	if s.Type != BootstrapTokenSecretType || s.DeletionTimestamp != nil {
		return nil, errBootstrapToken
	}
	if string(s.Data[BootstrapTokenIDKey]) != id ||
		subtle.ConstantTimeCompare(s.Data[BootstrapTokenSecretKey], []byte(secret)) != 1 {
		return nil, errBootstrapToken
	}
	if string(s.Data[BootstrapUsageAuthentication]) != "true" {
		return nil, errBootstrapToken
	}
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	exp, set, err := BootstrapTokenExpiry(s)
	if err != nil || (set && !now().Before(exp)) {
		return nil, errors.New("bootstrap token expired")
	}
	groups := []string{BootstrappersGroup}
	if v := string(s.Data[BootstrapTokenExtraGroupsKey]); v != "" {
		for _, g := range strings.Split(v, ",") {
			g = strings.TrimSpace(g)
			if !strings.HasPrefix(g, BootstrappersGroup+":") {
				return nil, errBootstrapToken
			}
			if !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
	}
	return withAuthenticatedGroup(&User{Name: BootstrapUserPrefix + id, Groups: groups}), nil
}
