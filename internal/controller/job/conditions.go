package job

import (
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

func condFor(conds []batchv1.JobCondition, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

func condTrue(conds []batchv1.JobCondition, t batchv1.JobConditionType) bool {
	c := condFor(conds, t)
	return c != nil && c.Status == corev1.ConditionTrue
}

func setCond(st *batchv1.JobStatus, t batchv1.JobConditionType, reason, msg string, now time.Time) {
	setCondStatus(st, t, corev1.ConditionTrue, reason, msg, now)
}

// setCondStatus sets or replaces condition t; the transition time moves only
// when the status changes.
func setCondStatus(st *batchv1.JobStatus, t batchv1.JobConditionType, status corev1.ConditionStatus, reason, msg string, now time.Time) {
	c := batchv1.JobCondition{Type: t, Status: status, Reason: reason, Message: msg,
		LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)}
	if old := condFor(st.Conditions, t); old != nil {
		if old.Status == status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		*old = c
		return
	}
	st.Conditions = append(st.Conditions, c)
}

// uidSet holds status.uncountedTerminatedPods as sets.
type uidSet struct {
	succeeded, failed map[types.UID]struct{}
}

func uidSets(u *batchv1.UncountedTerminatedPods) uidSet {
	s := uidSet{succeeded: map[types.UID]struct{}{}, failed: map[types.UID]struct{}{}}
	if u == nil {
		return s
	}
	for _, id := range u.Succeeded {
		s.succeeded[id] = struct{}{}
	}
	for _, id := range u.Failed {
		s.failed[id] = struct{}{}
	}
	return s
}

func (s uidSet) has(id types.UID) bool {
	_, a := s.succeeded[id]
	_, b := s.failed[id]
	return a || b
}

func (s uidSet) empty() bool { return len(s.succeeded) == 0 && len(s.failed) == 0 }

// api renders the sets sorted (stable status, no spurious writes).
func (s uidSet) api() *batchv1.UncountedTerminatedPods {
	out := &batchv1.UncountedTerminatedPods{}
	for id := range s.succeeded {
		out.Succeeded = append(out.Succeeded, id)
	}
	for id := range s.failed {
		out.Failed = append(out.Failed, id)
	}
	sortUIDs(out.Succeeded)
	sortUIDs(out.Failed)
	return out
}

func sortUIDs(u []types.UID) {
	for i := 1; i < len(u); i++ {
		for j := i; j > 0 && u[j] < u[j-1]; j-- {
			u[j], u[j-1] = u[j-1], u[j]
		}
	}
}

// parallel runs fn(0..n-1) concurrently and aggregates the errors.
func parallel(n int, fn func(i int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return utilerrors.NewAggregate(errs)
}
