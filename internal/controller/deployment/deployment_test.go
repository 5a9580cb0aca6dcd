package deployment

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/ctrltest"
)

type harness struct {
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	c      *Controller
	rec    *record.FakeRecorder
	clock  *testingclock.FakeClock
}

func newHarness(t *testing.T, objs ...*appsv1.Deployment) *harness {
	h := &harness{t: t, client: ctrltest.NewClientset(), rec: record.NewFakeRecorder(1000),
		clock: testingclock.NewFakeClock(time.Now())}
	for _, d := range objs {
		if _, err := h.client.AppsV1().Deployments(d.Namespace).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	f := informers.NewSharedInformerFactory(h.client, 0)
	opts := Options{}
	opts.Recorder, opts.Clock = h.rec, h.clock
	h.c = New(h.client, f, opts)
	ctx, cancel := context.WithCancel(context.Background())
	h.ctx = ctx
	t.Cleanup(f.Shutdown)
	t.Cleanup(cancel)
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	return h
}

// settle waits until the listers hold exactly what the API holds.
func (h *harness) settle() {
	h.t.Helper()
	ctrltest.Eventually(h.t, 5*time.Second, "informers caught up", func() bool {
		live, _ := h.client.AppsV1().ReplicaSets("default").List(h.ctx, metav1.ListOptions{})
		cached, _ := h.c.rsLister.List(labels.Everything())
		if len(live.Items) != len(cached) {
			return false
		}
		for _, rs := range live.Items {
			got, err := h.c.rsLister.ReplicaSets("default").Get(rs.Name)
			if err != nil || got.ResourceVersion != rs.ResourceVersion {
				return false
			}
		}
		dl, _ := h.client.AppsV1().Deployments("default").List(h.ctx, metav1.ListOptions{})
		for _, d := range dl.Items {
			got, err := h.c.dLister.Deployments("default").Get(d.Name)
			if err != nil || got.ResourceVersion != d.ResourceVersion {
				return false
			}
		}
		return true
	})
}

func (h *harness) sync(name string) {
	h.t.Helper()
	h.settle()
	if err := h.c.sync(h.ctx, "default/"+name); err != nil {
		h.t.Fatalf("sync: %v", err)
	}
	h.settle()
}

func (h *harness) rsList() []appsv1.ReplicaSet {
	l, err := h.client.AppsV1().ReplicaSets("default").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return l.Items
}

// makeReady plays the ReplicaSet controller and kubelet: every RS gets
// exactly spec.replicas ready and available pods.
func (h *harness) makeReady() {
	for _, rs := range h.rsList() {
		n := *rs.Spec.Replicas
		if rs.Status.Replicas == n && rs.Status.AvailableReplicas == n && rs.Status.ObservedGeneration == rs.Generation {
			continue
		}
		rs.Status = appsv1.ReplicaSetStatus{Replicas: n, ReadyReplicas: n, AvailableReplicas: n,
			FullyLabeledReplicas: n, ObservedGeneration: rs.Generation}
		if _, err := h.client.AppsV1().ReplicaSets("default").UpdateStatus(h.ctx, &rs, metav1.UpdateOptions{}); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) get(name string) *appsv1.Deployment {
	d, err := h.client.AppsV1().Deployments("default").Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

func (h *harness) setImage(name, image string) {
	d := h.get(name)
	d.Spec.Template.Spec.Containers[0].Image = image
	d.Generation++
	if _, err := h.client.AppsV1().Deployments("default").Update(h.ctx, d, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func newDeployment(name string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "v1"}}},
			},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(1))}},
			RevisionHistoryLimit:    ptr.To[int32](10),
			ProgressDeadlineSeconds: ptr.To[int32](600),
		},
	}
}

func cond(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	return getCondition(&d.Status, t)
}

