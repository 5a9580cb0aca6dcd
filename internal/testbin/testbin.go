// Package testbin gives tests the skiff binary: $SKIFF_BIN when set (hack/test.sh
// builds it once), otherwise built once per test process from this module.
package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	once  sync.Once
	built string
	err   error
)

// Path returns the path of a skiff binary, building it if needed.
func Path(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SKIFF_BIN"); p != "" {
		return p
	}
	once.Do(func() {
		dir, e := os.MkdirTemp("", "skiff-bin-")
		if e != nil {
			err = e
			return
		}
		built = filepath.Join(dir, "skiff")
		cmd := exec.Command("go", "build", "-o", built, "./cmd/skiff")
		cmd.Dir = moduleRoot()
		out, e := cmd.CombinedOutput()
		if e != nil {
			err = &buildError{out: string(out), err: e}
		}
	})
	if err != nil {
		t.Fatalf("building skiff: %v", err)
	}
	return built
}

type buildError struct {
	out string
	err error
}

func (b *buildError) Error() string { return b.err.Error() + "\n" + b.out }

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
