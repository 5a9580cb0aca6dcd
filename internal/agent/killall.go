package agent

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The node's side of `skiff killall`: a node's containers survive its agent by
// design (a restarted agent adopts them), so stopping Skiff for good, or starting
// over on a fresh data dir, needs an explicit sweep. Without it the old pods keep
// their IPs on the node's bridge while a new cluster hands the same IPs out again.

// proc is one process from /proc.
type proc struct {
	pid, ppid int
	args      []string
}

func listProcs() []proc {
	entries, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue // exited, or a kernel thread
		}
		out = append(out, proc{pid: pid, ppid: parentOf(pid), args: strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")})
	}
	return out
}

func parentOf(pid int) int {
	st, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// The command name in parentheses may hold spaces: fields start after the last ')'.
	i := strings.LastIndexByte(string(st), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(st)[i+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// isSkiffComponent reports whether p is `skiff server|apiserver|agent` running on
// dataDir (its --data-dir flag, or defaultDataDir when it has none).
func isSkiffComponent(p proc, dataDir, defaultDataDir string) bool {
	if len(p.args) < 2 || filepath.Base(p.args[0]) != "skiff" {
		return false
	}
	switch p.args[1] {
	case "server", "apiserver", "agent":
	default:
		return false
	}
	dir := defaultDataDir
	for i, a := range p.args {
		if v, ok := strings.CutPrefix(a, "--data-dir="); ok {
			dir = v
		} else if a == "--data-dir" && i+1 < len(p.args) {
			dir = p.args[i+1]
		}
	}
	return filepath.Clean(dir) == filepath.Clean(dataDir)
}

// mentions reports whether p's command line names a path under dir: containerd
// (--config dir/agent/containerd.toml) and its shims (-address dir/agent/containerd.sock).
func mentions(p proc, dir string) bool {
	for _, a := range p.args {
		if a == dir || strings.HasPrefix(a, dir+"/") || strings.Contains(a, "="+dir+"/") {
			return true
		}
	}
	return false
}

// Stopped is what StopNodeProcesses ended.
type Stopped struct {
	PIDs []int
	// Netns are the network namespaces (by inode) the ended containers lived
	// in, other than the caller's own: the pods' namespaces to remove.
	Netns map[uint64]bool
}

// StopNodeProcesses ends every process a node on dataDir started: the skiff
// server or agent itself (SIGTERM, then SIGKILL after grace), then containerd,
// its shims and every container under them (SIGKILL: their pods are being torn
// down, not stopped gracefully).
func StopNodeProcesses(dataDir, defaultDataDir string, grace time.Duration) (Stopped, error) {
	self := os.Getpid()
	var components []int
	for _, p := range listProcs() {
		if p.pid != self && isSkiffComponent(p, dataDir, defaultDataDir) {
			components = append(components, p.pid)
		}
	}
	signalAll(components, syscall.SIGTERM)
	if !waitGone(components, grace) {
		signalAll(components, syscall.SIGKILL)
		waitGone(components, 5*time.Second)
	}
	// Only now: a live agent would restart the containerd it supervises.
	runtime, err := StopRuntime(filepath.Join(dataDir, "agent"))
	runtime.PIDs = append(components, runtime.PIDs...)
	return runtime, err
}

// StopRuntime kills (SIGKILL) containerd of the agent directory agentDir, its
// shims and every container under them, and reports their pods' namespaces.
// The caller makes sure nothing restarts containerd meanwhile.
func StopRuntime(agentDir string) (Stopped, error) {
	self := os.Getpid()
	procs := listProcs()
	var roots []int
	for _, p := range procs {
		if p.pid != self && mentions(p, agentDir) && !isSkiffComponent(p, filepath.Dir(agentDir), "") {
			roots = append(roots, p.pid)
		}
	}
	tree := withDescendants(procs, roots)
	out := Stopped{PIDs: tree, Netns: netnsOf(tree)}
	signalAll(tree, syscall.SIGKILL)
	if !waitGone(tree, 10*time.Second) {
		return out, fmt.Errorf("processes still running after SIGKILL: %v", alive(tree))
	}
	return out, nil
}

// netnsOf is the set of network namespaces pids are in, less the caller's.
func netnsOf(pids []int) map[uint64]bool {
	own := netnsInode("self")
	out := map[uint64]bool{}
	for _, pid := range pids {
		if ino := netnsInode(strconv.Itoa(pid)); ino != 0 && ino != own {
			out[ino] = true
		}
	}
	return out
}

func netnsInode(pid string) uint64 {
	var st unix.Stat_t
	if unix.Stat(filepath.Join("/proc", pid, "ns", "net"), &st) != nil {
		return 0
	}
	return st.Ino
}

func withDescendants(procs []proc, roots []int) []int {
	children := map[int][]int{}
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	seen := map[int]bool{}
	var out []int
	var walk func(int)
	walk = func(pid int) {
		if seen[pid] {
			return
		}
		seen[pid] = true
		out = append(out, pid)
		for _, c := range children[pid] {
			walk(c)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return out
}

func signalAll(pids []int, sig syscall.Signal) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, sig)
	}
}

func alive(pids []int) []int {
	var out []int
	for _, pid := range pids {
		// A zombie is gone for our purposes: it holds no namespace or mount.
		if st, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); err == nil {
			if i := strings.LastIndexByte(string(st), ')'); i > 0 && !strings.HasPrefix(strings.TrimSpace(string(st)[i+1:]), "Z") {
				out = append(out, pid)
			}
		}
	}
	return out
}

func waitGone(pids []int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for len(alive(pids)) > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// UnmountUnder detaches every mount at or below dir, deepest first (pod volumes,
// sandbox shm, overlay snapshots), and returns how many it detached.
func UnmountUnder(dir string) (int, error) {
	points, err := mountPoints()
	if err != nil {
		return 0, err
	}
	var under []string
	for _, m := range points {
		if m == dir || strings.HasPrefix(m, dir+"/") {
			under = append(under, m)
		}
	}
	// Deepest first; the same point may be mounted several times over.
	slices.SortFunc(under, func(a, b string) int { return len(b) - len(a) })
	var errs []error
	n := 0
	for _, m := range under {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// mountPoints lists this mount namespace's mount points (octal escapes decoded).
func mountPoints() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			out = append(out, unescapeMount(fields[4]))
		}
	}
	return out, sc.Err()
}

func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// RemoveNetns deletes the network namespaces under dir (/run/netns) whose inode
// is in netns: a killed sandbox leaves its namespace pinned by the bind mount
// alone, with its veth still on the node's bridge. Only namespaces the node's own
// containers were in are touched, never another runtime's (or another node's on
// the same host, which may be creating one right now).
func RemoveNetns(dir string, netns map[uint64]bool) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil || !netns[st.Ino] {
			continue
		}
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", path, err))
			continue
		}
		if err := os.Remove(path); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, e.Name())
	}
	return removed, errors.Join(errs...)
}
