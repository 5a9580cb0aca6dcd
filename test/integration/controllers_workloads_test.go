package integration

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/controller/cronjob"
	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
	"github.com/skiff-sh/skiff/internal/controllermanager"
	"github.com/skiff-sh/skiff/internal/scheduler"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// podsOnNodes maps node → number of live pods with label app=name.
func podsOnNodes(ctx context.Context, s *testserver.Server, name string) (map[string]int, error) {
	l, err := s.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil {
			out[p.Spec.NodeName]++
		}
	}
	return out, nil
}

// TestDaemonSetFollowsNodes: one pod per node, following nodes coming and going.
func TestDaemonSetFollowsNodes(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	c, ctx := s.Client, context.Background()
	mustCreateNodes(t, c, node("n1", "10", nil), node("n2", "10", nil))
	startFakeKubelet(t, s, "n1", "n2", "n3")
	startScheduler(t, s, scheduler.Options{})
	startControllerManager(t, s, controllermanager.Options{})
	labels := map[string]string{"app": "agent"}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent"}, Spec: appsv1.DaemonSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: pauseTemplate("agent")}}
	if _, err := c.AppsV1().DaemonSets("default").Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := func(nodes ...string) func() (bool, error) {
		return func() (bool, error) {
			per, err := podsOnNodes(ctx, s, "agent")
			if err != nil || len(per) != len(nodes) {
				return false, err
			}
			for _, n := range nodes {
				if per[n] != 1 {
					return false, nil
				}
			}
			return true, nil
		}
	}
	eventually(t, 30*time.Second, "one agent pod on n1 and n2", want("n1", "n2"))
	mustCreateNodes(t, c, node("n3", "10", nil))
	eventually(t, 30*time.Second, "a pod on the new node n3", want("n1", "n2", "n3"))
	if err := c.CoreV1().Nodes().Delete(ctx, "n2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the pod of the deleted node n2 gone", want("n1", "n3"))
	eventually(t, 30*time.Second, "status counts 2 scheduled", func() (bool, error) {
		d, err := c.AppsV1().DaemonSets("default").Get(ctx, "agent", metav1.GetOptions{})
		return err == nil && d.Status.DesiredNumberScheduled == 2 && d.Status.NumberReady == 2, err
	})
}

// TestStatefulSetCreatesInOrder: pod-0 exists and is Ready before pod-1 is created.
func TestStatefulSetCreatesInOrder(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	c, ctx := s.Client, context.Background()
	mustCreateNodes(t, c, node("n1", "10", nil))
	startFakeKubelet(t, s, "n1")
	startScheduler(t, s, scheduler.Options{})
	w, err := c.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	startControllerManager(t, s, controllermanager.Options{})
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.StatefulSetSpec{
		Replicas: ptr(int32(3)), ServiceName: "web", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: pauseTemplate("web")}}
	if _, err := c.AppsV1().StatefulSets("default").Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Record, in watch order, each pod's creation and the moment it became Ready.
	var order []string
	ready := map[string]bool{}
	deadline := time.After(60 * time.Second)
	for len(ready) < 3 {
		select {
		case ev := <-w.ResultChan():
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			if ev.Type == watch.Added {
				for i := 0; i < ordinal(p.Name); i++ {
					if !ready[fmt.Sprintf("web-%d", i)] {
						t.Fatalf("%s created before web-%d was Ready (seen: %v)", p.Name, i, order)
					}
				}
				order = append(order, "created "+p.Name)
			}
			if podReady(p) && !ready[p.Name] {
				ready[p.Name] = true
				order = append(order, "ready "+p.Name)
			}
		case <-deadline:
			t.Fatalf("not all 3 pods Ready; seen: %v", order)
		}
	}
	if got := fmt.Sprint(order); got != "[created web-0 ready web-0 created web-1 ready web-1 created web-2 ready web-2]" {
		t.Fatalf("order %s", got)
	}
	p, err := c.CoreV1().Pods("default").Get(ctx, "web-1", metav1.GetOptions{})
	if err != nil || p.Spec.Hostname != "web-1" || p.Spec.Subdomain != "web" || p.Labels["statefulset.kubernetes.io/pod-name"] != "web-1" {
		t.Fatalf("stable identity of web-1: %+v %v", p, err)
	}
}

