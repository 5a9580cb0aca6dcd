package kubelet

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2"
)

// inbox hands the latest pod to a worker: newer versions replace older unread ones,
// so a slow worker never falls behind a stream of updates.
type inbox struct {
	mu      sync.Mutex
	pod     *corev1.Pod
	deleted bool
	wake    chan struct{}
}

func (b *inbox) put(p *corev1.Pod) {
	b.mu.Lock()
	b.pod = p
	b.mu.Unlock()
	poke(b.wake)
}

func (b *inbox) gone() {
	b.mu.Lock()
	b.deleted = true
	b.mu.Unlock()
	poke(b.wake)
}

func (b *inbox) take() (*corev1.Pod, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.pod
	b.pod = nil
	return p, b.deleted
}

// worker owns one pod: its sandbox, containers, probes, restart backoff and the
// status it last wrote. Only its own goroutine touches these fields.
type worker struct {
	k     *Kubelet
	inbox inbox
	pod   *corev1.Pod // latest desired state from the API
	gone  bool        // the pod object no longer exists in the API

	probeResults chan probeResult
	probes       map[probeKey]context.CancelFunc
	probeState   map[probeKey]bool
	backoff      map[string]*backoff
	imageErr     map[string]imageFailure
	exited       map[string]*runtimeapi.ContainerStatus // immutable once exited
	lastStatus   *corev1.PodStatus
	waiting      map[string]waitInfo
	podWaiting   waitInfo
	volumes      *podVolumes
	terminal     bool
	// seen is when this kubelet first saw the pod; startRecorded once the pod's
	// start latency went into the histogram (pods already past Pending when
	// first seen, e.g. adopted after a restart, are not measured).
	seen          time.Time
	startRecorded bool
}

func newWorker(k *Kubelet, pod *corev1.Pod) *worker {
	return &worker{
		k:             k,
		inbox:         inbox{wake: make(chan struct{}, 1)},
		pod:           pod,
		probeResults:  make(chan probeResult, 16),
		probes:        map[probeKey]context.CancelFunc{},
		probeState:    map[probeKey]bool{},
		backoff:       map[string]*backoff{},
		imageErr:      map[string]imageFailure{},
		exited:        map[string]*runtimeapi.ContainerStatus{},
		seen:          time.Now(),
		startRecorded: pod.Status.Phase != "" && pod.Status.Phase != corev1.PodPending,
	}
}

// run syncs the pod on every update, probe result and SyncPeriod tick until the pod
// is gone from both the API and the runtime.
func (w *worker) run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithValues("pod", klog.KObj(w.pod), "uid", w.pod.UID)
	ctx = klog.NewContext(ctx, logger)
	defer w.stopProbes()
	tick := time.NewTicker(w.k.cfg.SyncPeriod)
	defer tick.Stop()
	for {
		began := time.Now()
		done := w.sync(ctx)
		w.k.metrics.syncDuration.Observe(time.Since(began).Seconds())
		if done {
			logger.V(2).Info("pod worker finished")
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-w.inbox.wake:
			p, deleted := w.inbox.take()
			if p != nil {
				w.pod = p
			}
			w.gone = w.gone || deleted
		case r := <-w.probeResults:
			w.applyProbe(ctx, r)
		case <-tick.C:
		}
	}
}

// backoff is one container's restart delay: the first restart is immediate, then
// 10 s doubling to 5 min, forgotten after the container ran 10 minutes.
type backoff struct {
	delay time.Duration
}

const (
	backoffInitial = 10 * time.Second
	backoffMax     = 5 * time.Minute
	backoffReset   = 10 * time.Minute
)

// wait is how long a restart of the attempt that ran from started to finished
// must still wait (<= 0: restart now).
func (b *backoff) wait(now, started, finished time.Time) time.Duration {
	if finished.Sub(started) >= backoffReset {
		b.delay = 0
	}
	if b.delay == 0 {
		return 0
	}
	return finished.Add(b.delay).Sub(now)
}

// restarted records a restart: the next failure waits longer.
func (b *backoff) restarted() {
	if b.delay == 0 {
		b.delay = backoffInitial
		return
	}
	b.delay = min(2*b.delay, backoffMax)
}
