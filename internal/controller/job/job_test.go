package job

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
)

var bg = context.Background()

const ns = "default"

func newJob(name string, completions, parallelism, backoff int32) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchv1.JobSpec{
			Completions:    ptr.To(completions),
			Parallelism:    ptr.To(parallelism),
			BackoffLimit:   ptr.To(backoff),
			CompletionMode: ptr.To(batchv1.NonIndexedCompletion),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
}

type harness struct {
	cs    *fake.Clientset
	clock *testingclock.FakeClock
}

func start(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	h := &harness{cs: ctrltest.NewClientset(objs...), clock: testingclock.NewFakeClock(time.Now())}
	ctrltest.OptimisticLocking(h.cs, "jobs")
	f := informers.NewSharedInformerFactory(h.cs, 0)
	opts := Options{}
	opts.Clock = h.clock
	c := New(h.cs, f, opts)
	ctx, cancel := context.WithCancel(bg)
	t.Cleanup(f.Shutdown)
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	go c.Run(ctx, 2)
	// The work queue's retry delays run on the same fake clock; let it creep
	// forward (1ms per 5ms) so conflict retries fire without disturbing the
	// second-scale backoffs under test.
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				h.clock.Step(time.Millisecond)
			}
		}
	}()
	return h
}

func (h *harness) pods(t *testing.T) []corev1.Pod {
	l, err := h.cs.CoreV1().Pods(ns).List(bg, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	return l.Items
}

func (h *harness) running(t *testing.T) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range h.pods(t) {
		if !isTerminal(&p) {
			out = append(out, p)
		}
	}
	return out
}

