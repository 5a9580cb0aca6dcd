package ttlafterfinished

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
)

func TestDeletesAfterTTL(t *testing.T) {
	now := time.Now()
	clk := testingclock.NewFakeClock(now)
	done := metav1.NewTime(now.Add(-5 * time.Second))
	finished := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "done", Namespace: "default"},
		Spec:       batchv1.JobSpec{TTLSecondsAfterFinished: ptr.To[int32](60)},
		Status: batchv1.JobStatus{CompletionTime: &done, Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: done}}},
	}
	running := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "running", Namespace: "default"},
		Spec:       batchv1.JobSpec{TTLSecondsAfterFinished: ptr.To[int32](0)},
	}
	cs := ctrltest.NewClientset(finished, running)
	f := informers.NewSharedInformerFactory(cs, 0)
	opts := Options{}
	opts.Clock = clk
	c := New(cs, f, opts)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(f.Shutdown)
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	go c.Run(ctx, 1)

	exists := func(name string) bool {
		_, err := cs.BatchV1().Jobs("default").Get(ctx, name, metav1.GetOptions{})
		return !apierrors.IsNotFound(err)
	}
	time.Sleep(200 * time.Millisecond)
	if !exists("done") {
		t.Fatal("deleted before its TTL")
	}
	clk.Step(56 * time.Second)
	ctrltest.Eventually(t, 5*time.Second, "deleted after TTL", func() bool { return !exists("done") })
	if !exists("running") {
		t.Fatal("unfinished job deleted")
	}
}
