package cronjob

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
)

const ns = "default"

// t0 is half a minute past a minute boundary, so the clock's slow creep in
// start() never crosses a schedule time by itself.
var t0 = time.Date(2026, 1, 1, 10, 0, 30, 0, time.UTC)

func newCJ(name, schedule string, policy batchv1.ConcurrencyPolicy) *batchv1.CronJob {
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, CreationTimestamp: metav1.NewTime(t0.Add(-30 * time.Second))},
		Spec: batchv1.CronJobSpec{
			Schedule:          schedule,
			ConcurrencyPolicy: policy,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"team": "a"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}},
			},
		},
	}
}

type harness struct {
	cs     *fake.Clientset
	clock  *testingclock.FakeClock
	events *record.FakeRecorder
}

func start(t *testing.T, cj *batchv1.CronJob) *harness {
	t.Helper()
	h := &harness{cs: ctrltest.NewClientset(cj), clock: testingclock.NewFakeClock(t0), events: record.NewFakeRecorder(100)}
	ctrltest.OptimisticLocking(h.cs, "cronjobs")
	f := informers.NewSharedInformerFactory(h.cs, 0)
	opts := Options{}
	opts.Clock = h.clock
	opts.Recorder = h.events
	c := New(h.cs, f, opts)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(f.Shutdown)
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	go c.Run(ctx, 1)
	go func() { // let queue retry delays (same clock) elapse
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

func (h *harness) jobs(t *testing.T) []batchv1.Job {
	l, err := h.cs.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name })
	return l.Items
}

