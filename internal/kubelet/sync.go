package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// Labels the kubelet puts on sandboxes and containers, the same keys upstream uses,
// so `crictl` output reads the same and a restarted kubelet finds its pods.
const (
	labelPodName       = "io.kubernetes.pod.name"
	labelPodNamespace  = "io.kubernetes.pod.namespace"
	labelPodUID        = "io.kubernetes.pod.uid"
	labelContainerName = "io.kubernetes.container.name"
)

// observed is the runtime's view of one pod.
type observed struct {
	sandbox       *runtimeapi.PodSandbox // the ready sandbox, if any
	sandboxStatus *runtimeapi.PodSandboxStatus
	stale         []*runtimeapi.PodSandbox // sandboxes that are not ready
	// containers maps a container name to its attempts in the current sandbox,
	// newest first.
	containers map[string][]*runtimeapi.ContainerStatus
}

func (o *observed) latest(name string) *runtimeapi.ContainerStatus {
	if a := o.containers[name]; len(a) > 0 {
		return a[0]
	}
	return nil
}

// errWaiting means the pod cannot progress yet; the reason is in the status.
var errWaiting = errors.New("waiting")

// sync makes the runtime match the pod once and reports the status. It returns true
// when the worker is finished (the pod is gone and everything cleaned up).
func (w *worker) sync(ctx context.Context) bool {
	if w.gone || w.pod.DeletionTimestamp != nil {
		return w.terminate(ctx)
	}
	obs, err := w.observe(ctx)
	if err != nil {
		klog.FromContext(ctx).Error(err, "reading runtime state")
		return false
	}
	if w.terminal || w.pod.Status.Phase == corev1.PodSucceeded || w.pod.Status.Phase == corev1.PodFailed {
		// Terminal pods keep their status; their sandbox is stopped once.
		if !w.terminal && obs.sandbox != nil {
			w.killPod(ctx, obs, 0)
		}
		w.terminal = true
		return false
	}
	if w.deadlineExceeded() {
		w.killPod(ctx, obs, 0)
		// The final status must show the containers as stopped, not as they were
		// before the kill: it is never rewritten for a terminal pod.
		w.refreshContainers(ctx, obs)
		w.writeStatus(ctx, w.failedStatus(obs, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"))
		w.terminal = true
		return false
	}
	w.act(ctx, obs)
	if obs, err = w.observe(ctx); err != nil {
		return false
	}
	w.ensureProbes(ctx, obs)
	st := w.buildStatus(obs)
	w.writeStatus(ctx, st)
	w.recordStart(st)
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		w.killPod(ctx, obs, 0)
		w.terminal = true
	}
	return false
}

// act performs the next steps toward the desired state: volumes, sandbox, init
// containers in order, then the app containers.
func (w *worker) act(ctx context.Context, obs *observed) {
	logger := klog.FromContext(ctx)
	if err := w.ensureVolumes(ctx); err != nil {
		w.setPodWaiting("ContainerCreating", "volume setup: "+err.Error())
		logger.Error(err, "setting up volumes")
		return
	}
	if obs.sandbox == nil {
		if err := w.startSandbox(ctx, obs); err != nil {
			if !errors.Is(err, errWaiting) {
				logger.Error(err, "creating pod sandbox")
			}
			return
		}
		fresh, err := w.observe(ctx)
		if err != nil || fresh.sandbox == nil {
			return
		}
		*obs = *fresh
	}
	w.setPodWaiting("", "")
	if !w.syncInitContainers(ctx, obs) {
		return
	}
	w.syncAppContainers(ctx, obs)
}

// observe lists the pod's sandboxes and containers.
func (w *worker) observe(ctx context.Context) (*observed, error) {
	rt := w.k.cfg.Runtime
	sel := map[string]string{labelPodUID: string(w.pod.UID)}
	sandboxes, err := rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	sort.Slice(sandboxes, func(i, j int) bool { return sandboxes[i].CreatedAt > sandboxes[j].CreatedAt })
	obs := &observed{containers: map[string][]*runtimeapi.ContainerStatus{}}
	for _, s := range sandboxes {
		if s.State == runtimeapi.PodSandboxState_SANDBOX_READY && obs.sandbox == nil {
			obs.sandbox = s
			continue
		}
		obs.stale = append(obs.stale, s)
	}
	if obs.sandbox == nil {
		return obs, nil
	}
	if obs.sandboxStatus, err = rt.PodSandboxStatus(ctx, obs.sandbox.Id); err != nil {
		return nil, err
	}
	list, err := rt.ListContainers(ctx, &runtimeapi.ContainerFilter{PodSandboxId: obs.sandbox.Id})
	if err != nil {
		return nil, err
	}
	for _, c := range list {
		st := w.exited[c.Id]
		if st == nil {
			if st, err = rt.ContainerStatus(ctx, c.Id); err != nil {
				continue // removed meanwhile
			}
			if st.State == runtimeapi.ContainerState_CONTAINER_EXITED {
				w.exited[c.Id] = st
			}
		}
		name := st.GetMetadata().GetName()
		obs.containers[name] = append(obs.containers[name], st)
	}
	for _, a := range obs.containers {
		sort.Slice(a, func(i, j int) bool { return a[i].GetMetadata().GetAttempt() > a[j].GetMetadata().GetAttempt() })
	}
	return obs, nil
}

// refreshContainers re-reads the runtime state of obs's containers in place (the
// sandbox may be stopped already, so observe would no longer list them).
func (w *worker) refreshContainers(ctx context.Context, obs *observed) {
	for _, attempts := range obs.containers {
		for i, a := range attempts {
			if a.State == runtimeapi.ContainerState_CONTAINER_EXITED {
				continue
			}
			if st, err := w.k.cfg.Runtime.ContainerStatus(ctx, a.Id); err == nil {
				attempts[i] = st
			}
		}
	}
}

func (w *worker) startSandbox(ctx context.Context, obs *observed) error {
	rt := w.k.cfg.Runtime
	hostNet := w.pod.Spec.HostNetwork
	if !hostNet && !w.k.network.isReady() {
		w.setPodWaiting("ContainerCreating", "waiting for the node's pod network (spec.podCIDR)")
		return errWaiting
	}
	attempt := uint32(0)
	for _, s := range obs.stale {
		attempt = max(attempt, s.GetMetadata().GetAttempt()+1)
		_ = rt.StopPodSandbox(ctx, s.Id)
		if err := rt.RemovePodSandbox(ctx, s.Id); err != nil {
			return err
		}
	}
	cfg := w.sandboxConfig(attempt)
	if !w.k.cfg.NoDisk {
		if err := os.MkdirAll(cfg.LogDirectory, 0o755); err != nil {
			return err
		}
	}
	if _, err := rt.RunPodSandbox(ctx, cfg); err != nil {
		w.setPodWaiting("ContainerCreating", "failed to create pod sandbox: "+err.Error())
		return err
	}
	return nil
}

// syncInitContainers runs init containers one at a time, in order; it returns
// true once all of them succeeded.
func (w *worker) syncInitContainers(ctx context.Context, obs *observed) bool {
	for _, c := range w.pod.Spec.Containers {
		if obs.latest(c.Name) != nil {
			return true // app containers already ran: initialization happened before
		}
	}
	for i := range w.pod.Spec.InitContainers {
		c := &w.pod.Spec.InitContainers[i]
		cur := obs.latest(c.Name)
		switch {
		case cur == nil:
			w.startContainer(ctx, obs, c, 0)
			return false
		case cur.State == runtimeapi.ContainerState_CONTAINER_RUNNING:
			return false
		case cur.State == runtimeapi.ContainerState_CONTAINER_CREATED:
			w.startCreated(ctx, cur)
			return false
		case cur.ExitCode == 0:
			continue
		case w.pod.Spec.RestartPolicy == corev1.RestartPolicyNever:
			return false // the pod fails (buildStatus)
		default:
			w.restartWithBackoff(ctx, obs, c, cur)
			return false
		}
	}
	return true
}

func (w *worker) syncAppContainers(ctx context.Context, obs *observed) {
	var wg sync.WaitGroup
	for i := range w.pod.Spec.Containers {
		c := &w.pod.Spec.Containers[i]
		cur := obs.latest(c.Name)
		switch {
		case cur == nil:
			w.startContainer(ctx, obs, c, 0)
		case cur.State == runtimeapi.ContainerState_CONTAINER_CREATED:
			w.startCreated(ctx, cur)
		case cur.State == runtimeapi.ContainerState_CONTAINER_RUNNING:
			if reason := w.probeKill(cur.Id); reason != "" {
				klog.FromContext(ctx).Info("killing container", "container", c.Name, "reason", reason)
				wg.Add(1)
				go func(id string) { defer wg.Done(); w.stopContainer(ctx, c, id, w.gracePeriod()) }(cur.Id)
			}
		default:
			if shouldRestart(w.pod.Spec.RestartPolicy, cur.ExitCode) {
				w.restartWithBackoff(ctx, obs, c, cur)
			}
		}
	}
	wg.Wait()
}

func shouldRestart(p corev1.RestartPolicy, exitCode int32) bool {
	switch p {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return true
}

// restartWithBackoff starts the next attempt of c unless its back-off runs; while
// it does, the container shows CrashLoopBackOff.
func (w *worker) restartWithBackoff(ctx context.Context, obs *observed, c *corev1.Container, cur *runtimeapi.ContainerStatus) {
	b := w.backoff[c.Name]
	if b == nil {
		b = &backoff{}
		w.backoff[c.Name] = b
	}
	wait := b.wait(time.Now(), time.Unix(0, cur.StartedAt), time.Unix(0, cur.FinishedAt))
	if wait > 0 {
		w.setWaiting(c.Name, "CrashLoopBackOff", fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
			b.delay, c.Name, w.pod.Name, w.pod.Namespace, w.pod.UID))
		return
	}
	b.restarted()
	w.k.metrics.restarts.Inc()
	w.startContainer(ctx, obs, c, cur.GetMetadata().GetAttempt()+1)
}

// recordStart puts the pod's start latency (first seen → Running) into the
// histogram once.
func (w *worker) recordStart(st *corev1.PodStatus) {
	if w.startRecorded || st.Phase != corev1.PodRunning {
		return
	}
	w.startRecorded = true
	w.k.metrics.podStart.Observe(time.Since(w.seen).Seconds())
}

func (w *worker) startCreated(ctx context.Context, cur *runtimeapi.ContainerStatus) {
	if err := w.k.cfg.Runtime.StartContainer(ctx, cur.Id); err != nil {
		w.setWaiting(cur.GetMetadata().GetName(), "RunContainerError", err.Error())
		_ = w.k.cfg.Runtime.RemoveContainer(ctx, cur.Id)
	}
}

// startContainer pulls, creates and starts one attempt of c, runs its postStart hook
// and removes attempts older than the previous one (kept for `logs --previous`).
func (w *worker) startContainer(ctx context.Context, obs *observed, c *corev1.Container, attempt uint32) {
	rt := w.k.cfg.Runtime
	sandboxCfg := w.sandboxConfig(obs.sandbox.GetMetadata().GetAttempt())
	image, err := w.ensureImage(ctx, c, sandboxCfg)
	if err != nil {
		return // waiting reason set by ensureImage
	}
	cfg, err := w.containerConfig(ctx, c, attempt, image, obs)
	if err != nil {
		w.setWaiting(c.Name, "CreateContainerConfigError", err.Error())
		return
	}
	id, err := rt.CreateContainer(ctx, obs.sandbox.Id, cfg, sandboxCfg)
	if err != nil {
		w.setWaiting(c.Name, "CreateContainerError", err.Error())
		return
	}
	if err := rt.StartContainer(ctx, id); err != nil {
		w.setWaiting(c.Name, "RunContainerError", err.Error())
		return
	}
	w.setWaiting(c.Name, "", "")
	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		if msg := w.runHook(ctx, c, id, obs, c.Lifecycle.PostStart); msg != "" {
			klog.FromContext(ctx).Info("postStart hook failed, killing container", "container", c.Name, "message", msg)
			w.stopContainer(ctx, c, id, w.gracePeriod())
		}
	}
	old := obs.containers[c.Name]
	for i := 1; i < len(old); i++ {
		_ = rt.RemoveContainer(ctx, old[i].Id)
		delete(w.exited, old[i].Id)
	}
}

