// Package kubectl_test drives real kubectl binaries against an in-process Skiff
// control plane and asserts on what a user would see: the printed output and the
// error messages, not only exit codes.
//
// Every scenario runs twice: with the kubectl embedded in `skiff kubectl`
// (k8s.io/kubectl v0.37) and with /usr/bin/kubectl (v1.32) when it is installed.
// Both variants share one server per test function; each variant works in its own
// namespace (set in its own kubeconfig) and names its cluster-scoped objects with
// its own suffix, so they cannot see each other's objects.
package kubectl_test

import (
	"bytes"
	"context"
	"fmt"
	"github.com/skiff-sh/skiff/internal/testbin"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// systemKubectl is the upstream kubectl 1.32 binary the second variant runs.
const systemKubectl = "/usr/bin/kubectl"

// skiffBin is the skiff binary built once by TestMain.
var skiffBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "skiff-kubectl-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	skiffBin = os.Getenv("SKIFF_BIN")
	if skiffBin == "" {
		skiffBin = filepath.Join(dir, "skiff")
		if err := testbin.Build(skiffBin); err != nil {
			fmt.Fprintf(os.Stderr, "building skiff: %v\n", err)
			return 1
		}
	}
	return m.Run()
}

// variant is one kubectl binary.
type variant struct {
	name string
	argv []string // the command before kubectl's own arguments
}

func variants() []variant {
	return []variant{
		{name: "embedded", argv: []string{skiffBin, "kubectl"}},
		{name: "kubectl-1.32", argv: []string{systemKubectl}},
	}
}

// kubectl runs one variant against one server, in its own namespace.
type kubectl struct {
	t          *testing.T
	argv       []string
	kubeconfig string
	cacheDir   string
	// ns is the variant's namespace (the kubeconfig's default); sfx names its cluster-scoped objects.
	ns, sfx string
	dir     string // scratch directory for manifests and editor scripts
	srv     *testserver.Server
	env     []string
}

// eachKubectl runs fn as one subtest per kubectl variant against srv. A variant whose
// binary is missing is skipped loudly; the other still runs.
func eachKubectl(t *testing.T, srv *testserver.Server, fn func(t *testing.T, k *kubectl)) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			if _, err := os.Stat(v.argv[0]); err != nil {
				t.Skipf("!!! SKIPPING the %s variant: %s is not installed (%v) !!!", v.name, v.argv[0], err)
			}
			fn(t, newKubectl(t, srv, v))
		})
	}
}

func newKubectl(t *testing.T, srv *testserver.Server, v variant) *kubectl {
	t.Helper()
	dir := t.TempDir()
	ns := "kt-" + strings.ReplaceAll(v.name, ".", "")
	// A fresh cache per server and variant: kubectl caches discovery for hours.
	k := &kubectl{t: t, argv: v.argv, cacheDir: filepath.Join(dir, "cache"), ns: ns, sfx: ns, dir: dir, srv: srv}
	k.kubeconfig = writeKubeconfig(t, srv.Kubeconfig, filepath.Join(dir, "kubeconfig"), ns)
	_, err := srv.Client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace %s: %v", ns, err)
	}
	return k
}

// writeKubeconfig copies the admin kubeconfig with its context's namespace set to ns.
func writeKubeconfig(t *testing.T, from, to, ns string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Contexts {
		c.Namespace = ns
	}
	if err := clientcmd.WriteToFile(*cfg, to); err != nil {
		t.Fatal(err)
	}
	return to
}

// result is one kubectl run.
type result struct {
	stdout, stderr string
	err            error
}

func (r result) String() string {
	return fmt.Sprintf("err=%v\n--- stdout\n%s--- stderr\n%s", r.err, r.stdout, r.stderr)
}

// command builds the kubectl command line (the cache dir goes first so every
// subcommand, including plugins-free ones like `version`, accepts it).
func (k *kubectl) command(ctx context.Context, args ...string) *exec.Cmd {
	full := append(append(append([]string(nil), k.argv[1:]...), "--cache-dir="+k.cacheDir), args...)
	cmd := exec.CommandContext(ctx, k.argv[0], full...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+k.kubeconfig, "HOME="+k.dir, "KUBECTL_COMMAND_HEADERS=false"), k.env...)
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// run runs kubectl with a deadline: nothing a user types may hang.
func (k *kubectl) run(args ...string) result {
	k.t.Helper()
	return k.runStdin("", args...)
}

