package kubelet

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// systemCriticalPriority is upstream's scheduling.SystemCriticalPriority: pods at
// or above it (system-cluster-critical, system-node-critical) are never evicted.
const systemCriticalPriority = 2000000000

// evictionPeriod is upstream's housekeeping interval for the eviction manager.
const defaultEvictionPeriod = 10 * time.Second

// pressure is which node conditions the last observation put under pressure.
type pressure struct {
	memory, disk, pid bool
}

// evictionManager implements node-pressure eviction with hard thresholds: every
// period it observes the signals, publishes the pressure conditions for the node
// status, and while a threshold is met fails one pod (upstream evicts one per
// cycle, giving the node time to reclaim before choosing another).
// Only its run goroutine writes; the heartbeat reads the published pressure.
type evictionManager struct {
	nodeName   string
	signals    SignalProvider
	thresholds []Threshold
	period     time.Duration
	pods       func() []*corev1.Pod // active pods of this node
	evict      func(ctx context.Context, pod *corev1.Pod, resource corev1.ResourceName, msg string) error
	changed    func() // wakes the node status loop

	current atomic.Pointer[pressure]
}

func newEvictionManager(k *Kubelet) (*evictionManager, error) {
	hard := k.cfg.EvictionHard
	if hard == nil {
		hard = DefaultEvictionHard
	}
	thresholds, err := parseThresholds(hard)
	if err != nil {
		return nil, err
	}
	signals := k.cfg.Signals
	switch {
	case signals != nil:
	case k.cfg.NoDisk:
		// Hollow nodes share one host; its pressure is not theirs.
		signals = plentySignals{}
	default:
		signals = hostSignals{rootDir: k.cfg.RootDir, proc: "/proc"}
	}
	period := k.cfg.EvictionPeriod
	if period == 0 {
		period = defaultEvictionPeriod
	}
	m := &evictionManager{
		nodeName: k.cfg.NodeName, signals: signals, thresholds: thresholds, period: period,
		pods:    k.activePods,
		evict:   k.evictPod,
		changed: func() {},
	}
	m.current.Store(&pressure{})
	return m, nil
}

// pressure is the last published state (all false before the first cycle).
func (m *evictionManager) pressure() pressure {
	if m == nil {
		return pressure{}
	}
	return *m.current.Load()
}

