package kubelet

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Signal names an eviction signal as upstream's --eviction-hard spells it.
type Signal string

const (
	SignalMemoryAvailable Signal = "memory.available"
	SignalNodeFsAvailable Signal = "nodefs.available"
	SignalPIDAvailable    Signal = "pid.available"
)

// Observation is one signal's current value: what is available and the total it
// is a part of (percentage thresholds are relative to Capacity).
type Observation struct {
	Available, Capacity int64
}

// SignalProvider measures the node. The eviction manager calls it once per cycle;
// tests and hollow nodes inject their own.
type SignalProvider interface {
	Observe(ctx context.Context) (map[Signal]Observation, error)
}

// hostSignals reads the real machine: MemAvailable from /proc/meminfo, statfs of
// the kubelet root directory, and pid_max minus the processes in /proc.
type hostSignals struct {
	rootDir string
	proc    string // "/proc"; tests point it elsewhere
}

func (h hostSignals) Observe(context.Context) (map[Signal]Observation, error) {
	out := map[Signal]Observation{}
	var errs []string
	if o, err := h.memory(); err == nil {
		out[SignalMemoryAvailable] = o
	} else {
		errs = append(errs, err.Error())
	}
	if o, err := h.nodefs(); err == nil {
		out[SignalNodeFsAvailable] = o
	} else {
		errs = append(errs, err.Error())
	}
	if o, err := h.pids(); err == nil {
		out[SignalPIDAvailable] = o
	} else {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		// Partial observations are still used; the error is only logged.
		return out, fmt.Errorf("eviction signals: %s", strings.Join(errs, "; "))
	}
	return out, nil
}

func (h hostSignals) memory() (Observation, error) {
	f, err := os.Open(h.proc + "/meminfo")
	if err != nil {
		return Observation{}, err
	}
	defer f.Close()
	var total, avail int64 = -1, -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "MemTotal:":
			total = kb * 1024
		case "MemAvailable:":
			avail = kb * 1024
		}
	}
	if total < 0 || avail < 0 {
		return Observation{}, fmt.Errorf("%s/meminfo: no MemTotal/MemAvailable", h.proc)
	}
	return Observation{Available: avail, Capacity: total}, nil
}

func (h hostSignals) nodefs() (Observation, error) {
	dir := h.rootDir
	// The root dir may not exist yet on first start; its parent is on the same
	// filesystem in every layout we create.
	for dir != "/" && dir != "." {
		if _, err := os.Stat(dir); err == nil {
			break
		}
		dir = dirOf(dir)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return Observation{}, fmt.Errorf("statfs %s: %w", dir, err)
	}
	bs := int64(st.Bsize)
	return Observation{Available: int64(st.Bavail) * bs, Capacity: int64(st.Blocks) * bs}, nil
}

func dirOf(p string) string {
	i := strings.LastIndex(strings.TrimRight(p, "/"), "/")
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func (h hostSignals) pids() (Observation, error) {
	b, err := os.ReadFile(h.proc + "/sys/kernel/pid_max")
	if err != nil {
		return Observation{}, err
	}
	max, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return Observation{}, fmt.Errorf("pid_max: %w", err)
	}
	entries, err := os.ReadDir(h.proc)
	if err != nil {
		return Observation{}, err
	}
	var running int64
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			running++
		}
	}
	return Observation{Available: max - running, Capacity: max}, nil
}

// plentySignals reports a node that never runs short: hollow nodes have no real
// resources to measure and must not evict.
type plentySignals struct{}

func (plentySignals) Observe(context.Context) (map[Signal]Observation, error) {
	o := Observation{Available: math.MaxInt64 / 2, Capacity: math.MaxInt64 / 2}
	return map[Signal]Observation{SignalMemoryAvailable: o, SignalNodeFsAvailable: o, SignalPIDAvailable: o}, nil
}