func ordinal(name string) int {
	var n int
	_, _ = fmt.Sscanf(name[len("web-"):], "%d", &n)
	return n
}

// TestJobReachesComplete: completions 3, parallelism 2; pods succeed as the fake
// kubelet runs them, and the Job ends Complete with 3 succeeded.
func TestJobReachesComplete(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	c, ctx := s.Client, context.Background()
	mustCreateNodes(t, c, node("n1", "10", nil))
	startFakeKubelet(t, s, "n1")
	startScheduler(t, s, scheduler.Options{})
	startControllerManager(t, s, controllermanager.Options{})
	tmpl := pauseTemplate("batch")
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "batch"}, Spec: batchv1.JobSpec{
		Completions: ptr(int32(3)), Parallelism: ptr(int32(2)), Template: tmpl}}
	if _, err := c.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	maxActive := 0
	eventually(t, 60*time.Second, "job Complete", func() (bool, error) {
		// Finish whatever runs, as a container exiting 0 would.
		l, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=batch"})
		if err != nil {
			return false, err
		}
		active := 0
		for i := range l.Items {
			p := &l.Items[i]
			if p.Status.Phase == corev1.PodRunning {
				active++
				p.Status.Phase = corev1.PodSucceeded
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{
					Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}}}
				_, _ = c.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{})
			}
		}
		maxActive = max(maxActive, active)
		j, err := c.BatchV1().Jobs("default").Get(ctx, "batch", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range j.Status.Conditions {
			if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
				return j.Status.Succeeded == 3, nil
			}
		}
		return false, nil
	})
	if maxActive > 2 {
		t.Fatalf("%d pods ran at once, parallelism is 2", maxActive)
	}
}

// TestCronJobFiresOnSchedule runs the CronJob controller against the real API server
// with a fake clock: nothing before the minute, one Job named for the minute after it.
func TestCronJobFiresOnSchedule(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	c, ctx := fastClient(t, s), context.Background()
	// The fake clock starts at the real time: the CronJob's creationTimestamp (set by
	// the server's clock) is where schedules are counted from.
	start := time.Now()
	clk := clocktesting.NewFakeClock(start)
	factory := informers.NewSharedInformerFactory(c, 0)
	ctrl := cronjob.New(c, factory, cronjob.Options{Common: ctrlutil.Common{Clock: clk}})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	factory.Start(runCtx.Done())
	go ctrl.Run(runCtx, 1)
	tmpl := pauseTemplate("tick")
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "tick"}, Spec: batchv1.CronJobSpec{
		Schedule: "* * * * *", ConcurrencyPolicy: batchv1.ForbidConcurrent,
		JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}}
	if _, err := c.BatchV1().CronJobs("default").Create(ctx, cj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if l, _ := c.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
		t.Fatalf("a Job before the schedule fired: %v", l.Items[0].Name)
	}
	next := start.Truncate(time.Minute).Add(time.Minute)
	clk.Step(next.Sub(start) + time.Second) // one second past the next minute
	// The controller's requeue for the next minute waits on real time; touching the
	// CronJob makes it look again now (it is level-triggered, any event will do).
	poke := []byte(`{"metadata":{"annotations":{"poke":"1"}}}`)
	if _, err := c.BatchV1().CronJobs("default").Patch(ctx, "tick", types.MergePatchType, poke, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	wantName := fmt.Sprintf("tick-%d", next.Unix()/60)
	eventually(t, 30*time.Second, "job "+wantName, func() (bool, error) {
		l, err := c.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		var names []string
		for _, j := range l.Items {
			names = append(names, j.Name)
		}
		sort.Strings(names)
		if len(names) > 1 {
			return false, fmt.Errorf("more than one job: %v", names)
		}
		return len(names) == 1 && names[0] == wantName, nil
	})
	eventually(t, 30*time.Second, "lastScheduleTime set", func() (bool, error) {
		got, err := c.BatchV1().CronJobs("default").Get(ctx, "tick", metav1.GetOptions{})
		return err == nil && got.Status.LastScheduleTime != nil && len(got.Status.Active) == 1, err
	})
}
