package scheduler

import (
	"container/heap"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// unschedulableTimeout is how long a pod may sit in the unschedulable set
// without any event before it is retried anyway (upstream: 5 minutes).
const unschedulableTimeout = 5 * time.Minute

// QueuedPodInfo is a pod waiting to be scheduled plus its queue history.
type QueuedPodInfo struct {
	*framework.PodInfo
	// Timestamp is when the pod last entered the queue.
	Timestamp time.Time
	// InitialAttemptTimestamp is when the pod first entered the queue (for
	// the end-to-end latency metric).
	InitialAttemptTimestamp time.Time
	// Attempts counts scheduling attempts, which drives backoff.
	Attempts int

	priority int32
	index    int // position in whichever heap holds it, -1 if none
	expiry   time.Time
}

func podKey(p *v1.Pod) string { return p.Namespace + "/" + p.Name }

// podHeap is a binary heap with a pluggable order.
type podHeap struct {
	items []*QueuedPodInfo
	less  func(a, b *QueuedPodInfo) bool
}

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}
func (h *podHeap) Push(x any) {
	q := x.(*QueuedPodInfo)
	q.index = len(h.items)
	h.items = append(h.items, q)
}
func (h *podHeap) Pop() any {
	n := len(h.items) - 1
	q := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	q.index = -1
	return q
}

// byPriority orders the active queue: higher spec.priority first, then
// first come first served.
func byPriority(a, b *QueuedPodInfo) bool {
	if a.priority != b.priority {
		return a.priority > b.priority
	}
	return a.Timestamp.Before(b.Timestamp)
}

func byExpiry(a, b *QueuedPodInfo) bool { return a.expiry.Before(b.expiry) }

// where a pod currently is.
type location int

const (
	inActive location = iota + 1
	inBackoff
	inUnschedulable
	inGated
	inFlight
)

// SchedulingQueue holds pods waiting for a node in three places:
//
//   - active: a heap popped by the scheduling loop;
//   - backoff: pods that failed recently, released when their backoff
//     (initial × 2^(attempts-1), capped at max) expires;
//   - unschedulable: pods that fit nowhere, released by cluster events that
//     could change that, or after unschedulableTimeout.
//
// One mutex guards everything; Pop waits on a condition variable. Pods with
// schedulingGates are parked until the gates are removed.
type SchedulingQueue struct {
	mu    sync.Mutex
	cond  *sync.Cond
	clock clock.WithTicker

	active  podHeap
	backoff podHeap
	// pods maps a key to its info and where it is.
	pods map[string]*queueEntry
	// unsched indexes the unschedulable pods, which events scan often.
	unsched map[string]*QueuedPodInfo

	initialBackoff, maxBackoff time.Duration

	// schedulingCycle counts Pops. moveRequestCycle is the cycle of the
	// last move request: a pod that failed in a cycle that started before
	// that request may have missed the event that would help it, so it goes
	// to backoff instead of unschedulable.
	schedulingCycle  int64
	moveRequestCycle int64

	nominator nominator
	closed    bool
}

type queueEntry struct {
	qpi *QueuedPodInfo
	loc location
	// updated holds the newest object of an in-flight pod: the scheduling
	// goroutine owns qpi until it hands it back.
	updated *v1.Pod
}

// NewSchedulingQueue returns an empty queue.
func NewSchedulingQueue(clk clock.WithTicker, initialBackoff, maxBackoff time.Duration) *SchedulingQueue {
	q := &SchedulingQueue{clock: clk, pods: map[string]*queueEntry{}, unsched: map[string]*QueuedPodInfo{},
		initialBackoff: initialBackoff, maxBackoff: maxBackoff, moveRequestCycle: -1,
		nominator: nominator{byNode: map[string][]*framework.PodInfo{}, byPod: map[string]string{}}}
	q.active.less = byPriority
	q.backoff.less = byExpiry
	q.cond = sync.NewCond(&q.mu)
	return q
}

func gated(p *v1.Pod) bool { return len(p.Spec.SchedulingGates) > 0 }

// Add enqueues a new pending pod.
func (q *SchedulingQueue) Add(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.pods[podKey(pod)]; ok {
		q.updateLocked(pod)
		return
	}
	q.addLocked(pod)
}

func (q *SchedulingQueue) addLocked(pod *v1.Pod) {
	key := podKey(pod)
	now := q.clock.Now()
	qpi := &QueuedPodInfo{PodInfo: framework.NewPodInfo(pod), Timestamp: now, InitialAttemptTimestamp: now,
		priority: corev1helpers.PodPriority(pod), index: -1}
	q.nominator.update(qpi.PodInfo)
	if gated(pod) {
		q.pods[key] = &queueEntry{qpi: qpi, loc: inGated}
		return
	}
	q.pushActive(key, qpi)
}