// stopContainer runs the preStop hook (within the grace period) and stops the container.
func (w *worker) stopContainer(ctx context.Context, c *corev1.Container, id string, grace int64) {
	start := time.Now()
	if c != nil && c.Lifecycle != nil && c.Lifecycle.PreStop != nil && grace > 0 {
		hctx, cancel := context.WithTimeout(ctx, time.Duration(grace)*time.Second)
		obs, _ := w.observe(hctx)
		if obs != nil {
			w.runHook(hctx, c, id, obs, c.Lifecycle.PreStop)
		}
		cancel()
		grace = max(2, grace-int64(time.Since(start)/time.Second))
	}
	if err := w.k.cfg.Runtime.StopContainer(ctx, id, grace); err != nil {
		klog.FromContext(ctx).Error(err, "stopping container", "id", id)
	}
}

func (w *worker) gracePeriod() int64 {
	if g := w.pod.DeletionGracePeriodSeconds; g != nil {
		return *g
	}
	if g := w.pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return *g
	}
	return 30
}

// killPod stops every container (in parallel, each with the grace period) and then
// the sandbox, which releases the pod's IP.
func (w *worker) killPod(ctx context.Context, obs *observed, grace int64) {
	var wg sync.WaitGroup
	for name, attempts := range obs.containers {
		c := w.specOf(name)
		for _, a := range attempts {
			if a.State != runtimeapi.ContainerState_CONTAINER_RUNNING && a.State != runtimeapi.ContainerState_CONTAINER_CREATED {
				continue
			}
			wg.Add(1)
			go func(id string) { defer wg.Done(); w.stopContainer(ctx, c, id, grace) }(a.Id)
		}
	}
	wg.Wait()
	w.stopProbes()
	if obs.sandbox != nil {
		if err := w.k.cfg.Runtime.StopPodSandbox(ctx, obs.sandbox.Id); err != nil {
			klog.FromContext(ctx).Error(err, "stopping sandbox")
		}
	}
}

