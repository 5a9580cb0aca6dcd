package proxy

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// commander runs one external tool with a script on stdin. Prefix lets tests and
// benchmarks run the tool elsewhere, e.g. ["ip", "netns", "exec", "bench"].
type commander struct {
	Prefix []string
}

func (c commander) run(ctx context.Context, stdin string, name string, args ...string) (string, error) {
	argv := append(append(append([]string{}, c.Prefix...), name), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, firstLines(out.String(), 6))
	}
	return out.String(), nil
}

func (c commander) lookPath(name string) bool {
	if len(c.Prefix) > 0 {
		// The tool runs wherever the prefix puts it; the binary is the host's.
		_, err := exec.LookPath(name)
		return err == nil
	}
	_, err := exec.LookPath(name)
	return err == nil
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(strings.TrimSpace(s), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}