func (q *SchedulingQueue) pushActive(key string, qpi *QueuedPodInfo) {
	heap.Push(&q.active, qpi)
	q.pods[key] = &queueEntry{qpi: qpi, loc: inActive}
	q.cond.Signal()
}

func (q *SchedulingQueue) pushBackoff(key string, qpi *QueuedPodInfo) {
	qpi.expiry = qpi.Timestamp.Add(q.backoffDuration(qpi))
	heap.Push(&q.backoff, qpi)
	q.pods[key] = &queueEntry{qpi: qpi, loc: inBackoff}
}

// Update refreshes a pending pod. An unschedulable pod whose spec or
// labels changed gets another chance right away.
func (q *SchedulingQueue) Update(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.updateLocked(pod)
}

func (q *SchedulingQueue) updateLocked(pod *v1.Pod) {
	key := podKey(pod)
	e, ok := q.pods[key]
	if !ok {
		q.addLocked(pod)
		return
	}
	if e.loc == inFlight {
		e.updated = pod
		return
	}
	old := e.qpi.Pod
	e.qpi.PodInfo = framework.NewPodInfo(pod)
	e.qpi.priority = corev1helpers.PodPriority(pod)
	q.nominator.update(e.qpi.PodInfo)
	switch e.loc {
	case inActive:
		heap.Fix(&q.active, e.qpi.index)
	case inBackoff:
		heap.Fix(&q.backoff, e.qpi.index)
	case inGated:
		if !gated(pod) {
			q.pushActive(key, e.qpi)
		}
	case inUnschedulable:
		if specChanged(old, pod) {
			q.requeueLocked(key, e.qpi)
		}
	}
}

// specChanged ignores status and bookkeeping-only updates, which would
// otherwise make an unschedulable pod spin.
func specChanged(a, b *v1.Pod) bool {
	if a.Generation != b.Generation && b.Generation != 0 {
		return true
	}
	return !mapsEqual(a.Labels, b.Labels) || !mapsEqual(a.Annotations, b.Annotations) ||
		len(a.Spec.Tolerations) != len(b.Spec.Tolerations) || !mapsEqual(a.Spec.NodeSelector, b.Spec.NodeSelector)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Delete forgets a pod wherever it is.
func (q *SchedulingQueue) Delete(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(pod)
	q.nominator.remove(pod)
	e, ok := q.pods[key]
	if !ok {
		return
	}
	switch e.loc {
	case inActive:
		heap.Remove(&q.active, e.qpi.index)
	case inBackoff:
		heap.Remove(&q.backoff, e.qpi.index)
	}
	delete(q.unsched, key)
	delete(q.pods, key)
}

// Pop blocks until a pod is active (or the queue closes: nil). The pod is
// then "in flight" until Done or a requeue.
func (q *SchedulingQueue) Pop() (*QueuedPodInfo, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.active.Len() == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil, 0
	}
	qpi := heap.Pop(&q.active).(*QueuedPodInfo)
	qpi.Attempts++
	q.schedulingCycle++
	q.pods[podKey(qpi.Pod)] = &queueEntry{qpi: qpi, loc: inFlight}
	return qpi, q.schedulingCycle
}

// Done forgets an in-flight pod (scheduled, or deleted meanwhile).
func (q *SchedulingQueue) Done(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(pod)
	if e, ok := q.pods[key]; ok && e.loc == inFlight {
		delete(q.pods, key)
	}
}

// AddUnschedulable parks a pod that fit nowhere in cycle podCycle. If a
// move request arrived since that cycle began, it goes to backoff instead.
func (q *SchedulingQueue) AddUnschedulable(qpi *QueuedPodInfo, podCycle int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(qpi.Pod)
	e, ok := q.pods[key]
	if !ok || e.loc != inFlight {
		return // deleted while in flight, or already requeued
	}
	qpi.Timestamp = q.clock.Now()
	if u := e.updated; u != nil {
		changed := specChanged(qpi.Pod, u)
		qpi.PodInfo, qpi.priority = framework.NewPodInfo(u), corev1helpers.PodPriority(u)
		if changed {
			q.pushBackoff(key, qpi)
			return
		}
	}
	if q.moveRequestCycle >= podCycle {
		q.pushBackoff(key, qpi)
		return
	}
	q.pods[key] = &queueEntry{qpi: qpi, loc: inUnschedulable}
	q.unsched[key] = qpi
}

// AddBackoff requeues a pod after an error (bind failure, API error).
func (q *SchedulingQueue) AddBackoff(qpi *QueuedPodInfo) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(qpi.Pod)
	e, ok := q.pods[key]
	if !ok || e.loc != inFlight {
		return // deleted while in flight, or already requeued
	}
	if e.updated != nil {
		qpi.PodInfo, qpi.priority = framework.NewPodInfo(e.updated), corev1helpers.PodPriority(e.updated)
	}
	qpi.Timestamp = q.clock.Now()
	q.pushBackoff(key, qpi)
}

