package job

import (
	"context"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// state is one sync's view of a Job.
type state struct {
	key         string
	job         *batchv1.Job
	status      batchv1.JobStatus // being built
	active      []*corev1.Pod
	terminating int32
	pods        []*corev1.Pod // all owned pods
	now         time.Time
	// Pods moved into the counters by this sync; they feed the backoff
	// record only once the status holding them is written.
	newSucceeded, newFailed int
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := splitKey(key)
	if err != nil {
		return nil
	}
	job, err := c.jobLister.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	s := &state{key: key, job: job, status: *job.Status.DeepCopy(), now: c.opts.Clock.Now()}
	if err := c.listPods(s); err != nil {
		return err
	}
	if finished(job) {
		return c.releaseAll(ctx, s) // late pods of a finished Job are not counted
	}
	if err := c.track(ctx, s); err != nil {
		return err
	}
	// The backoff decision inside reconcile needs this sync's failures.
	undo := c.applyCounts(s)
	manageErr := c.reconcile(ctx, s)
	if err := c.writeStatus(ctx, s); err != nil {
		undo() // the counts were not persisted; the retry counts them again
		return err
	}
	return manageErr
}

func (c *Controller) listPods(s *state) error {
	all, err := c.podLister.Pods(s.job.Namespace).List(labels.Everything())
	if err != nil {
		return err
	}
	for _, p := range all {
		if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != s.job.UID {
			continue
		}
		s.pods = append(s.pods, p)
	}
	return nil
}

func finished(job *batchv1.Job) bool {
	return condTrue(job.Status.Conditions, batchv1.JobComplete) || condTrue(job.Status.Conditions, batchv1.JobFailed)
}

func isTerminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// releaseAll removes tracking finalizers left on a finished Job's pods.
func (c *Controller) releaseAll(ctx context.Context, s *state) error {
	var errs []error
	for _, p := range s.pods {
		if hasFinalizer(p) {
			errs = append(errs, c.removeFinalizer(ctx, p))
		}
	}
	return utilerrors.NewAggregate(errs)
}

// track counts newly terminated pods exactly once (see package doc) and
// classifies the rest as active or terminating.
func (c *Controller) track(ctx context.Context, s *state) error {
	st := &s.status
	uncounted := uidSets(st.UncountedTerminatedPods)
	c.mu.Lock()
	pending := c.unfinalized[s.key]
	c.mu.Unlock()
	byUID := map[types.UID]*corev1.Pod{}
	added := false
	// Pods we stop because the Job is suspended or already decided are not
	// failures; they are released without being counted.
	job := s.job
	quiet := (job.Spec.Suspend != nil && *job.Spec.Suspend) ||
		condTrue(st.Conditions, batchv1.JobFailureTarget) || condTrue(st.Conditions, batchv1.JobSuccessCriteriaMet)
	var discard []*corev1.Pod
	for _, p := range s.pods {
		byUID[p.UID] = p
		terminal := isTerminal(p)
		gone := p.DeletionTimestamp != nil
		if !terminal && !gone {
			s.active = append(s.active, p)
			continue
		}
		if gone && !terminal {
			s.terminating++
		}
		_, isPending := pending[p.UID]
		if !hasFinalizer(p) || isPending || uncounted.has(p.UID) {
			continue
		}
		if gone && !terminal && quiet {
			discard = append(discard, p)
			continue
		}
		// A pod deleted before finishing counts as failed, as upstream does,
		// so orphaned or evicted pods cannot hang the Job.
		if p.Status.Phase == corev1.PodSucceeded {
			uncounted.succeeded[p.UID] = struct{}{}
		} else {
			uncounted.failed[p.UID] = struct{}{}
		}
		added = true
	}
	for _, p := range discard {
		if err := c.removeFinalizer(ctx, p); err != nil {
			return err
		}
		c.markUnfinalized(s.key, p.UID)
	}
	if added {
		// Step 1: persist the UIDs before the finalizers go.
		st.UncountedTerminatedPods = uncounted.api()
		if err := c.writeStatus(ctx, s); err != nil {
			return err
		}
	}
	if uncounted.empty() {
		return nil
	}
	// Step 2: remove finalizers; step 3: move the UIDs into the counters.
	completed := parseIndexes(st.CompletedIndexes, completions(s.job))
	var errs []error
	for _, set := range []struct {
		uids map[types.UID]struct{}
		ok   bool
	}{{uncounted.succeeded, true}, {uncounted.failed, false}} {
		for uid := range set.uids {
			if _, isPending := pending[uid]; !isPending && byUID[uid] != nil && hasFinalizer(byUID[uid]) {
				p := byUID[uid]
				if err := c.removeFinalizer(ctx, p); err != nil {
					errs = append(errs, err)
					continue
				}
				c.markUnfinalized(s.key, uid)
			}
			delete(set.uids, uid)
			if set.ok {
				st.Succeeded++
				if p := byUID[uid]; p != nil && isIndexed(s.job) {
					if i := podIndex(p); i >= 0 && i < completions(s.job) {
						completed[i] = struct{}{}
					}
				}
				s.newSucceeded++
			} else {
				st.Failed++
				s.newFailed++
			}
		}
	}
	if isIndexed(s.job) {
		st.CompletedIndexes = completed.String()
		st.Succeeded = int32(len(completed))
	}
	st.UncountedTerminatedPods = uncounted.api()
	return utilerrors.NewAggregate(errs)
}

func (c *Controller) markUnfinalized(key string, uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.unfinalized[key] == nil {
		c.unfinalized[key] = map[types.UID]struct{}{}
	}
	c.unfinalized[key][uid] = struct{}{}
}

// applyCounts feeds this sync's newly counted pods into the backoff record
// and returns a function restoring the previous record.
func (c *Controller) applyCounts(s *state) func() {
	c.mu.Lock()
	prev, had := c.backoff[s.key]
	c.mu.Unlock()
	if s.newSucceeded > 0 {
		c.recordSuccess(s.key)
	}
	for range s.newFailed {
		c.recordFailure(s.key, s.now)
	}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if had {
			c.backoff[s.key] = prev
		} else {
			delete(c.backoff, s.key)
		}
	}
}