// rollOut syncs and makes pods ready until the deployment is complete,
// checking the surge and availability bounds after every step.
func (h *harness) rollOut(name string, maxTotal, minAvail int32) int {
	h.t.Helper()
	for step := 1; step < 30; step++ {
		h.sync(name)
		var total, avail int32
		for _, rs := range h.rsList() {
			total += *rs.Spec.Replicas
			avail += min(rs.Status.AvailableReplicas, *rs.Spec.Replicas)
		}
		if total > maxTotal {
			h.t.Fatalf("step %d: %d replicas requested, surge bound is %d", step, total, maxTotal)
		}
		if avail < minAvail {
			h.t.Fatalf("step %d: only %d available, must keep %d", step, avail, minAvail)
		}
		d := h.get(name)
		if c := cond(d, appsv1.DeploymentProgressing); c != nil && c.Reason == NewRSAvailableReason &&
			d.Status.UpdatedReplicas == *d.Spec.Replicas && d.Status.Replicas == *d.Spec.Replicas &&
			d.Status.ObservedGeneration == d.Generation {
			return step
		}
		h.makeReady()
	}
	h.t.Fatal("rollout did not complete in 30 steps")
	return 0
}

func TestRollingUpdate(t *testing.T) {
	h := newHarness(t, newDeployment("web", 4))
	h.rollOut("web", 5, 0)
	rss := h.rsList()
	if len(rss) != 1 {
		t.Fatalf("%d replica sets, want 1", len(rss))
	}
	first := rss[0]
	hash := first.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	if hash == "" || first.Name != "web-"+hash || first.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
		first.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
		t.Fatalf("pod-template-hash not applied consistently: %s %v %v", first.Name, first.Labels, first.Spec.Selector)
	}
	if first.Annotations[RevisionAnnotation] != "1" || *first.Spec.Replicas != 4 {
		t.Fatalf("first RS: revision %q replicas %d", first.Annotations[RevisionAnnotation], *first.Spec.Replicas)
	}
	if ref := metav1.GetControllerOf(&first); ref == nil || ref.Kind != "Deployment" || ref.Name != "web" {
		t.Fatalf("bad owner %+v", ref)
	}
	d := h.get("web")
	if c := cond(d, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionTrue || c.Reason != MinimumAvailableReason {
		t.Fatalf("Available condition = %+v", c)
	}
	if d.Annotations[RevisionAnnotation] != "1" || d.Status.AvailableReplicas != 4 || d.Status.ObservedGeneration != 1 {
		t.Fatalf("deployment after first rollout: %v %+v", d.Annotations, d.Status)
	}

	// New template: roll with maxSurge=1, maxUnavailable=1 (total <= 5, available >= 3).
	h.setImage("web", "v2")
	steps := h.rollOut("web", 5, 3)
	if steps < 3 {
		t.Fatalf("rollout finished in %d steps; bounds should force several", steps)
	}
	var newRS, oldRS *appsv1.ReplicaSet
	for _, rs := range h.rsList() {
		if rs.Name == first.Name {
			oldRS = &rs
		} else {
			newRS = &rs
		}
	}
	if newRS == nil || *newRS.Spec.Replicas != 4 || *oldRS.Spec.Replicas != 0 {
		t.Fatalf("after rollout: new %v old %v", newRS, oldRS)
	}
	if newRS.Annotations[RevisionAnnotation] != "2" || h.get("web").Annotations[RevisionAnnotation] != "2" {
		t.Fatalf("revision did not move to 2")
	}
	sawEvent := false
	for len(h.rec.Events) > 0 {
		e := <-h.rec.Events
		if strings.Contains(e, "ScalingReplicaSet Scaled up replica set "+newRS.Name+" from 0 to 1") {
			sawEvent = true
		}
	}
	if !sawEvent {
		t.Fatal("no 'Scaled up replica set ... from 0 to 1' event")
	}

	// Rollback (what `kubectl rollout undo` does): the old template returns,
	// the old RS is reused and takes revision 3.
	h.setImage("web", "v1")
	h.rollOut("web", 5, 3)
	if n := len(h.rsList()); n != 2 {
		t.Fatalf("%d replica sets after rollback, want 2 (reuse)", n)
	}
	back, _ := h.client.AppsV1().ReplicaSets("default").Get(h.ctx, first.Name, metav1.GetOptions{})
	if back.Annotations[RevisionAnnotation] != "3" || back.Annotations[RevisionHistoryAnnotation] != "1" || *back.Spec.Replicas != 4 {
		t.Fatalf("rolled-back RS annotations %v replicas %d", back.Annotations, *back.Spec.Replicas)
	}
	if h.get("web").Annotations[RevisionAnnotation] != "3" {
		t.Fatal("deployment revision not 3 after rollback")
	}
}