func (k *kubectl) runStdin(stdin string, args ...string) result {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := k.command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		k.t.Fatalf("kubectl %s: timed out (hang)\n%s", strings.Join(args, " "), result{out.String(), errb.String(), err})
	}
	return result{stdout: out.String(), stderr: errb.String(), err: err}
}

// ok runs kubectl, fails the test unless it succeeds, and returns stdout.
// in returns k reporting to t: a subtest must fail itself, not its parent (calling
// FailNow on a parent from a subtest's goroutine panics and hides the message).
func (k *kubectl) in(t *testing.T) *kubectl {
	c := *k
	c.t = t
	return &c
}

func (k *kubectl) ok(args ...string) string {
	k.t.Helper()
	r := k.run(args...)
	if r.err != nil {
		k.t.Fatalf("kubectl %s failed:\n%s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// fails runs kubectl, fails the test if it succeeds, and returns stdout+stderr.
func (k *kubectl) fails(args ...string) string {
	k.t.Helper()
	r := k.run(args...)
	if r.err == nil {
		k.t.Fatalf("kubectl %s: want an error, it succeeded:\n%s", strings.Join(args, " "), r)
	}
	return r.stdout + r.stderr
}

// file writes a manifest into the scratch directory and returns its path.
func (k *kubectl) file(name, content string) string {
	k.t.Helper()
	p := filepath.Join(k.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		k.t.Fatal(err)
	}
	return p
}

// script writes an executable shell script (an EDITOR) and returns its path.
func (k *kubectl) script(name, body string) string {
	k.t.Helper()
	p := filepath.Join(k.dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o700); err != nil {
		k.t.Fatal(err)
	}
	return p
}

// background starts a long-running kubectl (get -w, wait); stop ends it and returns its output.
type background struct {
	cmd      *exec.Cmd
	out, err *syncBuffer
	cancel   context.CancelFunc
	done     chan error
}

func (k *kubectl) start(args ...string) *background {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := k.command(ctx, args...)
	b := &background{cmd: cmd, out: &syncBuffer{}, err: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = b.out, b.err
	if err := cmd.Start(); err != nil {
		cancel()
		k.t.Fatal(err)
	}
	go func() { b.done <- cmd.Wait() }()
	k.t.Cleanup(func() { b.stop() })
	return b
}

// waitFor polls the output until cond holds (true) or the deadline passes (false).
func (b *background) waitFor(d time.Duration, cond func(stdout string) bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond(b.out.String()) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond(b.out.String())
}

// exited waits up to d for the process to end on its own.
func (b *background) exited(d time.Duration) (error, bool) {
	select {
	case err := <-b.done:
		b.done <- err
		return err, true
	case <-time.After(d):
		return nil, false
	}
}

func (b *background) stop() string {
	if b.cmd.Process != nil {
		_ = b.cmd.Process.Signal(os.Interrupt)
	}
	select {
	case err := <-b.done:
		b.done <- err
	case <-time.After(3 * time.Second):
		b.cancel()
	}
	b.cancel()
	return b.out.String()
}

// Assertions on output.

func mustContain(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("%s: want %q in output:\n%s", what, w, out)
		}
	}
}

func mustNotContain(t *testing.T, what, out string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(out, b) {
			t.Fatalf("%s: did not want %q in output:\n%s", what, b, out)
		}
	}
}

// rowFields returns the whitespace-split fields of the first output line whose first
// field (or, with -A, second field) is name; nil if there is none.
func rowFields(out, name string) []string {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == name {
			return f
		}
	}
	return nil
}

// header returns the first line's column titles.
func header(out string) []string {
	line, _, _ := strings.Cut(out, "\n")
	return splitColumns(line)
}

// splitColumns splits a table line on runs of two or more spaces (titles like
// "NOMINATED NODE" contain one space).
func splitColumns(line string) []string {
	var cols []string
	for _, c := range strings.Split(line, "  ") {
		if c = strings.TrimSpace(c); c != "" {
			cols = append(cols, c)
		}
	}
	return cols
}

func countLines(out, prefix string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, prefix) {
			n++
		}
	}
	return n
}

// syncBuffer is a bytes.Buffer safe for a process writing while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