func (c *Controller) recordFailure(key string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.backoff[key]
	r.failures++
	r.last = now
	c.backoff[key] = r
}

func (c *Controller) recordSuccess(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.backoff, key)
}

// backoffRemaining is how long pod creation must still wait after failures.
func (c *Controller) backoffRemaining(key string, now time.Time) time.Duration {
	c.mu.Lock()
	r, ok := c.backoff[key]
	c.mu.Unlock()
	if !ok || r.failures == 0 {
		return 0
	}
	d := c.opts.BackoffBase
	for i := 1; i < r.failures && d < c.opts.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, c.opts.BackoffMax)
	return r.last.Add(d).Sub(now)
}

func completions(job *batchv1.Job) int {
	if job.Spec.Completions == nil {
		return -1
	}
	return int(*job.Spec.Completions)
}

func parallelism(job *batchv1.Job) int {
	if job.Spec.Parallelism == nil {
		return 1
	}
	return int(*job.Spec.Parallelism)
}

// reconcile decides the Job's fate and converges its pods.
func (c *Controller) reconcile(ctx context.Context, s *state) error {
	job, st := s.job, &s.status
	suspended := job.Spec.Suspend != nil && *job.Spec.Suspend
	c.setSuspended(s, suspended)
	if st.StartTime == nil && !suspended {
		t := metav1.NewTime(s.now)
		st.StartTime = &t
	}
	if !condTrue(st.Conditions, batchv1.JobFailureTarget) && !condTrue(st.Conditions, batchv1.JobSuccessCriteriaMet) {
		c.judge(s)
	}
	switch {
	case condTrue(st.Conditions, batchv1.JobFailureTarget):
		return c.finish(ctx, s, batchv1.JobFailed, condFor(st.Conditions, batchv1.JobFailureTarget))
	case condTrue(st.Conditions, batchv1.JobSuccessCriteriaMet):
		return c.finish(ctx, s, batchv1.JobComplete, condFor(st.Conditions, batchv1.JobSuccessCriteriaMet))
	case suspended:
		return c.deletePods(ctx, s, s.active)
	}
	if d := job.Spec.ActiveDeadlineSeconds; d != nil && st.StartTime != nil {
		left := st.StartTime.Add(time.Duration(*d) * time.Second).Sub(s.now)
		c.loop.Queue.AddAfter(s.key, left+10*time.Millisecond)
	}
	if !c.exp.Satisfied(s.key) {
		return nil
	}
	return c.manage(ctx, s)
}

