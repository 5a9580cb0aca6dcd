// Package benchutil is what the benchmark programs share: starting skiff processes,
// fast clients, parallel work and percentiles.
package benchutil

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

var readyLine = regexp.MustCompile(`ready at (https://\S+)`)

// Start runs `bin args...` and returns once it prints its "ready at" line; the rest of
// its output is drained so it never blocks.
func Start(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	Must(err)
	Must(cmd.Start())
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if readyLine.MatchString(sc.Text()) {
			go func() {
				for sc.Scan() {
				}
			}()
			return cmd
		}
	}
	panic(bin + " exited before it was ready")
}

// Kill stops a process at once and reaps it.
func Kill(cmd *exec.Cmd) { _ = cmd.Process.Kill(); _ = cmd.Wait() }

// Client is a clientset for <dataDir>/kubeconfig with the given client-side limits.
func Client(dataDir string, qps float32, burst int) *kubernetes.Clientset {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dataDir, "kubeconfig"))
	Must(err)
	cfg.QPS, cfg.Burst = qps, burst
	return kubernetes.NewForConfigOrDie(cfg)
}

// Parallel calls f(0..n-1) on 16 workers, like the 16-worker load generator of ANCHORS.md.
func Parallel(n int, f func(i int)) {
	work := make(chan int, n)
	for i := range n {
		work <- i
	}
	close(work)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range work {
				f(i)
			}
		})
	}
	wg.Wait()
}

// Percentile of sorted latencies, rounded to the millisecond.
func Percentile(sorted []time.Duration, q int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)*q/100].Round(time.Millisecond)
}

// TempDir makes a fresh directory for one run.
func TempDir(prefix string) string {
	d, err := os.MkdirTemp("", prefix)
	Must(err)
	return d
}

// Must panics on err: a benchmark that cannot set up has nothing to report.
func Must(err error) {
	if err != nil {
		panic(err)
	}
}