func TestPercentagesRounding(t *testing.T) {
	d := newDeployment("x", 10)
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{
		MaxSurge: ptr.To(intstr.FromString("25%")), MaxUnavailable: ptr.To(intstr.FromString("25%"))}
	if s, u := fenceposts(d); s != 3 || u != 2 {
		t.Fatalf("25%%/25%% of 10 = %d/%d, want 3 (up) / 2 (down)", s, u)
	}
	d.Spec.Replicas = ptr.To[int32](1)
	d.Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(0))
	if s, u := fenceposts(d); s != 0 || u != 1 {
		t.Fatalf("0 surge and 25%% of 1 = %d/%d, want 0/1", s, u)
	}
}

func TestRecreate(t *testing.T) {
	d := newDeployment("rc", 3)
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	h := newHarness(t, d)
	h.rollOut("rc", 3, 0)
	h.setImage("rc", "v2")
	h.sync("rc")
	rss := h.rsList()
	if len(rss) != 1 || *rss[0].Spec.Replicas != 0 {
		t.Fatalf("Recreate must first scale the old RS to 0 without a new one: %d RS", len(rss))
	}
	h.sync("rc") // old RS status still reports 3 pods: wait
	if len(h.rsList()) != 1 {
		t.Fatal("new RS created while old pods still run")
	}
	h.makeReady() // old pods gone
	h.rollOut("rc", 3, 0)
	if len(h.rsList()) != 2 {
		t.Fatal("expected the new RS")
	}
}

func TestScaleIsProportionalMidRollout(t *testing.T) {
	h := newHarness(t, newDeployment("p", 10))
	h.rollOut("p", 11, 0)
	h.setImage("p", "v2")
	h.sync("p") // new RS at 1 (surge); old at 10
	h.makeReady()
	d := h.get("p")
	d.Spec.Replicas = ptr.To[int32](20)
	d.Generation++
	if _, err := h.client.AppsV1().Deployments("default").Update(h.ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.sync("p")
	var total int32
	for _, rs := range h.rsList() {
		total += *rs.Spec.Replicas
		if *rs.Spec.Replicas == 0 {
			t.Fatalf("RS %s scaled to 0 by a scaling event", rs.Name)
		}
	}
	if total != 21 { // 20 + maxSurge 1
		t.Fatalf("total after scale = %d, want 21", total)
	}
}

func TestProgressDeadlineExceeded(t *testing.T) {
	d := newDeployment("slow", 2)
	d.Spec.ProgressDeadlineSeconds = ptr.To[int32](60)
	h := newHarness(t, d)
	h.sync("slow") // RS created, pods never become ready
	h.clock.Step(2 * time.Minute)
	h.sync("slow")
	c := cond(h.get("slow"), appsv1.DeploymentProgressing)
	if c == nil || c.Reason != TimedOutReason || c.Status != corev1.ConditionFalse {
		t.Fatalf("Progressing = %+v, want False/ProgressDeadlineExceeded", c)
	}
}

func TestRevisionHistoryLimit(t *testing.T) {
	d := newDeployment("h", 1)
	d.Spec.RevisionHistoryLimit = ptr.To[int32](1)
	h := newHarness(t, d)
	h.rollOut("h", 2, 0)
	for _, img := range []string{"v2", "v3", "v4"} {
		h.setImage("h", img)
		h.rollOut("h", 2, 0)
	}
	h.sync("h")
	if n := len(h.rsList()); n != 2 {
		t.Fatalf("%d replica sets, want 2 (current + 1 history)", n)
	}
}

// TestAvailabilityOfJustScaledDownRS: an old ReplicaSet scaled from 10 to 8 whose
// status still says 10 available counts as 8, so the next sync cannot spend the same
// two unavailable slots again.
func TestAvailabilityOfJustScaledDownRS(t *testing.T) {
	eight, two := int32(8), int32(2)
	old := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: &eight}, Status: appsv1.ReplicaSetStatus{AvailableReplicas: 10}}
	newRS := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: &two}, Status: appsv1.ReplicaSetStatus{AvailableReplicas: 0}}
	if got := availableAtMost([]*appsv1.ReplicaSet{old, newRS}); got != 8 {
		t.Fatalf("availableAtMost = %d, want 8", got)
	}
}