// judge adds FailureTarget or SuccessCriteriaMet when the Job's outcome is
// decided.
func (c *Controller) judge(s *state) {
	job, st := s.job, &s.status
	if limit := job.Spec.BackoffLimit; limit != nil && st.Failed > *limit {
		setCond(st, batchv1.JobFailureTarget, batchv1.JobReasonBackoffLimitExceeded,
			"Job has reached the specified backoff limit", s.now)
		return
	}
	if d := job.Spec.ActiveDeadlineSeconds; d != nil && st.StartTime != nil &&
		!s.now.Before(st.StartTime.Add(time.Duration(*d)*time.Second)) {
		setCond(st, batchv1.JobFailureTarget, batchv1.JobReasonDeadlineExceeded,
			"Job was active longer than specified deadline", s.now)
		return
	}
	n := completions(job)
	done := false
	if n < 0 {
		// Work-queue Jobs: done once any pod succeeded and the rest stopped.
		done = st.Succeeded > 0 && len(s.active) == 0
	} else {
		done = int(st.Succeeded) >= n
	}
	if done {
		setCond(st, batchv1.JobSuccessCriteriaMet, batchv1.JobReasonCompletionsReached,
			"Reached expected number of succeeded pods", s.now)
	}
}

// finish stops the remaining pods and adds the terminal condition once none
// are left and every pod is counted.
func (c *Controller) finish(ctx context.Context, s *state, terminal batchv1.JobConditionType, why *batchv1.JobCondition) error {
	if err := c.deletePods(ctx, s, s.active); err != nil {
		return err
	}
	st := &s.status
	if len(s.active) > 0 || s.terminating > 0 || !uidSets(st.UncountedTerminatedPods).empty() {
		return nil
	}
	setCond(st, terminal, why.Reason, why.Message, s.now)
	if terminal == batchv1.JobComplete {
		t := metav1.NewTime(s.now)
		st.CompletionTime = &t
		c.opts.Recorder.Event(s.job, corev1.EventTypeNormal, "Completed", "Job completed")
	} else {
		c.opts.Recorder.Event(s.job, corev1.EventTypeWarning, why.Reason, why.Message)
	}
	return nil
}

