// Command kubelet-bench measures the node side of Skiff.
//
//	./hack/build.sh && go run ./bench/kubelet -skiff bin/skiff            # both parts
//	go run ./bench/kubelet -skiff bin/skiff -real=false -hollow 1000      # hollow only
//
// Real node (needs root and containerd/runc/CNI from hack/install-deps.sh): a fresh
// `skiff server` with its in-process agent, the test images pre-placed in
// <data-dir>/agent/images; pods of skiff.local/testapp:1 (IfNotPresent) are created
// in small batches and create → Running is measured from a watch (p50/p99).
//
// Hollow nodes: `skiff server --disable-agent` plus one `skiff hollow --nodes N`
// process: time until all N nodes are Ready, RSS of the hollow process (total and
// per node), and CPU of both processes while idle with them.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skiff-sh/skiff/bench/benchutil"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

func main() {
	bin := flag.String("skiff", "bin/skiff", "skiff binary (./hack/build.sh)")
	real := flag.Bool("real", true, "measure pod startup on one real node")
	pods := flag.Int("pods", 30, "pods for the real-node startup latency")
	batch := flag.Int("batch", 3, "pods created at once (then wait for them)")
	hollowN := flag.Int("hollow", 1000, "hollow nodes (0: skip)")
	idle := flag.Duration("idle", 60*time.Second, "idle window for the CPU figures")
	shared := flag.Bool("shared-client", false, "pass --shared-client to skiff hollow")
	flag.Parse()
	fmt.Printf("# Skiff kubelet benchmark (%s)\n\n", time.Now().UTC().Format(time.RFC3339))
	if *real {
		realNode(*bin, *pods, *batch)
	}
	if *hollowN > 0 {
		hollowNodes(*bin, *hollowN, *idle, *shared)
	}
}

// realNode measures create → Running on the server's own node.
func realNode(bin string, n, batch int) {
	dir := benchutil.TempDir("skiff-kubelet-bench-")
	defer os.RemoveAll(dir)
	images := filepath.Join(dir, "agent", "images")
	benchutil.Must(os.MkdirAll(images, 0o755))
	build := exec.Command("go", "run", "./test/images/build", "-out", images)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	benchutil.Must(build.Run())
	// The node runs as `skiff agent` next to `skiff server --disable-agent` (the
	// same code as the server's in-process agent) so its kubelet server can take
	// a free port when another node on this machine holds 10250.
	srv := benchutil.Start(bin, "server", "--data-dir", dir, "--https-port", "0", "--bind-address", "127.0.0.1", "--disable-agent")
	defer stop(srv)
	agent := exec.Command(bin, "agent", "--data-dir", dir, "--kubeconfig", filepath.Join(dir, "kubeconfig"),
		"--node-name", "bench-node", "--kubelet-address", "127.0.0.1:0", "--kubelet-allow-local-anonymous")
	alog, err := os.Create(filepath.Join(dir, "agent.log"))
	benchutil.Must(err)
	agent.Stdout, agent.Stderr = alog, alog
	benchutil.Must(agent.Start())
	defer stop(agent)
	c := benchutil.Client(dir, 1000, 2000)
	t0 := time.Now()
	waitNodes(c, 1, 3*time.Minute)
	fmt.Printf("real node Ready %v after the API server\n", time.Since(t0).Round(time.Millisecond))
	waitServiceAccount(c)
	w := newRunningWatch(c)
	// A warm-up pod: the first sandbox also sets up the bridge and loads the
	// image layers into the page cache; upstream's SLO also excludes pulls.
	w.created("warmup")
	create(c, "warmup")
	w.wait([]string{"warmup"}, 2*time.Minute)
	var lat []time.Duration
	for i := 0; i < n; i += batch {
		var names []string
		for j := i; j < min(n, i+batch); j++ {
			names = append(names, fmt.Sprintf("lat-%02d", j))
		}
		for _, name := range names {
			w.created(name)
			create(c, name)
		}
		lat = append(lat, w.wait(names, 2*time.Minute)...)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("real node pod startup, %d pods of skiff.local/testapp:1 in batches of %d: p50 %v, p99 %v, max %v (goal p99 < 2s; upstream SLO 5s)\n",
		len(lat), batch, benchutil.Percentile(lat, 50), benchutil.Percentile(lat, 99), lat[len(lat)-1].Round(time.Millisecond))
	fmt.Printf("with %d pods running: server RSS %s, agent (kubelet) RSS %s\n\n", n+1, mib(rss(srv.Process.Pid)), mib(rss(agent.Process.Pid)))
	deleteAllPods(c)
}

// deleteAllPods removes the bench's pods and waits until the kubelet has stopped them:
// a stopped agent leaves running containers alone (a restarted kubelet adopts them),
// so they must go before it does.
func deleteAllPods(c *kubernetes.Clientset) {
	ctx := context.Background()
	benchutil.Must(c.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}))
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		l, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		if err == nil && len(l.Items) == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	fmt.Println("warning: pods still present after 2 minutes; their containers may outlive the bench")
}

func create(c *kubernetes.Clientset, name string) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "kubelet"}},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: ptr.To[int64](1), Containers: []corev1.Container{{
			Name: "app", Image: "skiff.local/testapp:1", ImagePullPolicy: corev1.PullIfNotPresent}}}}
	_, err := c.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{})
	benchutil.Must(err)
}

