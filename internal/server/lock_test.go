package server

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestLockDataDirRefusesASecondOwner(t *testing.T) {
	dir := t.TempDir()
	release, err := lockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockDataDir(dir)
	if err == nil {
		t.Fatal("a second lock on the same data dir was granted")
	}
	if msg := err.Error(); !strings.Contains(msg, "pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(msg, "--data-dir") {
		t.Errorf("refusal should name the owner's pid and what to do: %q", msg)
	}
	release()
	release2, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("lock not available after release: %v", err)
	}
	release2()
}
