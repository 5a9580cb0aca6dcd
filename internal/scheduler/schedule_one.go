package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// scheduleOne runs the scheduling cycle of one pod on the scheduling
// goroutine: snapshot → filter → score → assume → reserve → permit, then
// hands binding to a goroutine so the next pod can start at once.
func (s *Scheduler) scheduleOne(ctx context.Context, qpi *QueuedPodInfo, cycle int64) {
	pod := qpi.Pod
	fwk := s.profiles[profileName(pod)]
	if fwk == nil || pod.DeletionTimestamp != nil || s.cache.IsAssumed(pod) {
		s.queue.Done(pod)
		return
	}
	start := s.clock.Now()
	state := framework.NewCycleState()
	state.SetPodInfo(qpi.PodInfo)
	s.cache.UpdateSnapshot(s.snapshot)

	host, err := s.schedulePod(ctx, fwk, state, pod)
	if err != nil {
		nominated := ""
		var fitErr *FitError
		if errors.As(err, &fitErr) && fwk.HasPostFilterPlugins() {
			s.metrics.preemptions.Inc()
			r, st := fwk.RunPostFilterPlugins(ctx, state, pod, fitErr.Diagnosis)
			if r != nil && r.NominatedNodeName != "" {
				nominated = r.NominatedNodeName
				s.queue.Nominate(qpi.PodInfo, nominated)
			}
			if st.Code() == framework.Error {
				klog.FromContext(ctx).Error(st.AsError(), "preemption failed", "pod", klog.KObj(pod))
			} else if msg := st.Message(); msg != "" {
				fitErr.Diagnosis.PostFilterMsg = msg
			}
		}
		s.fail(ctx, fwk, qpi, cycle, err, nominated, start)
		return
	}

	// Assume: a shallow copy with spec.nodeName set, charged to the node
	// now so the next cycle sees the capacity as used.
	assumed := *pod
	assumed.Spec.NodeName = host
	api := *qpi.PodInfo
	api.Pod = &assumed
	if err := s.cache.AssumePod(&api); err != nil {
		s.fail(ctx, fwk, qpi, cycle, err, "", start)
		return
	}
	if st := fwk.RunReservePluginsReserve(ctx, state, &assumed, host); !st.IsSuccess() {
		s.undo(ctx, fwk, state, &assumed, host)
		s.fail(ctx, fwk, qpi, cycle, statusErr(st), "", start)
		return
	}
	permit := fwk.RunPermitPlugins(ctx, state, &assumed, host)
	if permit.Code() != framework.Wait && !permit.IsSuccess() {
		s.undo(ctx, fwk, state, &assumed, host)
		s.fail(ctx, fwk, qpi, cycle, statusErr(permit), "", start)
		return
	}
	s.bindWG.Add(1)
	go s.bindingCycle(ctx, fwk, state, qpi, &assumed, host, permit.Code() == framework.Wait, start)
}

func profileName(p *v1.Pod) string {
	if p.Spec.SchedulerName == "" {
		return DefaultSchedulerName
	}
	return p.Spec.SchedulerName
}

// statusErr turns a rejection into a FitError-free error; unschedulable
// statuses from Reserve/Permit are reported with their message.
func statusErr(st *framework.Status) error {
	if st.IsRejected() {
		return &rejectedError{st}
	}
	return fmt.Errorf("%s: %w", st.Plugin(), st.AsError())
}

// rejectedError is an Unschedulable outcome that is not a FitError
// (Reserve, Permit); the pod goes to the unschedulable set.
type rejectedError struct{ st *framework.Status }

func (e *rejectedError) Error() string { return e.st.Message() }

func (s *Scheduler) undo(ctx context.Context, fwk *framework.Framework, state *framework.CycleState, assumed *v1.Pod, host string) {
	fwk.RunReservePluginsUnreserve(ctx, state, assumed, host)
	s.cache.ForgetPod(assumed)
}

// bindingCycle runs off the scheduling goroutine: wait for permit,
// pre-bind, bind, then report.
func (s *Scheduler) bindingCycle(ctx context.Context, fwk *framework.Framework, state *framework.CycleState,
	qpi *QueuedPodInfo, assumed *v1.Pod, host string, waitPermit bool, start time.Time) {
	defer s.bindWG.Done()
	var st *framework.Status
	if waitPermit {
		st = fwk.WaitOnPermit(ctx, assumed)
	}
	if st.IsSuccess() {
		st = fwk.RunPreBindPlugins(ctx, state, assumed, host)
	}
	if st.IsSuccess() {
		st = fwk.RunBindPlugins(ctx, state, assumed, host)
	}
	if !st.IsSuccess() {
		s.undo(ctx, fwk, state, assumed, host)
		// The capacity we held is free again: others may fit now.
		s.queue.MoveAllToActiveOrBackoff(nil)
		s.fail(ctx, fwk, qpi, 0, statusErr(st), "", start)
		return
	}
	s.cache.FinishBinding(assumed)
	now := s.clock.Now()
	s.metrics.attempts.WithLabelValues(resultScheduled, fwk.ProfileName()).Inc()
	s.metrics.attemptDuration.WithLabelValues(resultScheduled, fwk.ProfileName()).Observe(now.Sub(start).Seconds())
	s.metrics.e2eDuration.WithLabelValues(fwk.ProfileName()).Observe(now.Sub(qpi.InitialAttemptTimestamp).Seconds())
	s.recorder.Eventf(qpi.Pod, v1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s",
		assumed.Namespace, assumed.Name, host)
	fwk.RunPostBindPlugins(ctx, state, assumed, host)
	s.queue.Done(qpi.Pod)
}

