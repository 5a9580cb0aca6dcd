// Command apiserver-bench measures Skiff's API server the way ../../ANCHORS.md measured
// upstream: cold start to /readyz, idle RSS, pod creates/s with 16 client-go workers,
// LIST of 10,000 pods, and watch fan-out latency to 100 watchers.
//
//	go run ./bench/apiserver -skiff bin/skiff
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	bin := flag.String("skiff", "bin/skiff", "skiff binary")
	starts := flag.Int("starts", 5, "cold starts to time")
	creates := flag.Int("creates", 4000, "pods to create in the create benchmark")
	listSize := flag.Int("list", 10000, "pods in the LIST benchmark")
	watchers := flag.Int("watchers", 100, "watchers in the fan-out benchmark")
	against := flag.String("kubeconfig", "", "only run the create benchmark against this running server")
	flag.Parse()
	if *against != "" {
		createRate((&server{kubeconfig: *against}).client(false), *creates)
		return
	}

	fmt.Printf("# Skiff API server benchmark (%s, %d CPUs)\n\n", time.Now().UTC().Format(time.RFC3339), numCPU())
	coldStart(*bin, *starts)
	wholeControlPlaneRSS(*bin)
	srv := startServer(*bin, mustTemp())
	defer srv.stop()
	time.Sleep(2 * time.Second)
	fmt.Printf("idle RSS after start: %.0f MiB (whole process: etcd + API server)\n", srv.rssMiB())
	client := srv.client(false)
	createRate(client, *creates)
	fillTo(client, *listSize)
	listLatency(srv, *listSize)
	fanOut(srv, *watchers)
	fmt.Printf("RSS after %d pods: %.0f MiB\n", *listSize, srv.rssMiB())
}

type server struct {
	cmd        *exec.Cmd
	url        string
	kubeconfig string
}

var readyLine = regexp.MustCompile(`ready at (https://\S+)`)

func startServer(bin, dir string) *server {
	cmd := exec.Command(bin, "apiserver", "--data-dir", dir, "--https-port", "0", "--bind-address", "127.0.0.1")
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = nil
	must(cmd.Start())
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
			go func() {
				for sc.Scan() {
				}
			}()
			return &server{cmd: cmd, url: m[1], kubeconfig: filepath.Join(dir, "kubeconfig")}
		}
	}
	panic("server exited before ready")
}

func (s *server) stop() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() }

func (s *server) rssMiB() float64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func (s *server) config(json bool) *rest.Config {
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig)
	must(err)
	cfg.QPS, cfg.Burst = 100000, 100000
	if json {
		cfg.ContentType = "application/json"
		cfg.AcceptContentTypes = "application/json"
	}
	return cfg
}

func (s *server) client(json bool) *kubernetes.Clientset {
	c, err := kubernetes.NewForConfig(s.config(json))
	must(err)
	return c
}

// wholeControlPlaneRSS: `skiff server --disable-agent` runs etcd, the API server, the
// scheduler and the controller manager in one process; its idle RSS is the control plane's.
func wholeControlPlaneRSS(bin string) {
	dir := mustTemp()
	defer os.RemoveAll(dir)
	cmd := exec.Command(bin, "server", "--data-dir", dir, "--https-port", "0", "--bind-address", "127.0.0.1", "--disable-agent")
	out, _ := cmd.StdoutPipe()
	must(cmd.Start())
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if readyLine.MatchString(sc.Text()) {
			break
		}
	}
	time.Sleep(5 * time.Second)
	s := &server{cmd: cmd}
	fmt.Printf("idle RSS of the whole control plane (skiff server --disable-agent: etcd + API server + scheduler + controller manager, one process): %.0f MiB\n", s.rssMiB())
	s.stop()
}

// coldStart times launch → /readyz 200 on a fresh data dir, n times.
func coldStart(bin string, n int) {
	var times []time.Duration
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: time.Second}
	for i := 0; i < n; i++ {
		dir := mustTemp()
		start := time.Now()
		cmd := exec.Command(bin, "apiserver", "--data-dir", dir, "--https-port", "0", "--bind-address", "127.0.0.1")
		out, _ := cmd.StdoutPipe()
		must(cmd.Start())
		sc := bufio.NewScanner(out)
		var url string
		for sc.Scan() {
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				url = m[1]
				break
			}
		}
		for {
			resp, err := insecure.Get(url + "/readyz")
			if err == nil && resp.StatusCode == 200 {
				resp.Body.Close()
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		times = append(times, time.Since(start))
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	fmt.Printf("cold start → /readyz 200 (fresh data dir, %d runs): median %v, min %v, max %v\n",
		n, times[len(times)/2].Round(time.Millisecond), times[0].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
}

func benchPod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench": "true"}},
		Spec: corev1.PodSpec{
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{Name: "c", Image: "skiff.local/pause:1",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}}}
}

