package auth

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// storedSecret is what the API server stores for a created token Secret:
// stringData folded into data.
func storedSecret(t *testing.T, token string, ttl time.Duration, groups []string, now time.Time) *corev1.Secret {
	t.Helper()
	s, err := BootstrapTokenSecret(token, ttl, "test", groups, now)
	if err != nil {
		t.Fatal(err)
	}
	s.Data = map[string][]byte{}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
	return s
}

func bearer(tok string) *http.Request {
	r, _ := http.NewRequest("GET", "https://x/api", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func TestBootstrapTokenAuthenticator(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const tok = "abcdef.0123456789abcdef"
	secrets := map[string]*corev1.Secret{}
	a := &BootstrapTokens{Lookup: func(name string) (*corev1.Secret, bool) { s, ok := secrets[name]; return s, ok },
		Now: func() time.Time { return now }}

	// Not of the bootstrap form: not ours, no error (another authenticator may know it).
	if _, ok, err := a.Authenticate(bearer("some-other-token")); ok || err != nil {
		t.Fatalf("foreign token: ok=%v err=%v", ok, err)
	}
	// Of the form but unknown: rejected.
	if _, ok, err := a.Authenticate(bearer(tok)); ok || err == nil {
		t.Fatalf("unknown token: ok=%v err=%v", ok, err)
	}
	secrets["bootstrap-token-abcdef"] = storedSecret(t, tok, time.Hour, []string{"system:bootstrappers:worker"}, now)
	u, ok, err := a.Authenticate(bearer(tok))
	if !ok || err != nil {
		t.Fatalf("valid token: ok=%v err=%v", ok, err)
	}
	if u.Name != "system:bootstrap:abcdef" {
		t.Errorf("user %q", u.Name)
	}
	for _, g := range []string{"system:bootstrappers", "system:bootstrappers:worker", "system:authenticated"} {
		if !slices.Contains(u.Groups, g) {
			t.Errorf("groups %v lack %s", u.Groups, g)
		}
	}
	// Wrong secret part.
	if _, ok, err := a.Authenticate(bearer("abcdef.0123456789abcdee")); ok || err == nil {
		t.Fatalf("wrong secret accepted")
	}
	// Expired.
	now = now.Add(2 * time.Hour)
	if _, ok, err := a.Authenticate(bearer(tok)); ok || err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: ok=%v err=%v", ok, err)
	}
	// Not usable for authentication; being deleted; wrong type.
	now = now.Add(-2 * time.Hour)
	for name, mutate := range map[string]func(*corev1.Secret){
		"no auth usage": func(s *corev1.Secret) { delete(s.Data, BootstrapUsageAuthentication) },
		"deleting":      func(s *corev1.Secret) { s.DeletionTimestamp = &metav1.Time{Time: now} },
		"wrong type":    func(s *corev1.Secret) { s.Type = corev1.SecretTypeOpaque },
		"bad group":     func(s *corev1.Secret) { s.Data[BootstrapTokenExtraGroupsKey] = []byte("system:masters") },
	} {
		s := storedSecret(t, tok, time.Hour, nil, now)
		mutate(s)
		secrets["bootstrap-token-abcdef"] = s
		if _, ok, _ := a.Authenticate(bearer(tok)); ok {
			t.Errorf("%s: token accepted", name)
		}
	}
}

func TestBootstrapTokenFormat(t *testing.T) {
	tok, err := GenerateBootstrapToken()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := ParseBootstrapToken(tok); !ok {
		t.Fatalf("generated token %q does not parse", tok)
	}
	for _, bad := range []string{"ABCDEF.0123456789abcdef", "abcde.0123456789abcdef", "abcdef0123456789abcdef", "abcdef.0123456789abcdef0"} {
		if _, _, ok := ParseBootstrapToken(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
	if _, err := BootstrapTokenSecret(tok, 0, "", []string{"system:masters"}, time.Now()); err == nil {
		t.Error("an extra group outside system:bootstrappers: was accepted")
	}
	s, _ := BootstrapTokenSecret(tok, 0, "", nil, time.Now())
	if _, ok := s.StringData[BootstrapTokenExpirationKey]; ok {
		t.Error("ttl 0 should mean no expiration")
	}
}

func TestCAHashPinning(t *testing.T) {
	p, err := EnsurePKI(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := EnsurePKI(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	certs, _ := ParseCertsPEM(p.CACertPEM)
	pin, err := CAHashOfPEM(p.CACertPEM)
	if err != nil || !strings.HasPrefix(pin, "sha256:") || len(pin) != len("sha256:")+64 {
		t.Fatalf("pin %q err %v", pin, err)
	}
	if _, err := MatchCAHash(certs, strings.ToUpper(pin[:7])+strings.ToUpper(pin[7:])); err != nil {
		t.Errorf("upper-case pin: %v", err)
	}
	otherPin, _ := CAHashOfPEM(other.CACertPEM)
	if _, err := MatchCAHash(certs, otherPin); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("mismatched pin: %v", err)
	}
	for _, bad := range []string{"", "md5:abcd", "sha256:xyz", "sha256:" + strings.Repeat("a", 63)} {
		if _, err := ParseCAHash(bad); err == nil {
			t.Errorf("pin %q accepted", bad)
		}
	}
}