// runningWatch records, per pod, create → Running: from just before the create
// request was sent to the watch event that first shows phase Running.
type runningWatch struct {
	mu      sync.Mutex
	added   map[string]time.Time
	running map[string]time.Duration
	changed chan struct{}
}

func newRunningWatch(c *kubernetes.Clientset) *runningWatch {
	w := &runningWatch{added: map[string]time.Time{}, running: map[string]time.Duration{}, changed: make(chan struct{}, 1)}
	wi, err := c.CoreV1().Pods("default").Watch(context.Background(), metav1.ListOptions{LabelSelector: "bench=kubelet"})
	benchutil.Must(err)
	go func() {
		for ev := range wi.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			now := time.Now()
			w.mu.Lock()
			t0, known := w.added[p.Name]
			if _, done := w.running[p.Name]; known && !done && p.Status.Phase == corev1.PodRunning {
				w.running[p.Name] = now.Sub(t0)
			}
			w.mu.Unlock()
			select {
			case w.changed <- struct{}{}:
			default:
			}
		}
	}()
	return w
}

func (w *runningWatch) created(name string) {
	w.mu.Lock()
	w.added[name] = time.Now()
	w.mu.Unlock()
}

func (w *runningWatch) wait(names []string, timeout time.Duration) []time.Duration {
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		var out []time.Duration
		for _, n := range names {
			if d, ok := w.running[n]; ok {
				out = append(out, d)
			}
		}
		w.mu.Unlock()
		if len(out) == len(names) {
			return out
		}
		select {
		case <-w.changed:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			panic(fmt.Sprintf("pods %v not Running after %v", names, timeout))
		}
	}
}

// hollowNodes measures N hollow nodes in one process.
func hollowNodes(bin string, n int, idle time.Duration, shared bool) {
	dir := benchutil.TempDir("skiff-kubelet-bench-")
	defer os.RemoveAll(dir)
	srv := benchutil.Start(bin, "server", "--data-dir", dir, "--https-port", "0", "--bind-address", "127.0.0.1", "--disable-agent")
	defer stop(srv)
	c := benchutil.Client(dir, 1000, 2000)
	time.Sleep(5 * time.Second)
	srvIdle := cpuOver(srv.Process.Pid, 10*time.Second)
	fmt.Printf("server alone: RSS %s, idle CPU %.3f cores\n", mib(rss(srv.Process.Pid)), srvIdle)
	args := []string{"hollow", "--nodes", strconv.Itoa(n), "--kubeconfig", filepath.Join(dir, "kubeconfig")}
	if shared {
		args = append(args, "--shared-client")
	}
	h := exec.Command(bin, args...)
	log, err := os.Create(filepath.Join(os.TempDir(), "skiff-hollow-bench.log"))
	benchutil.Must(err)
	defer log.Close()
	h.Stdout, h.Stderr = log, log
	t0 := time.Now()
	benchutil.Must(h.Start())
	defer func() { _ = h.Process.Kill(); _ = h.Wait() }()
	waitNodes(c, n, 15*time.Minute)
	ready := time.Since(t0)
	peak := rss(h.Process.Pid)
	fmt.Printf("%d hollow nodes (shared client: %v): all Ready %v after `skiff hollow` started\n", n, shared, ready.Round(time.Millisecond))
	time.Sleep(20 * time.Second) // let registration traffic settle into heartbeats
	hCPU, sCPU := cpuPair(h.Process.Pid, srv.Process.Pid, idle)
	hr := rss(h.Process.Pid)
	fmt.Printf("hollow process: RSS %s after Ready, %s after %v idle = %s per node; CPU %.3f cores = %.5f cores per node\n",
		mib(peak), mib(hr), idle, mib(hr/int64(n)), hCPU, hCPU/float64(n))
	fmt.Printf("server with %d hollow nodes: RSS %s, CPU %.3f cores while idle (heartbeats only)\n\n", n, mib(rss(srv.Process.Pid)), sCPU)
}

// waitNodes waits until at least n nodes report Ready=True.
func waitNodes(c *kubernetes.Clientset, n int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		l, err := c.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{ResourceVersion: "0"})
		if err == nil {
			ready := 0
			for _, node := range l.Items {
				for _, cond := range node.Status.Conditions {
					if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
			if ready >= n {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	panic(fmt.Sprintf("fewer than %d nodes Ready after %v", n, timeout))
}

// waitServiceAccount waits for default/default: pods are rejected without it.
func waitServiceAccount(c *kubernetes.Clientset) {
	for i := 0; i < 300; i++ {
		if _, err := c.CoreV1().ServiceAccounts("default").Get(context.Background(), "default", metav1.GetOptions{}); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cpuTicks is utime+stime of pid in clock ticks (USER_HZ = 100 on Linux).
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	benchutil.Must(err)
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}

func cpuOver(pid int, d time.Duration) float64 {
	a := cpuTicks(pid)
	time.Sleep(d)
	return float64(cpuTicks(pid)-a) / 100 / d.Seconds()
}

func cpuPair(p1, p2 int, d time.Duration) (float64, float64) {
	a1, a2 := cpuTicks(p1), cpuTicks(p2)
	time.Sleep(d)
	return float64(cpuTicks(p1)-a1) / 100 / d.Seconds(), float64(cpuTicks(p2)-a2) / 100 / d.Seconds()
}

// rss is VmRSS of pid in bytes.
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	benchutil.Must(err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// stop ends a server gracefully (its agent stops containers and containerd).
func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}
