package scheduler

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	testingclock "k8s.io/utils/clock/testing"
)

func newTestQueue() (*SchedulingQueue, *testingclock.FakeClock) {
	clk := testingclock.NewFakeClock(time.Unix(1_700_000_000, 0))
	return NewSchedulingQueue(clk, time.Second, 10*time.Second), clk
}

func prioPod(name string, prio int32) *v1.Pod {
	p := makePod("ns", name, "", "")
	p.Spec.Priority = &prio
	return p
}

func TestSchedulingQueue_PopOrdersByPriorityThenArrival(t *testing.T) {
	q, clk := newTestQueue()
	for _, p := range []*v1.Pod{prioPod("low", 1), prioPod("high-1", 100), prioPod("mid", 50), prioPod("high-2", 100)} {
		q.Add(p)
		clk.Step(time.Millisecond) // distinct arrival times
	}
	var got []string
	for range 4 {
		qpi, _ := q.Pop()
		got = append(got, qpi.Pod.Name)
	}
	want := []string{"high-1", "high-2", "mid", "low"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("pop order %v, want %v", got, want)
		}
	}
}

func TestSchedulingQueue_BackoffDoublesAndCaps(t *testing.T) {
	q, _ := newTestQueue()
	cases := map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 9: 10 * time.Second}
	for attempts, want := range cases {
		if got := q.backoffDuration(&QueuedPodInfo{Attempts: attempts}); got != want {
			t.Errorf("attempts=%d: backoff %v, want %v", attempts, got, want)
		}
	}
}

func TestSchedulingQueue_BackoffReleasesOnlyAfterExpiry(t *testing.T) {
	q, clk := newTestQueue()
	q.Add(prioPod("p", 0))
	qpi, _ := q.Pop() // attempt 1
	q.AddBackoff(qpi)
	if a, b, _, _ := q.Lengths(); a != 0 || b != 1 {
		t.Fatalf("after error: active=%d backoff=%d, want 0/1", a, b)
	}
	clk.Step(999 * time.Millisecond)
	q.FlushBackoffCompleted()
	if a, _, _, _ := q.Lengths(); a != 0 {
		t.Fatal("released before 1s backoff expired")
	}
	clk.Step(time.Millisecond)
	q.FlushBackoffCompleted()
	qpi, _ = q.Pop() // attempt 2: backoff now 2s
	q.AddBackoff(qpi)
	clk.Step(1500 * time.Millisecond)
	q.FlushBackoffCompleted()
	if a, _, _, _ := q.Lengths(); a != 0 {
		t.Fatal("second backoff should be 2s")
	}
	clk.Step(500 * time.Millisecond)
	q.FlushBackoffCompleted()
	if a, _, _, _ := q.Lengths(); a != 1 {
		t.Fatal("pod not released after 2s")
	}
}

func TestSchedulingQueue_UnschedulableMovesOnEvent(t *testing.T) {
	q, clk := newTestQueue()
	q.Add(prioPod("p", 0))
	qpi, cycle := q.Pop()
	q.AddUnschedulable(qpi, cycle)
	if _, _, u, _ := q.Lengths(); u != 1 {
		t.Fatalf("unschedulable=%d, want 1", u)
	}
	clk.Step(2 * time.Second)       // past the 1s backoff
	q.MoveAllToActiveOrBackoff(nil) // e.g. a node was added
	if a, _, u, _ := q.Lengths(); a != 1 || u != 0 {
		t.Fatalf("after node add: active=%d unschedulable=%d, want 1/0", a, u)
	}
}

func TestSchedulingQueue_MoveDuringBackoffGoesToBackoff(t *testing.T) {
	q, _ := newTestQueue()
	q.Add(prioPod("p", 0))
	qpi, cycle := q.Pop()
	q.AddUnschedulable(qpi, cycle)
	q.MoveAllToActiveOrBackoff(nil) // no time passed: still backing off
	if a, b, _, _ := q.Lengths(); a != 0 || b != 1 {
		t.Fatalf("active=%d backoff=%d, want 0/1", a, b)
	}
}

func TestSchedulingQueue_EventDuringCycleIsNotLost(t *testing.T) {
	q, _ := newTestQueue()
	q.Add(prioPod("p", 0))
	qpi, cycle := q.Pop()
	q.MoveAllToActiveOrBackoff(nil) // arrives while p is being scheduled
	q.AddUnschedulable(qpi, cycle)
	if _, b, u, _ := q.Lengths(); b != 1 || u != 0 {
		t.Fatalf("backoff=%d unschedulable=%d: pod must not miss the event", b, u)
	}
}

func TestSchedulingQueue_LeftoverFlushAfterFiveMinutes(t *testing.T) {
	q, clk := newTestQueue()
	q.Add(prioPod("p", 0))
	qpi, cycle := q.Pop()
	q.AddUnschedulable(qpi, cycle)
	clk.Step(4 * time.Minute)
	q.FlushUnschedulableLeftover()
	if _, _, u, _ := q.Lengths(); u != 1 {
		t.Fatal("flushed too early")
	}
	clk.Step(time.Minute)
	q.FlushUnschedulableLeftover()
	if a, _, u, _ := q.Lengths(); a != 1 || u != 0 {
		t.Fatalf("active=%d unschedulable=%d after 5 min", a, u)
	}
}

func TestSchedulingQueue_GatedPodWaitsForGateRemoval(t *testing.T) {
	q, _ := newTestQueue()
	p := prioPod("p", 0)
	p.Spec.SchedulingGates = []v1.PodSchedulingGate{{Name: "example.com/wait"}}
	q.Add(p)
	if a, _, _, g := q.Lengths(); a != 0 || g != 1 {
		t.Fatalf("active=%d gated=%d", a, g)
	}
	open := p.DeepCopy()
	open.Spec.SchedulingGates = nil
	q.Update(open)
	if a, _, _, g := q.Lengths(); a != 1 || g != 0 {
		t.Fatalf("after gate removal active=%d gated=%d", a, g)
	}
}

func TestSchedulingQueue_DeleteRemovesEverywhere(t *testing.T) {
	q, _ := newTestQueue()
	q.Add(prioPod("a", 0))
	q.Add(prioPod("b", 0))
	qpi, cycle := q.Pop()
	q.AddUnschedulable(qpi, cycle)
	q.Delete(prioPod("a", 0))
	q.Delete(prioPod("b", 0))
	if a, b, u, g := q.Lengths(); a+b+u+g != 0 {
		t.Fatalf("left: %d %d %d %d", a, b, u, g)
	}
}

func TestSchedulingQueue_StatusOnlyUpdateDoesNotRequeue(t *testing.T) {
	q, _ := newTestQueue()
	p := prioPod("p", 0)
	q.Add(p)
	qpi, cycle := q.Pop()
	q.AddUnschedulable(qpi, cycle)
	st := p.DeepCopy()
	st.Status.Conditions = []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionFalse}}
	q.Update(st)
	if _, _, u, _ := q.Lengths(); u != 1 {
		t.Fatal("a status-only update requeued an unschedulable pod (would loop)")
	}
	lbl := p.DeepCopy()
	lbl.Labels = map[string]string{"x": "y"}
	q.Update(lbl)
	if _, _, u, _ := q.Lengths(); u != 0 {
		t.Fatal("a label change should give the pod another chance")
	}
}