func (h *harness) job(t *testing.T, name string) *batchv1.Job {
	j, err := h.cs.BatchV1().Jobs(ns).Get(bg, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (h *harness) finish(t *testing.T, p corev1.Pod, phase corev1.PodPhase) {
	t.Helper()
	p.Status.Phase = phase
	if _, err := h.cs.CoreV1().Pods(ns).UpdateStatus(bg, &p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestCompletesWithCompletions3Parallelism2(t *testing.T) {
	h := start(t, newJob("pi", 3, 2, 6))
	ctrltest.Eventually(t, 5*time.Second, "2 active pods", func() bool { return len(h.running(t)) == 2 })
	p := h.running(t)[0]
	if !hasFinalizer(&p) || p.Labels[batchv1.JobNameLabel] != "pi" || p.Labels["job-name"] != "pi" ||
		p.Labels[batchv1.ControllerUidLabel] == "" || p.GenerateName != "pi-" {
		t.Fatalf("pod metadata: labels %v finalizers %v", p.Labels, p.Finalizers)
	}
	ctrltest.Eventually(t, 5*time.Second, "startTime, active=2", func() bool {
		j := h.job(t, "pi")
		return j.Status.StartTime != nil && j.Status.Active == 2
	})
	created := 0
	for done := 1; done <= 3; done++ {
		run := h.running(t)
		if len(run) > 2 {
			t.Fatalf("%d active pods > parallelism 2", len(run))
		}
		h.finish(t, run[0], corev1.PodSucceeded)
		ctrltest.Eventually(t, 5*time.Second, fmt.Sprintf("succeeded=%d", done), func() bool {
			return h.job(t, "pi").Status.Succeeded == int32(done)
		})
		wantActive := min(2, 3-done)
		ctrltest.Eventually(t, 5*time.Second, "active pods refilled", func() bool { return len(h.running(t)) == wantActive })
	}
	ctrltest.Eventually(t, 5*time.Second, "Complete", func() bool {
		j := h.job(t, "pi")
		return condTrue(j.Status.Conditions, batchv1.JobComplete) && condTrue(j.Status.Conditions, batchv1.JobSuccessCriteriaMet) &&
			j.Status.CompletionTime != nil && j.Status.Active == 0
	})
	j := h.job(t, "pi")
	if c := condFor(j.Status.Conditions, batchv1.JobComplete); c.Reason != batchv1.JobReasonCompletionsReached {
		t.Fatalf("reason %q", c.Reason)
	}
	for _, p := range h.pods(t) {
		created++
		if hasFinalizer(&p) {
			t.Fatalf("pod %s still has the tracking finalizer", p.Name)
		}
	}
	if created != 3 || j.Status.Succeeded != 3 || j.Status.Failed != 0 {
		t.Fatalf("pods created %d, status %+v", created, j.Status)
	}
	if u := j.Status.UncountedTerminatedPods; u != nil && (len(u.Succeeded)+len(u.Failed)) > 0 {
		t.Fatalf("uncounted left: %+v", u)
	}
}

// Counted pods may be deleted (pod GC) without the count going back.
func TestCountsSurvivePodDeletion(t *testing.T) {
	h := start(t, newJob("w", 2, 1, 6))
	ctrltest.Eventually(t, 5*time.Second, "pod", func() bool { return len(h.running(t)) == 1 })
	h.finish(t, h.running(t)[0], corev1.PodSucceeded)
	ctrltest.Eventually(t, 5*time.Second, "counted and released", func() bool {
		for _, p := range h.pods(t) {
			if isTerminal(&p) && hasFinalizer(&p) {
				return false
			}
		}
		return h.job(t, "w").Status.Succeeded == 1 && len(h.running(t)) == 1
	})
	for _, p := range h.pods(t) {
		if isTerminal(&p) {
			_ = h.cs.CoreV1().Pods(ns).Delete(bg, p.Name, metav1.DeleteOptions{})
		}
	}
	time.Sleep(200 * time.Millisecond)
	if j := h.job(t, "w"); j.Status.Succeeded != 1 || len(h.running(t)) != 1 {
		t.Fatalf("after deleting the counted pod: succeeded %d, running %d", j.Status.Succeeded, len(h.running(t)))
	}
}

func TestFailsAfterBackoffLimitWithBackoffDelay(t *testing.T) {
	h := start(t, newJob("bad", 1, 1, 1))
	ctrltest.Eventually(t, 5*time.Second, "pod", func() bool { return len(h.running(t)) == 1 })
	h.finish(t, h.running(t)[0], corev1.PodFailed)
	ctrltest.Eventually(t, 5*time.Second, "failed=1", func() bool { return h.job(t, "bad").Status.Failed == 1 })
	time.Sleep(200 * time.Millisecond)
	if n := len(h.running(t)); n != 0 {
		t.Fatalf("recreated %d pods without waiting for the 10s backoff", n)
	}
	h.clock.Step(5 * time.Second)
	time.Sleep(100 * time.Millisecond)
	if n := len(h.running(t)); n != 0 {
		t.Fatalf("recreated after 5s, backoff is 10s")
	}
	h.clock.Step(6 * time.Second)
	ctrltest.Eventually(t, 5*time.Second, "recreated after backoff", func() bool { return len(h.running(t)) == 1 })
	h.finish(t, h.running(t)[0], corev1.PodFailed)
	ctrltest.Eventually(t, 5*time.Second, "Failed", func() bool {
		j := h.job(t, "bad")
		c := condFor(j.Status.Conditions, batchv1.JobFailed)
		return c != nil && c.Status == corev1.ConditionTrue && c.Reason == batchv1.JobReasonBackoffLimitExceeded &&
			condTrue(j.Status.Conditions, batchv1.JobFailureTarget) && j.Status.Failed == 2
	})
	if j := h.job(t, "bad"); condTrue(j.Status.Conditions, batchv1.JobComplete) || j.Status.CompletionTime != nil {
		t.Fatal("failed job must not be complete")
	}
	h.clock.Step(time.Hour)
	time.Sleep(100 * time.Millisecond)
	if n := len(h.running(t)); n != 0 {
		t.Fatalf("failed job created pods")
	}
}

func TestBackoffDelays(t *testing.T) {
	c := &Controller{opts: Options{BackoffBase: 10 * time.Second, BackoffMax: 6 * time.Minute}, backoff: map[string]backoffRecord{}}
	now := time.Now()
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 320 * time.Second, 6 * time.Minute, 6 * time.Minute}
	for i, w := range want {
		c.recordFailure("k", now)
		if got := c.backoffRemaining("k", now); got != w {
			t.Fatalf("after %d failures: %v, want %v", i+1, got, w)
		}
	}
	c.recordSuccess("k")
	if got := c.backoffRemaining("k", now); got != 0 {
		t.Fatalf("success must reset backoff, got %v", got)
	}
}

func TestActiveDeadline(t *testing.T) {
	j := newJob("slow", 1, 2, 6)
	j.Spec.ActiveDeadlineSeconds = ptr.To[int64](30)
	h := start(t, j)
	ctrltest.Eventually(t, 5*time.Second, "pods", func() bool { return len(h.running(t)) == 1 })
	h.clock.Step(31 * time.Second)
	ctrltest.Eventually(t, 5*time.Second, "DeadlineExceeded", func() bool {
		c := condFor(h.job(t, "slow").Status.Conditions, batchv1.JobFailed)
		return c != nil && c.Reason == batchv1.JobReasonDeadlineExceeded && len(h.pods(t)) == 0
	})
}

func TestIndexed(t *testing.T) {
	j := newJob("idx", 3, 3, 6)
	j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	h := start(t, j)
	ctrltest.Eventually(t, 5*time.Second, "3 pods", func() bool { return len(h.running(t)) == 3 })
	seen := map[string]bool{}
	for _, p := range h.running(t) {
		i := p.Annotations[batchv1.JobCompletionIndexAnnotation]
		seen[i] = true
		if p.Spec.Hostname != "idx-"+i || p.GenerateName != "idx-"+i+"-" {
			t.Fatalf("hostname %q generateName %q for index %s", p.Spec.Hostname, p.GenerateName, i)
		}
		env := p.Spec.Containers[0].Env
		if len(env) != 1 || env[0].Name != IndexEnv || env[0].ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
			t.Fatalf("env %+v", env)
		}
	}
	if !seen["0"] || !seen["1"] || !seen["2"] {
		t.Fatalf("indexes %v", seen)
	}
	for _, p := range h.running(t) {
		if p.Annotations[batchv1.JobCompletionIndexAnnotation] != "0" {
			h.finish(t, p, corev1.PodSucceeded)
		}
	}
	ctrltest.Eventually(t, 5*time.Second, "completedIndexes 1-2", func() bool {
		return h.job(t, "idx").Status.CompletedIndexes == "1,2" || h.job(t, "idx").Status.CompletedIndexes == "1-2"
	})
	if len(h.running(t)) != 1 {
		t.Fatal("completed indexes must not be rerun")
	}
	h.finish(t, h.running(t)[0], corev1.PodSucceeded)
	ctrltest.Eventually(t, 5*time.Second, "complete", func() bool {
		j := h.job(t, "idx")
		return condTrue(j.Status.Conditions, batchv1.JobComplete) && j.Status.CompletedIndexes == "0-2" && j.Status.Succeeded == 3
	})
}

func TestSuspendAndResume(t *testing.T) {
	j := newJob("s", 1, 2, 0)
	j.Spec.Suspend = ptr.To(true)
	h := start(t, j)
	ctrltest.Eventually(t, 5*time.Second, "Suspended", func() bool {
		return condTrue(h.job(t, "s").Status.Conditions, batchv1.JobSuspended)
	})
	if len(h.pods(t)) != 0 {
		t.Fatal("suspended job created pods")
	}
	for {
		cur := h.job(t, "s")
		cur.Spec.Suspend = ptr.To(false)
		_, err := h.cs.BatchV1().Jobs(ns).Update(bg, cur, metav1.UpdateOptions{})
		if err == nil {
			break
		}
		if !apierrors.IsConflict(err) {
			t.Fatal(err)
		}
	}
	ctrltest.Eventually(t, 5*time.Second, "resumed with a pod", func() bool {
		c := condFor(h.job(t, "s").Status.Conditions, batchv1.JobSuspended)
		return c != nil && c.Status == corev1.ConditionFalse && c.Reason == "JobResumed" && len(h.running(t)) == 1
	})
}

func TestIndexSetString(t *testing.T) {
	s := parseIndexes("0,2-4,7", 10)
	if len(s) != 5 || s.String() != "0,2-4,7" {
		t.Fatalf("got %v %q", s, s.String())
	}
}