func (h *harness) status(t *testing.T, name string) batchv1.CronJobStatus {
	cj, err := h.cs.BatchV1().CronJobs(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cj.Status
}

func (h *harness) complete(t *testing.T, j batchv1.Job) {
	now := metav1.NewTime(h.clock.Now())
	j.Status.CompletionTime = &now
	j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	if _, err := h.cs.BatchV1().Jobs(ns).UpdateStatus(context.Background(), &j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) sawEvent(reason string) bool {
	for {
		select {
		case e := <-h.events.Events:
			if strings.Contains(e, reason) {
				return true
			}
		default:
			return false
		}
	}
}

func TestFiresOnScheduleAndForbidsOverlap(t *testing.T) {
	h := start(t, newCJ("tick", "* * * * *", batchv1.ForbidConcurrent))
	time.Sleep(200 * time.Millisecond)
	if n := len(h.jobs(t)); n != 0 {
		t.Fatalf("%d jobs before the first schedule time", n)
	}
	h.clock.Step(time.Minute) // 10:01:30
	ctrltest.Eventually(t, 5*time.Second, "first run", func() bool { return len(h.jobs(t)) == 1 })
	j := h.jobs(t)[0]
	sched := time.Date(2026, 1, 1, 10, 1, 0, 0, time.UTC)
	if want := fmt.Sprintf("tick-%d", sched.Unix()/60); j.Name != want {
		t.Fatalf("job name %q, want %q", j.Name, want)
	}
	if j.Annotations[batchv1.CronJobScheduledTimestampAnnotation] != "2026-01-01T10:01:00Z" || j.Labels["team"] != "a" {
		t.Fatalf("annotations %v labels %v", j.Annotations, j.Labels)
	}
	if ref := metav1.GetControllerOf(&j); ref == nil || ref.Kind != "CronJob" || ref.Name != "tick" {
		t.Fatalf("owner %+v", ref)
	}
	ctrltest.Eventually(t, 5*time.Second, "status", func() bool {
		s := h.status(t, "tick")
		return len(s.Active) == 1 && s.Active[0].Name == j.Name && s.LastScheduleTime != nil && s.LastScheduleTime.Time.Equal(sched)
	})

	h.clock.Step(time.Minute) // 10:02:30, first run still active
	ctrltest.Eventually(t, 5*time.Second, "JobAlreadyActive", func() bool { return h.sawEvent("JobAlreadyActive") })
	if n := len(h.jobs(t)); n != 1 {
		t.Fatalf("Forbid started a second job (%d jobs)", n)
	}

	// Once the first run finishes, the skipped 10:02 run (still the most
	// recent schedule time, and no startingDeadlineSeconds) starts.
	h.complete(t, j)
	ctrltest.Eventually(t, 5*time.Second, "10:02 run after completion", func() bool {
		s := h.status(t, "tick")
		sched2 := sched.Add(time.Minute)
		return len(h.jobs(t)) == 2 && len(s.Active) == 1 && s.Active[0].Name == fmt.Sprintf("tick-%d", sched2.Unix()/60) &&
			s.LastSuccessfulTime != nil && s.LastScheduleTime.Time.Equal(sched2)
	})
}

func TestAllowAndReplace(t *testing.T) {
	h := start(t, newCJ("allow", "@every 1m", batchv1.AllowConcurrent))
	h.clock.Step(time.Minute)
	ctrltest.Eventually(t, 5*time.Second, "run 1", func() bool { return len(h.jobs(t)) == 1 })
	h.clock.Step(time.Minute)
	ctrltest.Eventually(t, 5*time.Second, "run 2 overlaps", func() bool { return len(h.jobs(t)) == 2 })

	r := start(t, newCJ("repl", "* * * * *", batchv1.ReplaceConcurrent))
	r.clock.Step(time.Minute)
	ctrltest.Eventually(t, 5*time.Second, "run 1", func() bool { return len(r.jobs(t)) == 1 })
	first := r.jobs(t)[0].Name
	r.clock.Step(time.Minute)
	ctrltest.Eventually(t, 5*time.Second, "replaced", func() bool {
		js := r.jobs(t)
		return len(js) == 1 && js[0].Name != first
	})
}

func TestStartingDeadlineAndSuspend(t *testing.T) {
	cj := newCJ("late", "0 * * * *", batchv1.AllowConcurrent)
	cj.Spec.StartingDeadlineSeconds = ptr.To[int64](60)
	h := start(t, cj)
	h.clock.Step(70 * time.Minute) // 11:10:30: the 11:00 run is 10 min late
	time.Sleep(200 * time.Millisecond)
	if n := len(h.jobs(t)); n != 0 {
		t.Fatalf("started a run past startingDeadlineSeconds")
	}

	s := newCJ("sus", "* * * * *", batchv1.AllowConcurrent)
	s.Spec.Suspend = ptr.To(true)
	h2 := start(t, s)
	h2.clock.Step(time.Minute)
	time.Sleep(200 * time.Millisecond)
	if n := len(h2.jobs(t)); n != 0 {
		t.Fatalf("suspended cronjob ran")
	}
}

func TestHistoryLimits(t *testing.T) {
	cj := newCJ("hist", "* * * * *", batchv1.AllowConcurrent)
	cj.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](1)
	h := start(t, cj)
	for i := 1; i <= 3; i++ {
		h.clock.Step(time.Minute)
		ctrltest.Eventually(t, 5*time.Second, "run", func() bool {
			for _, j := range h.jobs(t) {
				if finishedAs(&j) == "" {
					return true
				}
			}
			return false
		})
		for _, j := range h.jobs(t) {
			if finishedAs(&j) == "" {
				h.complete(t, j)
			}
		}
	}
	ctrltest.Eventually(t, 5*time.Second, "only 1 successful job kept", func() bool { return len(h.jobs(t)) == 1 })
}

func TestMostRecent(t *testing.T) {
	sched, _ := cron.ParseStandard("*/5 * * * *")
	earliest := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 1, 1, 10, 7, 0, 0, time.UTC)
	got, missed := mostRecent(sched, earliest, now)
	if got == nil || !got.Equal(time.Date(2026, 1, 1, 10, 5, 0, 0, time.UTC)) || missed <= tooManyMissed {
		t.Fatalf("got %v missed %d", got, missed)
	}
	if got, _ := mostRecent(sched, now, now.Add(time.Minute)); got != nil {
		t.Fatalf("no time due, got %v", got)
	}
	tz := newCJ("tz", "0 9 * * *", batchv1.AllowConcurrent)
	tz.Spec.TimeZone = ptr.To("Asia/Tokyo")
	s, err := parseSchedule(tz)
	if err != nil {
		t.Fatal(err)
	}
	if next := s.Next(time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC)); !next.Equal(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("09:00 Tokyo = 00:00 UTC, got %v", next.UTC())
	}
	tz.Spec.TimeZone = ptr.To("Mars/Olympus")
	if _, err := parseSchedule(tz); err == nil {
		t.Fatal("unknown zone accepted")
	}
}
