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
		err = Build(built)
	})
	if err != nil {
		t.Fatalf("building skiff: %v", err)
	}
	return built
}

// Build builds the skiff binary to out with hack/build.sh (which also stamps the
// embedded kubectl's version).
func Build(out string) error {
	cmd := exec.Command("./hack/build.sh", out)
	cmd.Dir = moduleRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		return &buildError{out: string(b), err: err}
	}
	return nil
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