// schedulePod picks a node or returns a *FitError.
func (s *Scheduler) schedulePod(ctx context.Context, fwk *framework.Framework, state *framework.CycleState, pod *v1.Pod) (string, error) {
	nodes := s.snapshot.List()
	if len(nodes) == 0 {
		return "", &FitError{Diagnosis: &Diagnosis{PreFilterMsg: ErrNoNodesAvailable}}
	}
	feasible, diag, err := s.findNodesThatFit(ctx, fwk, state, pod, nodes)
	if err != nil {
		return "", err
	}
	if len(feasible) == 0 {
		return "", &FitError{NumAllNodes: len(nodes), Diagnosis: diag}
	}
	if len(feasible) == 1 {
		return feasible[0].Name(), nil
	}
	return s.prioritize(ctx, fwk, state, pod, feasible)
}

// findNodesThatFit runs PreFilter, then (nominated node first) the filters
// in parallel until enough feasible nodes are found, then extenders.
func (s *Scheduler) findNodesThatFit(ctx context.Context, fwk *framework.Framework, state *framework.CycleState,
	pod *v1.Pod, nodes []*framework.NodeInfo) ([]*framework.NodeInfo, *Diagnosis, error) {
	diag := &Diagnosis{index: s.snapshot.index}
	pre, st := fwk.RunPreFilterPlugins(ctx, state, pod)
	if !st.IsSuccess() {
		if !st.IsRejected() {
			return nil, nil, fmt.Errorf("running PreFilter plugin %q: %w", st.Plugin(), st.AsError())
		}
		diag.all, diag.PreFilterMsg = st, st.Message()
		return nil, diag, nil
	}
	if nn := pod.Status.NominatedNodeName; nn != "" {
		if ni := s.snapshot.Get(nn); ni != nil {
			if fs := s.filterNode(ctx, fwk, state, pod, ni, true); fs.IsSuccess() {
				if ok, err := s.extendersAccept(pod, ni, diag); err == nil && ok {
					return []*framework.NodeInfo{ni}, diag, nil
				}
			}
		}
	}
	if pre != nil && pre.NodeNames != nil {
		nodes = s.restrict(nodes, pre.NodeNames, diag)
	}
	feasible, err := s.filterNodes(ctx, fwk, state, pod, nodes, diag)
	if err != nil {
		return nil, nil, err
	}
	feasible, err = s.runExtenderFilters(pod, feasible, diag)
	return feasible, diag, err
}

// restrict keeps the nodes named by PreFilter and marks the rest.
func (s *Scheduler) restrict(nodes []*framework.NodeInfo, names map[string]struct{}, diag *Diagnosis) []*framework.NodeInfo {
	out := make([]*framework.NodeInfo, 0, len(names))
	reject := framework.NewStatus(framework.UnschedulableAndUnresolvable, "node(s) didn't satisfy plugin(s) PreFilter result")
	for _, ni := range nodes {
		if _, ok := names[ni.Name()]; ok {
			out = append(out, ni)
		} else {
			diag.reject(ni.Name(), reject)
		}
	}
	diag.index = nil // statuses are indexed by the restricted list below
	return out
}

// numFeasibleNodesToFind is how many feasible nodes are enough: all of
// them in small clusters, otherwise a percentage (adaptive by default:
// 50% minus 1% per 125 nodes, at least 5%) but never fewer than 100.
func numFeasibleNodesToFind(percentage int32, numAll int) int {
	if numAll < minFeasibleNodesToFind || percentage >= 100 {
		return numAll
	}
	adaptive := percentage
	if adaptive <= 0 {
		adaptive = int32(50 - numAll/125)
		if adaptive < minFeasibleNodesPercentageToFind {
			adaptive = minFeasibleNodesPercentageToFind
		}
	}
	n := numAll * int(adaptive) / 100
	if n < minFeasibleNodesToFind {
		return minFeasibleNodesToFind
	}
	return n
}