func (c *Controller) setSuspended(s *state, suspended bool) {
	st := &s.status
	was := condTrue(st.Conditions, batchv1.JobSuspended)
	switch {
	case suspended && !was:
		setCond(st, batchv1.JobSuspended, "JobSuspended", "Job suspended", s.now)
		c.opts.Recorder.Event(s.job, corev1.EventTypeNormal, "Suspended", "Job suspended")
	case !suspended && was:
		setCondStatus(st, batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed", s.now)
		// The deadline timer restarts on resume.
		t := metav1.NewTime(s.now)
		st.StartTime = &t
		c.opts.Recorder.Event(s.job, corev1.EventTypeNormal, "Resumed", "Job resumed")
	}
}

// manage creates or deletes pods towards the wanted number of active pods.
func (c *Controller) manage(ctx context.Context, s *state) error {
	if isIndexed(s.job) {
		return c.manageIndexed(ctx, s)
	}
	job, st := s.job, &s.status
	want := parallelism(job)
	if n := completions(job); n >= 0 {
		want = min(want, n-int(st.Succeeded))
	} else if st.Succeeded > 0 {
		want = 0 // work queue: one success means the rest only finish up
	}
	want = max(want, 0)
	active := len(s.active)
	if active > want {
		if completions(job) < 0 && want == 0 {
			return nil // let work-queue pods finish on their own
		}
		return c.deletePods(ctx, s, victims(s.active, active-want))
	}
	idx := make([]int, want-active)
	for i := range idx {
		idx[i] = -1
	}
	return c.createPods(ctx, s, idx)
}

// manageIndexed keeps one active pod per unfinished index, up to parallelism.
func (c *Controller) manageIndexed(ctx context.Context, s *state) error {
	n := completions(s.job)
	done := parseIndexes(s.status.CompletedIndexes, n)
	seen := map[int]bool{}
	var extra []*corev1.Pod
	for _, p := range s.active {
		i := podIndex(p)
		if _, ok := done[i]; i < 0 || i >= n || ok || seen[i] {
			extra = append(extra, p)
			continue
		}
		seen[i] = true
	}
	if len(extra) > 0 {
		return c.deletePods(ctx, s, extra)
	}
	room := parallelism(s.job) - len(seen)
	var todo []int
	for i := 0; i < n && len(todo) < room; i++ {
		if _, ok := done[i]; !ok && !seen[i] {
			todo = append(todo, i)
		}
	}
	return c.createPods(ctx, s, todo)
}

// victims picks the n active pods to delete: not ready before ready, newest
// first.
func victims(pods []*corev1.Pod, n int) []*corev1.Pod {
	out := append([]*corev1.Pod(nil), pods...)
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := ctrlutil.IsPodReady(out[i]), ctrlutil.IsPodReady(out[j])
		if ri != rj {
			return !ri
		}
		return out[j].CreationTimestamp.Before(&out[i].CreationTimestamp)
	})
	return out[:n]
}

func (c *Controller) createPods(ctx context.Context, s *state, indexes []int) error {
	if len(indexes) == 0 {
		return nil
	}
	if wait := c.backoffRemaining(s.key, s.now); wait > 0 {
		c.loop.Queue.AddAfter(s.key, wait)
		return nil
	}
	c.exp.ExpectCreations(s.key, len(indexes))
	return parallel(len(indexes), func(i int) error {
		pod := newPod(s.job, indexes[i])
		created, err := c.client.CoreV1().Pods(s.job.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			c.exp.CreationObserved(s.key)
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			c.opts.Recorder.Eventf(s.job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			return err
		}
		c.opts.Recorder.Eventf(s.job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", created.Name)
		return nil
	})
}

func (c *Controller) deletePods(ctx context.Context, s *state, pods []*corev1.Pod) error {
	if len(pods) == 0 || !c.exp.Satisfied(s.key) {
		return nil
	}
	uids := make([]types.UID, len(pods))
	for i, p := range pods {
		uids[i] = p.UID
	}
	c.exp.ExpectDeletions(s.key, uids)
	return parallel(len(pods), func(i int) error {
		p := pods[i]
		err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &p.UID}})
		if err != nil {
			c.exp.DeletionObserved(s.key, p.UID)
			if apierrors.IsNotFound(err) {
				return nil
			}
			c.opts.Recorder.Eventf(s.job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
			return err
		}
		c.opts.Recorder.Eventf(s.job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", p.Name)
		return nil
	})
}

// writeStatus fills the pod counts and writes status if it changed.
func (c *Controller) writeStatus(ctx context.Context, s *state) error {
	st := &s.status
	st.Active = int32(len(s.active))
	var ready int32
	for _, p := range s.active {
		if ctrlutil.IsPodReady(p) {
			ready++
		}
	}
	st.Ready = &ready
	term := s.terminating
	st.Terminating = &term
	if equality.Semantic.DeepEqual(s.job.Status, *st) {
		return nil
	}
	cp := s.job.DeepCopy()
	cp.Status = *st
	updated, err := c.client.BatchV1().Jobs(cp.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	s.job = updated // a second write in this sync needs the new resourceVersion
	return nil
}
