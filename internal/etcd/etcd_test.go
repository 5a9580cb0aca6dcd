package etcd

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func startT(t *testing.T, cfg Config) *Etcd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	begin := time.Now()
	e, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("ready in %v (endpoints %v)", time.Since(begin), e.Endpoints())
	return e
}

func TestEmbeddedRestartKeepsData(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etcd")
	ctx := context.Background()

	e := startT(t, Config{DataDir: dir})
	if err := e.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if _, err := e.Client().Put(ctx, "/registry/x", "hello"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := e.Close(); err != nil { // idempotent
		t.Fatalf("second Close: %v", err)
	}

	e2 := startT(t, Config{DataDir: dir})
	defer e2.Close()
	resp, err := e2.Client().Get(ctx, "/registry/x")
	if err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "hello" {
		t.Fatalf("after restart got %v, want hello", resp.Kvs)
	}
}

func TestEmbeddedSideBySide(t *testing.T) {
	a := startT(t, Config{DataDir: t.TempDir()})
	defer a.Close()
	b := startT(t, Config{DataDir: t.TempDir()})
	defer b.Close()
	if a.Endpoints()[0] == b.Endpoints()[0] {
		t.Fatalf("two servers share endpoint %s", a.Endpoints()[0])
	}
	ctx := context.Background()
	if _, err := a.Client().Put(ctx, "k", "a"); err != nil {
		t.Fatal(err)
	}
	resp, err := b.Client().Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 0 {
		t.Fatalf("server b sees server a's key: %v", resp.Kvs)
	}
}

func TestEmbeddedRequiresDataDir(t *testing.T) {
	if _, err := Start(context.Background(), Config{}); err == nil {
		t.Fatal("Start without DataDir and Servers succeeded")
	}
}

// TestEmbeddedSurvivesKill checks durability: writes acknowledged by a server
// process that is then killed with SIGKILL are present after a restart.
func TestEmbeddedSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := filepath.Join(t.TempDir(), "etcd")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
	cmd.Env = append(os.Environ(), "SKIFF_ETCD_HELPER_DIR="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const n = 50
	sc := bufio.NewScanner(out)
	acked := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "acked ") {
			acked++
			if acked == n {
				break
			}
		}
	}
	if acked != n {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper acknowledged %d writes, want %d", acked, n)
	}
	// Kill immediately after the last acknowledgement: no clean shutdown, no flush.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	e := startT(t, Config{DataDir: dir})
	defer e.Close()
	resp, err := e.Client().Get(context.Background(), "/k/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Count < n {
		t.Fatalf("after SIGKILL found %d keys, want at least %d acknowledged ones", resp.Count, n)
	}
}

// TestHelperWriter is the child process of TestEmbeddedSurvivesKill.
func TestHelperWriter(t *testing.T) {
	dir := os.Getenv("SKIFF_ETCD_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process for TestEmbeddedSurvivesKill")
	}
	e, err := Start(context.Background(), Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := e.Client().Put(context.Background(), fmt.Sprintf("/k/%05d", i), "v"); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("acked %d\n", i)
	}
}

func TestExternal(t *testing.T) {
	eps := os.Getenv("SKIFF_TEST_ETCD_ENDPOINTS")
	if eps == "" {
		t.Skip("SKIFF_TEST_ETCD_ENDPOINTS is unset (comma-separated etcd client URLs; TLS via SKIFF_TEST_ETCD_CA/CERT/KEY)")
	}
	cfg := Config{
		Servers:  strings.Split(eps, ","),
		CAFile:   os.Getenv("SKIFF_TEST_ETCD_CA"),
		CertFile: os.Getenv("SKIFF_TEST_ETCD_CERT"),
		KeyFile:  os.Getenv("SKIFF_TEST_ETCD_KEY"),
	}
	e := startT(t, cfg)
	defer e.Close()
	ctx := context.Background()
	key := fmt.Sprintf("/skiff-test/%d", time.Now().UnixNano())
	defer e.Client().Delete(ctx, key)
	if _, err := e.Client().Put(ctx, key, "v"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	resp, err := e.Client().Get(ctx, key)
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("Get = %v, %v", resp, err)
	}
	if err := e.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
}

func TestExternalUnreachableFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	// Port 1 on loopback: nothing listens there.
	if e, err := Start(ctx, Config{Servers: []string{"http://127.0.0.1:1"}}); err == nil {
		e.Close()
		t.Fatal("Start against an unreachable endpoint succeeded")
	}
}

// A damaged WAL must end start-up with an error that says what to do, not hang.
func TestEmbeddedDamagedDataFailsClearly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etcd")
	ctx := context.Background()
	e := startT(t, Config{DataDir: dir})
	if _, err := e.Client().Put(ctx, "/registry/x", "hello"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wals, err := filepath.Glob(filepath.Join(dir, "member", "wal", "*.wal"))
	if err != nil || len(wals) == 0 {
		t.Fatalf("no WAL files in %s: %v", dir, err)
	}
	b, err := os.ReadFile(wals[0])
	if err != nil {
		t.Fatal(err)
	}
	for i := 200; i < 4000 && i < len(b); i += 7 {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(wals[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	e2, err := Start(ctx, Config{DataDir: dir})
	if err == nil {
		e2.Close()
		t.Fatal("started on a damaged WAL")
	}
	if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "move the directory aside") {
		t.Errorf("error should name the directory and the way out: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("failing took %v", d)
	}
}
