package testbed

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
)

// Cluster is Skiff running on a bed: n0 runs `skiff server` (control plane and
// its local node), the other nodes run `skiff agent` joining it, each with its own
// data dir and containerd. The e2e tests and the conformance run
// (test/conformance/cluster) share it.
type Cluster struct {
	Bed        *Bed
	Bin        string               // the skiff binary
	Base       string               // data dirs (<Base>/<node>), kubeconfig, images
	Kubeconfig string               // admin kubeconfig reaching the server at n0's address
	Client     kubernetes.Interface // admin client
	Names      map[string]string    // bed node → Node name
	Procs      map[string]*exec.Cmd // bed node → its skiff process
	Args       map[string][]string  // bed node → its skiff arguments (for restarts)
}

// ClusterConfig says what to start.
type ClusterConfig struct {
	Nodes      int      // bed nodes; n0 is the server, n1.. are agents (at least 1)
	Bin        string   // the skiff binary
	Images     string   // directory of image tarballs every node imports at start
	ServerArgs []string // extra `skiff server` flags
}

// RequireCluster skips (loudly) unless this machine can run a Cluster.
func RequireCluster(t T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, bin := range []string{"containerd", "runc", "ctr", "nft", "ip", "iptables"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	for _, p := range []string{"bridge", "host-local", "portmap", "loopback"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", p)); err != nil {
			missing = append(missing, "/usr/lib/cni/"+p)
		}
	}
	if len(missing) > 0 {
		t.Skipf("\n\n*** SKIPPING MULTI-NODE E2E: missing %s — run as root after ./hack/install-deps.sh ***\n", strings.Join(missing, ", "))
	}
}

// StartCluster builds the bed, starts the server and the agents, and waits for
// every node to be Ready with a pod CIDR. Everything is removed at cleanup:
// workloads first (while the kubelets run), then processes, shims, data.
func StartCluster(t T, cfg ClusterConfig) *Cluster {
	t.Helper()
	RequireCluster(t)
	bed := New(t, cfg.Nodes)
	base, err := os.MkdirTemp("", "skiff-cluster-")
	if err != nil {
		t.Fatalf("%v", err)
	}
	c := &Cluster{Bed: bed, Bin: cfg.Bin, Base: base, Names: map[string]string{}, Procs: map[string]*exec.Cmd{}, Args: map[string][]string{}}
	t.Cleanup(func() { c.Cleanup(t) })
	for _, n := range bed.Nodes {
		CopyImages(t, cfg.Images, filepath.Join(c.Dir(n.Name), "agent", "images"))
	}
	n0 := bed.Node("n0")
	c.StartSkiff(t, "n0", append([]string{"server", "--data-dir", c.Dir("n0"), "--https-port", "6443", "--tls-san", n0.IP}, cfg.ServerArgs...)...)
	c.Kubeconfig = filepath.Join(base, "kubeconfig")
	c.Client = WaitAPI(t, filepath.Join(c.Dir("n0"), "kubeconfig"), c.Kubeconfig, n0.IP)
	host, _ := os.Hostname()
	c.Names["n0"] = host // the server's local node keeps the host name
	for _, n := range bed.Nodes[1:] {
		c.Names[n.Name] = "skiff-" + n.Name
		c.StartSkiff(t, n.Name, "agent", "--data-dir", c.Dir(n.Name), "--kubeconfig", c.Kubeconfig,
			"--node-name", c.Names[n.Name], "--node-ip", n.IP)
	}
	for _, n := range bed.Nodes {
		c.WaitNodeReady(t, n.Name, 180*time.Second)
	}
	return c
}

// Dir is the node's data directory.
func (c *Cluster) Dir(node string) string { return filepath.Join(c.Base, node) }

// StartSkiff runs `skiff args...` in the node, logging to <dir>/<cmd>.log.
func (c *Cluster) StartSkiff(t T, node string, args ...string) {
	t.Helper()
	if err := os.MkdirAll(c.Dir(node), 0o700); err != nil {
		t.Fatalf("%v", err)
	}
	logf, err := os.OpenFile(filepath.Join(c.Dir(node), args[0]+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("%v", err)
	}
	defer logf.Close()
	cmd := c.Bed.Command(node, append([]string{c.Bin}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: starting skiff %v: %v", node, args, err)
	}
	c.Procs[node], c.Args[node] = cmd, args
}

// WaitNodeReady waits until the node is Ready and has a pod CIDR.
func (c *Cluster) WaitNodeReady(t T, n string, timeout time.Duration) {
	t.Helper()
	var last *corev1.Node
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		nd, err := c.Client.CoreV1().Nodes().Get(ctx, c.Names[n], metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = nd
		return NodeReady(nd) == corev1.ConditionTrue && nd.Spec.PodCIDR != "", nil
	})
	if err != nil {
		t.Fatalf("node %s (%s) not Ready with a podCIDR within %v: %+v\n%s", n, c.Names[n], timeout, last, c.Logs(n))
	}
}

// NodeReady is the status of the node's Ready condition.
func NodeReady(nd *corev1.Node) corev1.ConditionStatus {
	for _, cond := range nd.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status
		}
	}
	return ""
}