func (w *worker) specOf(name string) *corev1.Container {
	for i := range w.pod.Spec.Containers {
		if w.pod.Spec.Containers[i].Name == name {
			return &w.pod.Spec.Containers[i]
		}
	}
	for i := range w.pod.Spec.InitContainers {
		if w.pod.Spec.InitContainers[i].Name == name {
			return &w.pod.Spec.InitContainers[i]
		}
	}
	return nil
}

// terminate handles a deleted pod: graceful stop, removal from the runtime, volume
// teardown, and finally the API delete with grace 0 that lets the object go.
func (w *worker) terminate(ctx context.Context) bool {
	logger := klog.FromContext(ctx)
	rt := w.k.cfg.Runtime
	grace := w.gracePeriod()
	if w.gone {
		grace = min(grace, 2) // force-deleted: nobody waits for a graceful stop
	}
	obs, err := w.observe(ctx)
	if err != nil {
		logger.Error(err, "reading runtime state")
		return false
	}
	w.killPod(ctx, obs, grace)
	all, err := rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{labelPodUID: string(w.pod.UID)}})
	if err != nil {
		return false
	}
	for _, s := range all {
		_ = rt.StopPodSandbox(ctx, s.Id)
		if err := rt.RemovePodSandbox(ctx, s.Id); err != nil {
			logger.Error(err, "removing sandbox")
			return false
		}
	}
	if err := w.teardownVolumes(); err != nil {
		logger.Error(err, "tearing down volumes")
	}
	_ = os.RemoveAll(w.logDir())
	if w.gone {
		return true
	}
	err = w.k.cfg.Client.CoreV1().Pods(w.pod.Namespace).Delete(ctx, w.pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: &w.pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		logger.Error(err, "deleting terminated pod")
		return false
	}
	logger.Info("pod terminated and deleted")
	return true
}

func (w *worker) deadlineExceeded() bool {
	d := w.pod.Spec.ActiveDeadlineSeconds
	st := w.pod.Status.StartTime
	return d != nil && st != nil && time.Since(st.Time) > time.Duration(*d)*time.Second
}
