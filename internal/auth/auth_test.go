package auth

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/clientcmd"
)

func mustPKI(t *testing.T, dir string, extra ...string) *PKI {
	t.Helper()
	p, err := EnsurePKI(dir, extra)
	if err != nil {
		t.Fatalf("EnsurePKI: %v", err)
	}
	return p
}

func parseCertFile(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnsurePKIReuseAndRegenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	p1 := mustPKI(t, dir)
	serving1 := readFile(t, p1.ServingCertFile)
	admin1 := readFile(t, p1.AdminCertFile)

	p2 := mustPKI(t, dir)
	if !bytes.Equal(p1.CACertPEM, p2.CACertPEM) {
		t.Fatal("second EnsurePKI replaced the CA")
	}
	if !bytes.Equal(serving1, readFile(t, p2.ServingCertFile)) {
		t.Fatal("second EnsurePKI reissued the serving certificate without a new SAN")
	}
	if !bytes.Equal(admin1, readFile(t, p2.AdminCertFile)) {
		t.Fatal("second EnsurePKI reissued the admin certificate")
	}

	for _, f := range []string{p2.CAKeyFile, p2.ServingKeyFile, p2.AdminKeyFile} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, st.Mode().Perm())
		}
	}

	// A new requested SAN reissues only the serving certificate.
	p3 := mustPKI(t, dir, "skiff.example.com", "192.0.2.7")
	if !bytes.Equal(p1.CACertPEM, p3.CACertPEM) {
		t.Fatal("adding a SAN replaced the CA")
	}
	if !bytes.Equal(admin1, readFile(t, p3.AdminCertFile)) {
		t.Fatal("adding a SAN reissued the admin certificate")
	}
	serving3 := parseCertFile(t, p3.ServingCertFile)
	if err := serving3.VerifyHostname("skiff.example.com"); err != nil {
		t.Fatalf("reissued serving cert: %v", err)
	}
	if err := serving3.VerifyHostname("192.0.2.7"); err != nil {
		t.Fatalf("reissued serving cert: %v", err)
	}
	// And asking again for the same SANs keeps it.
	p4 := mustPKI(t, dir, "192.0.2.7")
	if !bytes.Equal(readFile(t, p3.ServingCertFile), readFile(t, p4.ServingCertFile)) {
		t.Fatal("a SAN subset reissued the serving certificate")
	}
}

// A missing CA certificate beside what it signed is refused, never silently replaced.
func TestEnsurePKIRefusesANewCABesideOldCertificates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	p := mustPKI(t, dir)
	if err := os.Remove(p.CACertFile); err != nil {
		t.Fatal(err)
	}
	admin := readFile(t, p.AdminCertFile)
	_, err := EnsurePKI(dir, nil)
	if err == nil || !strings.Contains(err.Error(), "ca.crt is missing") || !strings.Contains(err.Error(), "admin.crt") {
		t.Fatalf("want a refusal naming the missing CA and the certificates it signed, got %v", err)
	}
	if _, serr := os.Stat(p.CACertFile); serr == nil {
		t.Error("a new CA certificate was written")
	}
	if !bytes.Equal(admin, readFile(t, p.AdminCertFile)) {
		t.Error("the admin certificate was replaced")
	}
}

func TestServingCertSANs(t *testing.T) {
	p := mustPKI(t, t.TempDir())
	cert := parseCertFile(t, p.ServingCertFile)
	hostname, _ := os.Hostname()
	names := []string{"localhost", "127.0.0.1", "::1", "kubernetes", "kubernetes.default",
		"kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "10.43.0.1", hostname}
	for _, name := range names {
		_, err := cert.Verify(x509.VerifyOptions{
			DNSName:   name,
			Roots:     p.CAPool(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			t.Errorf("serving cert for %q: %v", name, err)
		}
	}
	ca := parseCertFile(t, p.CACertFile)
	if !ca.IsCA || ca.NotAfter.Sub(ca.NotBefore) < 9*365*24*time.Hour {
		t.Errorf("CA: IsCA=%v validity %v", ca.IsCA, ca.NotAfter.Sub(ca.NotBefore))
	}
	admin := parseCertFile(t, p.AdminCertFile)
	if admin.Subject.CommonName != "skiff-admin" || !slices.Equal(admin.Subject.Organization, []string{"system:masters"}) {
		t.Errorf("admin subject = %v", admin.Subject)
	}
}

// whoami is the test server's view of the caller.
type whoami struct {
	User          *User
	Authorization string // what the handler saw; Middleware should have removed it
	Proto         string
}

func newTestServer(t *testing.T, p *PKI, a Authenticator) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(version.Info{Major: "1", Minor: "37", GitVersion: "v1.37.2-skiff"})
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/readyz/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		u, ok := UserFrom(r.Context())
		if !ok {
			http.Error(w, "no user in context", http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(whoami{User: u, Authorization: r.Header.Get("Authorization"), Proto: r.Proto})
	})
	cfg, err := p.ServerTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(Middleware(a, mux))
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func httpClient(p *PKI, certs ...tls.Certificate) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: p.CAPool(), Certificates: certs},
			ForceAttemptHTTP2: true,
		},
	}
}

