// Package durability checks the promise "a write acknowledged is in etcd": the server
// is killed with SIGKILL in the middle of a create load, restarted on the same data
// directory, and every create that got 201 must still be there.
package durability

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/testbin"
)

var readyLine = regexp.MustCompile(`ready at (https://\S+)`)

// startServer runs `skiff apiserver` on dir and waits for its ready line.
func startServer(t *testing.T, bin, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "apiserver", "--data-dir", dir, "--https-port", "0", "--bind-address", "127.0.0.1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if readyLine.MatchString(sc.Text()) {
				ready <- true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("server not ready within 30s")
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

func clientFor(t *testing.T, dir string) kubernetes.Interface {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst, cfg.Timeout = 10000, 10000, 5*time.Second
	return kubernetes.NewForConfigOrDie(cfg)
}

func TestKill9KeepsAcknowledgedCreates(t *testing.T) {
	bin := testbin.Path(t)
	dir := t.TempDir()
	srv := startServer(t, bin, dir)
	c := clientFor(t, dir)

	var acked sync.Map
	var count atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				name := fmt.Sprintf("w%d-%05d", w, i)
				_, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
					ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"i": name}}, metav1.CreateOptions{})
				if err == nil {
					acked.Store(name, true)
					count.Add(1)
				}
			}
		}(w)
	}
	for count.Load() < 300 {
		time.Sleep(10 * time.Millisecond)
	}
	// Kill while creates are in flight: nothing gets to flush or shut down.
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = srv.Wait()
	cancel()
	wg.Wait()
	t.Logf("%d creates acknowledged before SIGKILL", count.Load())

	startServer(t, bin, dir)
	c = clientFor(t, dir)
	list, err := c.CoreV1().ConfigMaps("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, cm := range list.Items {
		present[cm.Name] = true
	}
	missing := 0
	acked.Range(func(k, _ any) bool {
		if !present[k.(string)] {
			missing++
			t.Errorf("acknowledged create %s lost", k)
		}
		return missing < 10
	})
	if missing > 0 {
		t.Fatalf("%d acknowledged creates lost", missing)
	}
}