// filterNodes checks nodes in parallel from a round-robin start so every
// node gets its turn across cycles, stopping once enough are feasible.
func (s *Scheduler) filterNodes(ctx context.Context, fwk *framework.Framework, state *framework.CycleState,
	pod *v1.Pod, nodes []*framework.NodeInfo, diag *Diagnosis) ([]*framework.NodeInfo, error) {
	n := len(nodes)
	pct := s.cfg.percentage
	if p := fwk.PercentageOfNodesToScore(); p != nil {
		pct = *p
	}
	want := numFeasibleNodesToFind(pct, n)
	if cap(s.feasibleBuf) < n {
		s.feasibleBuf = make([]*framework.NodeInfo, n)
		s.statusBuf = make([]*framework.Status, n)
	}
	feasible, statuses := s.feasibleBuf[:want], s.statusBuf[:n]
	clear(statuses)
	if diag.index == nil {
		diag.index = make(map[string]int, n)
		for i, ni := range nodes {
			diag.index[ni.Name()] = i
		}
	}
	diag.statuses = statuses
	startIdx := s.nextStartNodeIndex % n
	if !fwk.HasFilterPlugins() {
		for i := range feasible {
			feasible[i] = nodes[(startIdx+i)%n]
		}
		s.nextStartNodeIndex = (startIdx + want) % n
		return feasible, nil
	}
	hasNominated := s.queue.HasNominations()
	var found, processed atomic.Int64
	var firstErr atomic.Pointer[framework.Status]
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fwk.Parallelizer().Until(fctx, n, func(i int) {
		idx := (startIdx + i) % n
		ni := nodes[idx]
		st := s.filterNode(fctx, fwk, state, pod, ni, hasNominated)
		processed.Add(1)
		switch {
		case st.IsSuccess():
			k := found.Add(1)
			if k > int64(want) {
				cancel()
				return
			}
			feasible[k-1] = ni
			if k == int64(want) {
				cancel()
			}
		case st.Code() == framework.Error:
			firstErr.CompareAndSwap(nil, st)
			cancel()
		default:
			statuses[idx] = st
		}
	})
	if st := firstErr.Load(); st != nil {
		return nil, fmt.Errorf("running Filter plugin %q: %w", st.Plugin(), st.AsError())
	}
	s.nextStartNodeIndex = (startIdx + int(processed.Load())) % n
	return feasible[:min(int(found.Load()), want)], nil
}

// filterNode runs the filters, first adding pods nominated to the node
// with at least this pod's priority: they were promised the room.
func (s *Scheduler) filterNode(ctx context.Context, fwk *framework.Framework, state *framework.CycleState,
	pod *v1.Pod, ni *framework.NodeInfo, withNominated bool) *framework.Status {
	if withNominated {
		if nominated := s.queue.NominatedPods(ni.Name()); len(nominated) > 0 {
			prio := corev1helpers.PodPriority(pod)
			var cloned *framework.NodeInfo
			var cs *framework.CycleState
			for _, np := range nominated {
				if np.Pod.UID == pod.UID || corev1helpers.PodPriority(np.Pod) < prio {
					continue
				}
				if cloned == nil {
					cloned, cs = ni.Clone(), state.Clone()
				}
				cloned.AddPod(np)
				fwk.RunPreFilterExtensionAddPod(ctx, cs, pod, np, cloned)
			}
			if cloned != nil {
				return fwk.RunFilterPlugins(ctx, cs, pod, cloned)
			}
		}
	}
	return fwk.RunFilterPlugins(ctx, state, pod, ni)
}

// prioritize scores feasible nodes and picks the best, breaking ties at
// random so equal nodes share the load.
func (s *Scheduler) prioritize(ctx context.Context, fwk *framework.Framework, state *framework.CycleState,
	pod *v1.Pod, feasible []*framework.NodeInfo) (string, error) {
	if cap(s.totalsBuf) < len(feasible) {
		s.totalsBuf = make([]int64, len(feasible))
	}
	totals := s.totalsBuf[:len(feasible)]
	clear(totals)
	if fwk.HasScorePlugins() {
		if st := fwk.RunPreScorePlugins(ctx, state, pod, feasible); !st.IsSuccess() {
			return "", fmt.Errorf("running PreScore plugin %q: %w", st.Plugin(), st.AsError())
		}
		if st := fwk.RunScorePlugins(ctx, state, pod, feasible, totals); !st.IsSuccess() {
			return "", fmt.Errorf("running Score plugin %q: %w", st.Plugin(), st.AsError())
		}
	}
	if err := s.runExtenderPrioritize(pod, feasible, totals); err != nil {
		return "", err
	}
	best, ties := 0, 1
	for i := 1; i < len(totals); i++ {
		switch {
		case totals[i] > totals[best]:
			best, ties = i, 1
		case totals[i] == totals[best]:
			ties++
			if s.rng.IntN(ties) == 0 { // reservoir sampling among equals
				best = i
			}
		}
	}
	return feasible[best].Name(), nil
}