// Logs returns the tail of the node's skiff log, for failure messages.
func (c *Cluster) Logs(n string) string {
	args := c.Args[n]
	if len(args) == 0 {
		return ""
	}
	b, _ := os.ReadFile(filepath.Join(c.Dir(n), args[0]+".log"))
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

// Cleanup deletes the workloads while the nodes still run (so the kubelets stop
// the containers), then stops the processes, ends what is left of each node with
// `skiff killall`, and removes the data. The bed's own teardown runs after this.
func (c *Cluster) Cleanup(t T) {
	if t.Failed() {
		for _, n := range c.Bed.Nodes {
			t.Logf("=== %s log tail:\n%s", n.Name, c.Logs(n.Name))
		}
		if d := os.Getenv("SKIFF_E2E_LOGS"); d != "" {
			for _, n := range c.Bed.Nodes {
				_ = exec.Command("cp", "-r", c.Dir(n.Name), filepath.Join(d, n.Name)).Run()
			}
		}
	}
	for _, n := range c.Bed.Nodes {
		_ = exec.Command("ip", "link", "set", "dev", n.veth, "up").Run()
	}
	if c.Client != nil {
		DeleteWorkloads(c.Client, 60*time.Second)
	}
	for i := len(c.Bed.Nodes) - 1; i >= 0; i-- { // agents first, the server last
		if p := c.Procs[c.Bed.Nodes[i].Name]; p != nil {
			_ = Stop(p)
		}
	}
	// Pods the cluster could not delete (a node cut off from the server keeps its
	// containers) go with their node: shims, containers, mounts and namespaces.
	for _, n := range c.Bed.Nodes {
		if out, err := c.Bed.Command(n.Name, c.Bin, "killall", "--data-dir", c.Dir(n.Name)).CombinedOutput(); err != nil {
			t.Errorf("skiff killall on %s: %v\n%s", n.Name, err, out)
		}
	}
	CleanupDir(c.Base)
}

// DeleteWorkloads deletes the controllers that make pods, then every pod, in
// every namespace, and waits (up to timeout) until no pod is left.
func DeleteWorkloads(cs kubernetes.Interface, timeout time.Duration) {
	ctx := context.Background()
	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	now := metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}
	all := metav1.ListOptions{}
	for _, ns := range nss.Items {
		n := ns.Name
		_ = cs.AppsV1().Deployments(n).DeleteCollection(ctx, metav1.DeleteOptions{}, all)
		_ = cs.AppsV1().ReplicaSets(n).DeleteCollection(ctx, metav1.DeleteOptions{}, all)
		_ = cs.AppsV1().StatefulSets(n).DeleteCollection(ctx, metav1.DeleteOptions{}, all)
		_ = cs.AppsV1().DaemonSets(n).DeleteCollection(ctx, metav1.DeleteOptions{}, all)
		_ = cs.BatchV1().Jobs(n).DeleteCollection(ctx, metav1.DeleteOptions{}, all)
		_ = cs.CoreV1().ReplicationControllers(n).DeleteCollection(ctx, metav1.DeleteOptions{}, all)
		_ = cs.CoreV1().Pods(n).DeleteCollection(ctx, now, all)
	}
	_ = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		l, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0, nil
	})
	time.Sleep(2 * time.Second) // let the kubelets remove the sandboxes
}

// CleanupDir unmounts whatever containerd left under dir (shm, rootfs) and
// removes it.
func CleanupDir(dir string) {
	out, _ := os.ReadFile("/proc/self/mounts")
	var mounts []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], dir) {
			mounts = append(mounts, f[1])
		}
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		_ = exec.Command("umount", "-l", mounts[i]).Run()
	}
	_ = os.RemoveAll(dir)
}

// CopyImages copies every file of from into to (created if missing).
func CopyImages(t T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatalf("%v", err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatalf("%v", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		// A hard link when possible: the conformance images are large.
		src, dst := filepath.Join(from, e.Name()), filepath.Join(to, e.Name())
		if os.Link(src, dst) == nil {
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatalf("%v", err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatalf("%v", err)
		}
	}
}

// WaitAPI waits for the server's admin kubeconfig, rewrites it to reach the
// server at ip (from the host and from the other nodes) and returns a client.
func WaitAPI(t T, adminPath, outPath, ip string) kubernetes.Interface {
	t.Helper()
	var client kubernetes.Interface
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		cfg, err := clientcmd.LoadFromFile(adminPath)
		if err != nil {
			return false, nil
		}
		for _, cl := range cfg.Clusters {
			cl.Server = "https://" + net.JoinHostPort(ip, "6443")
		}
		if err := clientcmd.WriteToFile(*cfg, outPath); err != nil {
			return false, err
		}
		rc, err := clientcmd.BuildConfigFromFlags("", outPath)
		if err != nil {
			return false, err
		}
		cs, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return false, err
		}
		if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return false, nil
		}
		client = cs
		return true, nil
	})
	if err != nil {
		t.Fatalf("API server at %s not reachable: %v", ip, err)
	}
	return client
}

// String is a one-line summary of the cluster for logs.
func (c *Cluster) String() string {
	var parts []string
	for _, n := range c.Bed.Nodes {
		parts = append(parts, fmt.Sprintf("%s=%s@%s", n.Name, c.Names[n.Name], n.IP))
	}
	return strings.Join(parts, " ")
}