func (m *evictionManager) run(ctx context.Context) {
	t := time.NewTicker(m.period)
	defer t.Stop()
	for {
		m.synchronize(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// synchronize is one cycle: observe, publish conditions, evict at most one pod.
// It returns the evicted pod, if any (for tests).
func (m *evictionManager) synchronize(ctx context.Context) *corev1.Pod {
	logger := klog.FromContext(ctx)
	obs, err := m.signals.Observe(ctx)
	if err != nil {
		logger.V(2).Info("observing eviction signals", "err", err)
	}
	var met []Threshold
	for _, t := range m.thresholds {
		if o, ok := obs[t.Signal]; ok && t.met(o) {
			met = append(met, t)
		}
	}
	p := pressure{}
	for _, t := range met {
		switch t.Signal {
		case SignalMemoryAvailable:
			p.memory = true
		case SignalNodeFsAvailable:
			p.disk = true
		case SignalPIDAvailable:
			p.pid = true
		}
	}
	if old := m.current.Swap(&p); *old != p {
		logger.Info("node pressure changed", "memory", p.memory, "disk", p.disk, "pid", p.pid)
		m.changed()
	}
	if len(met) == 0 {
		return nil
	}
	resource := reclaimResource(met[0].Signal)
	victim := rankForEviction(m.pods())
	if victim == nil {
		logger.Info("eviction threshold met but no pod can be evicted", "threshold", met[0].String())
		return nil
	}
	msg := fmt.Sprintf("The node was low on resource: %s.", resource)
	logger.Info("evicting pod", "pod", klog.KObj(victim), "threshold", met[0].String())
	if err := m.evict(ctx, victim, resource, msg); err != nil && ctx.Err() == nil {
		logger.Error(err, "evicting pod", "pod", klog.KObj(victim))
		return nil
	}
	return victim
}

// reclaimResource names what a signal's pressure is short of, as upstream's
// eviction message does.
func reclaimResource(s Signal) corev1.ResourceName {
	switch s {
	case SignalMemoryAvailable:
		return corev1.ResourceMemory
	case SignalNodeFsAvailable:
		return corev1.ResourceEphemeralStorage
	}
	return "pids"
}

// rankForEviction picks the pod to evict first: BestEffort before Burstable before
// Guaranteed, then lowest priority, then the youngest. Upstream ranks by usage
// above requests first; without per-pod usage the QoS class stands in for it
// (BestEffort pods always exceed their zero requests). Critical pods are skipped.
func rankForEviction(pods []*corev1.Pod) *corev1.Pod {
	var candidates []*corev1.Pod
	for _, p := range pods {
		if evictable(p) {
			candidates = append(candidates, p)
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	sort.SliceStable(candidates, func(i, j int) bool {
		a, b := candidates[i], candidates[j]
		if qa, qb := qosRank(a), qosRank(b); qa != qb {
			return qa < qb
		}
		if pa, pb := priorityOf(a), priorityOf(b); pa != pb {
			return pa < pb
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return b.CreationTimestamp.Before(&a.CreationTimestamp)
		}
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	return candidates[0]
}

// evictable excludes what upstream never evicts for node pressure: static and
// mirror pods, system-critical priorities, and pods already finished or going.
func evictable(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return false
	}
	if _, mirror := p.Annotations[annotationMirror]; mirror {
		return false
	}
	if src, ok := p.Annotations["kubernetes.io/config.source"]; ok && src != "api" {
		return false
	}
	return priorityOf(p) < systemCriticalPriority
}

func qosRank(p *corev1.Pod) int {
	q := p.Status.QOSClass
	if q == "" {
		q = qosClass(p)
	}
	switch q {
	case corev1.PodQOSBestEffort:
		return 0
	case corev1.PodQOSBurstable:
		return 1
	}
	return 2
}

func priorityOf(p *corev1.Pod) int32 {
	if p.Spec.Priority != nil {
		return *p.Spec.Priority
	}
	return 0
}

// activePods lists this node's pods from the informer cache.
func (k *Kubelet) activePods() []*corev1.Pod {
	if k.pods == nil {
		return nil
	}
	var out []*corev1.Pod
	for _, obj := range k.pods.GetStore().List() {
		if p, ok := obj.(*corev1.Pod); ok {
			out = append(out, p)
		}
	}
	return out
}

// evictPod fails the pod with reason Evicted, stops its containers at once and
// records a Warning event. The status goes first: once the API holds the
// terminal phase (which it never lets go back) the pod's worker stops restarting
// containers and keeps them down.
func (k *Kubelet) evictPod(ctx context.Context, pod *corev1.Pod, _ corev1.ResourceName, msg string) error {
	if err := k.failEvicted(ctx, pod, msg); err != nil {
		return err
	}
	k.stopPodContainers(ctx, pod)
	k.evictionEvent(ctx, pod, msg)
	return nil
}

func (k *Kubelet) failEvicted(ctx context.Context, pod *corev1.Pod, msg string) error {
	pods := k.cfg.Client.CoreV1().Pods(pod.Namespace)
	p := pod.DeepCopy()
	for attempt := 0; attempt < 3; attempt++ {
		p.Status = evictedStatus(&p.Status, msg, metav1.Now())
		_, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsConflict(err) {
			return err
		}
		fresh, gerr := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if gerr != nil || fresh.UID != pod.UID {
			return gerr
		}
		if !evictable(fresh) {
			return nil // finished or deleted meanwhile
		}
		p = fresh
	}
	return fmt.Errorf("pod %s/%s: status kept conflicting", pod.Namespace, pod.Name)
}

// evictedStatus is the pod's status after eviction: Failed/Evicted with the
// DisruptionTarget condition upstream adds (reason TerminationByKubelet), and
// running containers reported terminated since they are being killed.
func evictedStatus(prev *corev1.PodStatus, msg string, now metav1.Time) corev1.PodStatus {
	st := *prev.DeepCopy()
	st.Phase, st.Reason, st.Message = corev1.PodFailed, "Evicted", msg
	st.Conditions = mergeConditions(st.Conditions,
		corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
			Reason: corev1.PodReasonTerminationByKubelet, Message: msg, LastTransitionTime: now},
		corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: "PodFailed", LastTransitionTime: now},
		corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "PodFailed", LastTransitionTime: now})
	for i := range st.ContainerStatuses {
		c := &st.ContainerStatuses[i]
		if c.State.Terminated != nil {
			continue
		}
		started := now
		if c.State.Running != nil {
			started = c.State.Running.StartedAt
		}
		c.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 137, Reason: "Error", StartedAt: started, FinishedAt: now, ContainerID: c.ContainerID}}
		c.Ready, c.Started = false, ptr.To(false)
	}
	return st
}

// stopPodContainers kills the pod's containers with no grace period, as upstream
// does for hard-threshold evictions; the worker stops the sandbox afterwards.
func (k *Kubelet) stopPodContainers(ctx context.Context, pod *corev1.Pod) {
	list, err := k.cfg.Runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{
		LabelSelector: map[string]string{labelPodUID: string(pod.UID)}})
	if err != nil {
		klog.FromContext(ctx).Error(err, "listing containers of evicted pod", "pod", klog.KObj(pod))
		return
	}
	for _, c := range list {
		if c.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			continue
		}
		if err := k.cfg.Runtime.StopContainer(ctx, c.Id, 0); err != nil {
			klog.FromContext(ctx).Error(err, "stopping container of evicted pod", "pod", klog.KObj(pod), "container", c.Id)
		}
	}
}

func (k *Kubelet) evictionEvent(ctx context.Context, pod *corev1.Pod, msg string) {
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: pod.Name + ".", Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace,
			Name: pod.Name, UID: pod.UID, ResourceVersion: pod.ResourceVersion},
		Reason: "Evicted", Message: msg, Type: corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: "kubelet", Host: k.cfg.NodeName},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
		ReportingController: "kubelet", ReportingInstance: k.cfg.NodeName,
	}
	if _, err := k.cfg.Client.CoreV1().Events(pod.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil && ctx.Err() == nil {
		klog.FromContext(ctx).Error(err, "recording eviction event", "pod", klog.KObj(pod))
	}
}