var (
	podSeq atomic.Int64
	runID  = time.Now().UnixNano() % 100000
)

// createRate: 16 workers create n pods; rate, p50, p99.
func createRate(c *kubernetes.Clientset, n int) {
	lat := runCreates(c, n, 16)
	fmt.Printf("pod creates, 16 client-go workers (protobuf), %d pods: %.0f /s, p50 %v, p99 %v\n",
		n, lat.rate, lat.p(50), lat.p(99))
}

type latencies struct {
	d    []time.Duration
	rate float64
}

func (l latencies) p(q int) time.Duration {
	if len(l.d) == 0 {
		return 0
	}
	return l.d[(len(l.d)-1)*q/100].Round(100 * time.Microsecond)
}

func runCreates(c *kubernetes.Clientset, n, workers int) latencies {
	var mu sync.Mutex
	var all []time.Duration
	work := make(chan int, n)
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for range work {
				t := time.Now()
				_, err := c.CoreV1().Pods("default").Create(context.Background(), benchPod(fmt.Sprintf("p-%d-%06d", runID, podSeq.Add(1))), metav1.CreateOptions{})
				must(err)
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return latencies{d: all, rate: float64(n) / el.Seconds()}
}

func fillTo(c *kubernetes.Clientset, n int) {
	if have := int(podSeq.Load()); have < n {
		runCreates(c, n-have, 16)
	}
}

// listLatency: LIST of all pods, JSON and protobuf, median of 5 (decoded by client-go).
func listLatency(s *server, n int) {
	for _, json := range []bool{true, false} {
		c := s.client(json)
		var times []time.Duration
		for i := 0; i < 5; i++ {
			t := time.Now()
			l, err := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
			must(err)
			times = append(times, time.Since(t))
			if len(l.Items) < n {
				panic(fmt.Sprintf("list returned %d pods, want %d", len(l.Items), n))
			}
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		enc := "protobuf"
		if json {
			enc = "JSON"
		}
		fmt.Printf("LIST %d pods (client-go, decoded, %s): median %v\n", n, enc, times[2].Round(time.Millisecond))
	}
}

// fanOut: n watchers on configmaps; time from create returning to every watcher seeing it.
func fanOut(s *server, n int) {
	c := s.client(false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type seen struct {
		name string
		at   time.Time
	}
	events := make(chan seen, n*256)
	for i := 0; i < n; i++ {
		w, err := c.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: ""})
		must(err)
		go func(w watch.Interface) {
			for ev := range w.ResultChan() {
				if ev.Type == watch.Added {
					events <- seen{ev.Object.(*corev1.ConfigMap).Name, time.Now()}
				}
			}
		}(w)
	}
	time.Sleep(500 * time.Millisecond)
	const objects = 200
	created := map[string]time.Time{}
	var mu sync.Mutex
	got := map[string]int{}
	var lat []time.Duration
	done := make(chan struct{})
	go func() {
		for e := range events {
			mu.Lock()
			got[e.name]++
			if got[e.name] == n {
				lat = append(lat, e.at.Sub(created[e.name]))
				if len(lat) == objects {
					close(done)
				}
			}
			mu.Unlock()
		}
	}()
	for i := 0; i < objects; i++ {
		name := fmt.Sprintf("fan-%04d", i)
		mu.Lock()
		created[name] = time.Now()
		mu.Unlock()
		_, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		must(err)
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		fmt.Printf("watch fan-out: only %d/%d objects reached all %d watchers\n", len(lat), objects, n)
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	l := latencies{d: lat}
	fmt.Printf("watch fan-out, %d watchers, %d creates: create sent → all saw it p50 %v, p99 %v, none missed\n", n, objects, l.p(50), l.p(99))
}

func mustTemp() string {
	d, err := os.MkdirTemp("", "skiff-bench-")
	must(err)
	return d
}

func numCPU() int {
	data, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(data), "processor\t:")
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