func get(t *testing.T, c *http.Client, url, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func decodeWhoami(t *testing.T, body []byte) whoami {
	t.Helper()
	var w whoami
	if err := json.Unmarshal(body, &w); err != nil || w.User == nil {
		t.Fatalf("whoami body %q: %v", body, err)
	}
	return w
}

func TestMiddlewareOverTLS(t *testing.T) {
	dir := t.TempDir()
	p := mustPKI(t, filepath.Join(dir, "tls"))
	tokenFile := filepath.Join(dir, "tokens.csv")
	os.WriteFile(tokenFile, []byte("# comment\ntok-alice,alice,uid-1,\"dev, ops\"\ntok-bob,bob,uid-2\n"), 0o600)
	tokens, err := NewTokenFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	agent := NewStaticTokens(map[string]*User{"agent-secret": {Name: "skiff-agent", Groups: []string{"system:nodes"}}})
	srv := newTestServer(t, p, Union(NewX509(p.CAPool()), tokens, agent))

	t.Run("admin client certificate", func(t *testing.T) {
		pair, err := tls.X509KeyPair(p.AdminCertPEM, p.AdminKeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		code, body := get(t, httpClient(p, pair), srv.URL+"/whoami", "")
		if code != http.StatusOK {
			t.Fatalf("status %d: %s", code, body)
		}
		w := decodeWhoami(t, body)
		if w.Proto != "HTTP/2.0" {
			t.Errorf("protocol %s, want HTTP/2.0 negotiated by ALPN", w.Proto)
		}
		u := w.User
		if u.Name != "skiff-admin" || !slices.Contains(u.Groups, "system:masters") || !slices.Contains(u.Groups, "system:authenticated") {
			t.Fatalf("user = %+v", u)
		}
		if id := u.Extra[CredentialIDKey]; len(id) != 1 || !strings.HasPrefix(id[0], "X509SHA256=") {
			t.Fatalf("credential id = %v", id)
		}
	})

	t.Run("issued node certificate", func(t *testing.T) {
		certPEM, keyPEM, err := p.IssueClientCert("system:node:n1", []string{"system:nodes"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		code, body := get(t, httpClient(p, pair), srv.URL+"/whoami", "")
		u := decodeWhoami(t, body).User
		if code != http.StatusOK || u.Name != "system:node:n1" || !slices.Equal(u.Groups, []string{"system:nodes", "system:authenticated"}) {
			t.Fatalf("status %d user %+v", code, u)
		}
	})

	t.Run("token file bearer token", func(t *testing.T) {
		code, body := get(t, httpClient(p), srv.URL+"/whoami", "tok-alice")
		if code != http.StatusOK {
			t.Fatalf("status %d: %s", code, body)
		}
		w := decodeWhoami(t, body)
		if w.User.Name != "alice" || w.User.UID != "uid-1" || !slices.Equal(w.User.Groups, []string{"dev", "ops", "system:authenticated"}) {
			t.Fatalf("user = %+v", w.User)
		}
		if w.Authorization != "" {
			t.Fatalf("handler saw Authorization header %q", w.Authorization)
		}
	})

	t.Run("static token", func(t *testing.T) {
		code, body := get(t, httpClient(p), srv.URL+"/whoami", "agent-secret")
		if code != http.StatusOK || decodeWhoami(t, body).User.Name != "skiff-agent" {
			t.Fatalf("status %d: %s", code, body)
		}
	})

	unauthorized := `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`
	for name, token := range map[string]string{"no credentials": "", "bad token": "nope"} {
		t.Run(name, func(t *testing.T) {
			code, body := get(t, httpClient(p), srv.URL+"/whoami", token)
			if code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", code)
			}
			if got := strings.TrimSpace(string(body)); got != unauthorized {
				t.Fatalf("body %s\nwant %s", got, unauthorized)
			}
		})
	}

	t.Run("public paths", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz/etcd", "/version"} {
			if code, body := get(t, httpClient(p), srv.URL+path, ""); code != http.StatusOK {
				t.Errorf("%s: status %d: %s", path, code, body)
			}
		}
		// A prefix that merely starts like a public path is not public.
		if code, _ := get(t, httpClient(p), srv.URL+"/healthzfoo", ""); code != http.StatusUnauthorized {
			t.Errorf("/healthzfoo: status %d, want 401", code)
		}
	})

	t.Run("foreign CA client certificate is rejected", func(t *testing.T) {
		other := mustPKI(t, filepath.Join(dir, "other"))
		pair, err := tls.X509KeyPair(other.AdminCertPEM, other.AdminKeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := httpClient(p, pair).Get(srv.URL + "/whoami")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("foreign certificate got status %d", resp.StatusCode)
			}
		}
	})
}

