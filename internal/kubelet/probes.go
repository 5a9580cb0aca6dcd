package kubelet

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/kubelet/probe"
)

type probeKind int

const (
	liveness probeKind = iota
	readiness
	startup
)

func (k probeKind) String() string { return [...]string{"Liveness", "Readiness", "Startup"}[k] }

// probeKey names one probe of one container instance (by runtime container ID, so
// a restarted container starts with fresh probe state).
type probeKey struct {
	id   string
	kind probeKind
}

type probeResult struct {
	key probeKey
	ok  bool
	msg string
}

// ensureProbes starts a goroutine per configured probe of each running container
// and stops those of containers that are no longer running. Liveness and readiness
// wait until the startup probe (if any) succeeded.
func (w *worker) ensureProbes(ctx context.Context, obs *observed) {
	want := map[probeKey]*corev1.Probe{}
	for i := range w.pod.Spec.Containers {
		c := &w.pod.Spec.Containers[i]
		cur := obs.latest(c.Name)
		if cur == nil || cur.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		started := c.StartupProbe == nil || w.probeState[probeKey{cur.Id, startup}]
		if !started {
			want[probeKey{cur.Id, startup}] = c.StartupProbe
			continue
		}
		if c.LivenessProbe != nil {
			want[probeKey{cur.Id, liveness}] = c.LivenessProbe
		}
		if c.ReadinessProbe != nil {
			want[probeKey{cur.Id, readiness}] = c.ReadinessProbe
		}
	}
	for key, cancel := range w.probes {
		if _, ok := want[key]; !ok {
			cancel()
			delete(w.probes, key)
		}
	}
	for key, p := range want {
		if _, running := w.probes[key]; running {
			continue
		}
		if key.kind == startup && w.probeState[key] {
			continue
		}
		pctx, cancel := context.WithCancel(ctx)
		w.probes[key] = cancel
		target := w.probeTarget(obs, w.specOfID(obs, key.id), key.id)
		go runProbe(pctx, key, p, target, w.probeResults)
	}
	// Forget state of containers that are gone.
	for key := range w.probeState {
		if !w.containerKnown(obs, key.id) {
			delete(w.probeState, key)
		}
	}
}

func (w *worker) containerKnown(obs *observed, id string) bool {
	for _, attempts := range obs.containers {
		for _, a := range attempts {
			if a.Id == id {
				return true
			}
		}
	}
	return false
}

func (w *worker) specOfID(obs *observed, id string) *corev1.Container {
	for name, attempts := range obs.containers {
		for _, a := range attempts {
			if a.Id == id {
				return w.specOf(name)
			}
		}
	}
	return nil
}

func (w *worker) probeTarget(obs *observed, c *corev1.Container, id string) probe.Target {
	t := probe.Target{PodIP: podIP(w.pod, obs), Exec: func(ctx context.Context, cmd []string, timeout time.Duration) (int32, []byte, error) {
		r, err := w.k.cfg.Runtime.ExecSync(ctx, id, cmd, int64(timeout/time.Second))
		if err != nil {
			return 0, nil, err
		}
		return r.ExitCode, append(r.Stdout, r.Stderr...), nil
	}}
	if w.pod.Spec.HostNetwork {
		t.PodIP = w.k.nodeIP.String()
	}
	if c != nil {
		t.Ports = c.Ports
	}
	return t
}

func (w *worker) applyProbe(ctx context.Context, r probeResult) {
	if !r.ok {
		klog.FromContext(ctx).V(1).Info("probe failed", "probe", r.key.kind, "container", r.key.id, "message", r.msg)
	}
	w.probeState[r.key] = r.ok
	if r.key.kind == startup && r.ok {
		if cancel := w.probes[r.key]; cancel != nil {
			cancel()
		}
	}
}

// probeKill says why a running container must be restarted ("" if it need not):
// its liveness or startup probe crossed the failure threshold.
func (w *worker) probeKill(id string) string {
	if ok, seen := w.probeState[probeKey{id, liveness}]; seen && !ok {
		delete(w.probeState, probeKey{id, liveness})
		return "liveness probe failed"
	}
	if ok, seen := w.probeState[probeKey{id, startup}]; seen && !ok {
		delete(w.probeState, probeKey{id, startup})
		return "startup probe failed"
	}
	return ""
}

func (w *worker) stopProbes() {
	for key, cancel := range w.probes {
		cancel()
		delete(w.probes, key)
	}
}

// runProbe checks p every periodSeconds after initialDelaySeconds and reports each
// change of the thresholded result (success after successThreshold consecutive
// successes, failure after failureThreshold consecutive failures).
func runProbe(ctx context.Context, key probeKey, p *corev1.Probe, t probe.Target, out chan<- probeResult) {
	period := seconds(p.PeriodSeconds, 10)
	timeout := seconds(p.TimeoutSeconds, 1)
	successThreshold := max(p.SuccessThreshold, 1)
	failureThreshold := max(p.FailureThreshold, 1)
	if p.FailureThreshold == 0 {
		failureThreshold = 3
	}
	if !sleep(ctx, time.Duration(p.InitialDelaySeconds)*time.Second) {
		return
	}
	var succ, fails int32
	var last *bool
	for {
		r := probe.Do(ctx, p.ProbeHandler, t, timeout)
		if ctx.Err() != nil {
			return
		}
		if r.OK {
			succ, fails = succ+1, 0
		} else {
			succ, fails = 0, fails+1
		}
		var report *bool
		switch {
		case r.OK && succ >= successThreshold:
			report = ptrBool(true)
		case !r.OK && fails >= failureThreshold:
			report = ptrBool(false)
		}
		if report != nil && (last == nil || *last != *report) {
			last = report
			select {
			case out <- probeResult{key: key, ok: *report, msg: r.Message}:
			case <-ctx.Done():
				return
			}
		}
		if !sleep(ctx, period) {
			return
		}
	}
}

func ptrBool(b bool) *bool { return &b }

func seconds(v, def int32) time.Duration {
	if v <= 0 {
		v = def
	}
	return time.Duration(v) * time.Second
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// runHook runs a lifecycle hook; it returns a failure message or "".
func (w *worker) runHook(ctx context.Context, c *corev1.Container, id string, obs *observed, h *corev1.LifecycleHandler) string {
	if h.Sleep != nil {
		sleep(ctx, time.Duration(h.Sleep.Seconds)*time.Second)
		return ""
	}
	ph, ok := probe.Lifecycle(h)
	if !ok {
		return ""
	}
	timeout := time.Duration(w.gracePeriod()) * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	r := probe.Do(ctx, ph, w.probeTarget(obs, c, id), max(timeout, time.Second))
	if r.OK {
		return ""
	}
	return r.Message
}