// MoveAllToActiveOrBackoff reacts to a cluster event that could make
// unschedulable pods fit (only pods accepted by match, if given).
func (q *SchedulingQueue) MoveAllToActiveOrBackoff(match func(*QueuedPodInfo) bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for key, qpi := range q.unsched {
		if match == nil || match(qpi) {
			q.requeueLocked(key, qpi)
		}
	}
	q.moveRequestCycle = q.schedulingCycle
}

// requeueLocked sends a pod to backoff if it is still backing off, else to
// active.
func (q *SchedulingQueue) requeueLocked(key string, qpi *QueuedPodInfo) {
	delete(q.unsched, key)
	if q.clock.Now().Before(qpi.Timestamp.Add(q.backoffDuration(qpi))) {
		q.pushBackoff(key, qpi)
		return
	}
	q.pushActive(key, qpi)
}

// FlushBackoffCompleted moves pods whose backoff expired to active.
func (q *SchedulingQueue) FlushBackoffCompleted() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	for q.backoff.Len() > 0 && !q.backoff.items[0].expiry.After(now) {
		qpi := heap.Pop(&q.backoff).(*QueuedPodInfo)
		q.pushActive(podKey(qpi.Pod), qpi)
	}
}

// FlushUnschedulableLeftover retries pods parked longer than the timeout.
func (q *SchedulingQueue) FlushUnschedulableLeftover() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	for key, qpi := range q.unsched {
		if now.Sub(qpi.Timestamp) >= unschedulableTimeout {
			q.requeueLocked(key, qpi)
		}
	}
}

// backoffDuration: initial × 2^(attempts-1), capped.
func (q *SchedulingQueue) backoffDuration(qpi *QueuedPodInfo) time.Duration {
	d := q.initialBackoff
	for i := 1; i < qpi.Attempts; i++ {
		if d >= q.maxBackoff/2 {
			return q.maxBackoff
		}
		d *= 2
	}
	return min(d, q.maxBackoff)
}

// Run flushes backoff every 100 ms (cheap: it only peeks the heap top) and
// the unschedulable leftovers every 30 s, until stop closes.
func (q *SchedulingQueue) Run(stop <-chan struct{}) {
	backoff := q.clock.NewTicker(100 * time.Millisecond)
	leftover := q.clock.NewTicker(30 * time.Second)
	defer backoff.Stop()
	defer leftover.Stop()
	for {
		select {
		case <-stop:
			return
		case <-backoff.C():
			q.FlushBackoffCompleted()
		case <-leftover.C():
			q.FlushUnschedulableLeftover()
		}
	}
}

// Close wakes Pop callers; they get nil.
func (q *SchedulingQueue) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// Lengths reports pending pods per sub-queue (for metrics).
func (q *SchedulingQueue) Lengths() (active, backoff, unschedulable, gatedN int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, e := range q.pods {
		if e.loc == inGated {
			gatedN++
		}
	}
	return q.active.Len(), q.backoff.Len(), len(q.unsched), gatedN
}

// --- nominations ---

// nominator remembers pods nominated to nodes by preemption, so other
// pods' filters account for them until they bind. Guarded by the queue lock.
type nominator struct {
	byNode map[string][]*framework.PodInfo
	byPod  map[string]string
}

func (n *nominator) update(pi *framework.PodInfo) {
	n.remove(pi.Pod)
	node := pi.Pod.Status.NominatedNodeName
	if node == "" || pi.Pod.Spec.NodeName != "" {
		return
	}
	n.byNode[node] = append(n.byNode[node], pi)
	n.byPod[podKey(pi.Pod)] = node
}

func (n *nominator) remove(pod *v1.Pod) {
	key := podKey(pod)
	node, ok := n.byPod[key]
	if !ok {
		return
	}
	delete(n.byPod, key)
	list := n.byNode[node]
	for i, pi := range list {
		if podKey(pi.Pod) == key {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(n.byNode, node)
	} else {
		n.byNode[node] = list
	}
}

// Nominate records that pod should land on node (after preemption).
func (q *SchedulingQueue) Nominate(pi *framework.PodInfo, node string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.nominator.remove(pi.Pod)
	q.nominator.byNode[node] = append(q.nominator.byNode[node], pi)
	q.nominator.byPod[podKey(pi.Pod)] = node
}

// ForgetNomination drops a pod's nomination (it bound or was deleted).
func (q *SchedulingQueue) ForgetNomination(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.nominator.remove(pod)
}

// NominatedPods returns pods nominated to node; the slice is a copy.
func (q *SchedulingQueue) NominatedPods(node string) []*framework.PodInfo {
	q.mu.Lock()
	defer q.mu.Unlock()
	list := q.nominator.byNode[node]
	if len(list) == 0 {
		return nil
	}
	return append([]*framework.PodInfo(nil), list...)
}

// HasNominations is a cheap check used on the hot path.
func (q *SchedulingQueue) HasNominations() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.nominator.byPod) > 0
}