func TestKubeconfigWithClientGo(t *testing.T) {
	dir := t.TempDir()
	p := mustPKI(t, filepath.Join(dir, "tls"))
	srv := newTestServer(t, p, NewX509(p.CAPool()))

	path := filepath.Join(dir, "kubeconfig.yaml")
	os.WriteFile(path, []byte("stale"), 0o644) // an existing world-readable file gets tightened
	if err := WriteKubeconfig(path, srv.URL, p.CACertPEM, p.AdminCertPEM, p.AdminKeyPEM); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig mode %v, want 0600", st.Mode().Perm())
	}
	raw, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if raw.CurrentContext != "default" || raw.Contexts["default"].Cluster != "skiff" || raw.Contexts["default"].AuthInfo != "admin" {
		t.Fatalf("kubeconfig contexts = %+v current %q", raw.Contexts, raw.CurrentContext)
	}

	restCfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := dc.ServerVersion()
	if err != nil {
		t.Fatalf("ServerVersion: %v", err)
	}
	if v.GitVersion != "v1.37.2-skiff" {
		t.Fatalf("version = %+v", v)
	}
	// An authenticated path proves the embedded client certificate is presented.
	body, err := dc.RESTClient().Get().AbsPath("/whoami").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("GET /whoami: %v", err)
	}
	if u := decodeWhoami(t, body).User; u.Name != "skiff-admin" {
		t.Fatalf("user = %+v", u)
	}
}

func TestTokenFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewTokenFile(filepath.Join(dir, "missing.csv")); err == nil {
		t.Error("missing token file accepted")
	}
	short := filepath.Join(dir, "short.csv")
	os.WriteFile(short, []byte("tok,user\n"), 0o600)
	if _, err := NewTokenFile(short); err == nil {
		t.Error("2-column token line accepted")
	}
	dup := filepath.Join(dir, "dup.csv")
	os.WriteFile(dup, []byte("t,first,1\nt,second,2\n"), 0o600)
	a, err := NewTokenFile(dup)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer t")
	if u, ok, err := a.Authenticate(r); !ok || err != nil || u.Name != "second" {
		t.Errorf("duplicate token: got %+v %v %v, want the later line", u, ok, err)
	}
}

func TestUnion(t *testing.T) {
	a := NewStaticTokens(map[string]*User{"good": {Name: "g"}})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if _, ok, err := Union(a).Authenticate(r); ok || err != nil {
		t.Errorf("no credentials: ok=%v err=%v, want false, nil", ok, err)
	}
	r.Header.Set("Authorization", "Basic Zm9vOmJhcg==")
	if _, ok, err := Union(a).Authenticate(r); ok || err != nil {
		t.Errorf("basic auth: ok=%v err=%v, want false, nil", ok, err)
	}
	r.Header.Set("Authorization", "Bearer bad")
	if _, ok, err := Union(a, NewX509(x509.NewCertPool())).Authenticate(r); ok || err == nil {
		t.Errorf("bad token: ok=%v err=%v, want an error", ok, err)
	}
	r.Header.Set("Authorization", "bearer good")
	u, ok, err := Union(NewStaticTokens(nil), a).Authenticate(r)
	if !ok || err != nil || u.Name != "g" {
		t.Errorf("second authenticator: %+v %v %v", u, ok, err)
	}
	u.Groups[0] = "mutated"
	u2, _, _ := a.Authenticate(r)
	if u2.Groups[0] != AuthenticatedGroup {
		t.Errorf("mutating a returned user changed the table: %v", u2.Groups)
	}
}
