package cronjob

import (
	"context"
	"errors"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cj, err := c.cjLister.CronJobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	jobs, err := c.ownedJobs(cj)
	if err != nil {
		return err
	}
	st := cj.Status.DeepCopy()
	c.reconcileActive(cj, st, jobs)

	var runErr error
	if cj.DeletionTimestamp == nil {
		if err := c.cleanupHistory(ctx, cj, jobs); err != nil {
			runErr = err
		}
		if cj.Spec.Suspend == nil || !*cj.Spec.Suspend {
			if err := c.maybeRun(ctx, key, cj, st); err != nil {
				runErr = err
			}
		}
	}
	if !equality.Semantic.DeepEqual(&cj.Status, st) {
		cp := cj.DeepCopy()
		cp.Status = *st
		if _, err := c.client.BatchV1().CronJobs(ns).UpdateStatus(ctx, cp, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	return runErr
}

func (c *Controller) ownedJobs(cj *batchv1.CronJob) ([]*batchv1.Job, error) {
	all, err := c.jobs.Jobs(cj.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []*batchv1.Job
	for _, j := range all {
		if ref := metav1.GetControllerOf(j); ref != nil && ref.UID == cj.UID {
			out = append(out, j)
		}
	}
	return out, nil
}

// finishedAs returns Complete or Failed for a finished job, else "".
func finishedAs(j *batchv1.Job) batchv1.JobConditionType {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type
		}
	}
	return ""
}

// reconcileActive makes status.active list exactly the unfinished owned jobs
// and advances lastSuccessfulTime.
func (c *Controller) reconcileActive(cj *batchv1.CronJob, st *batchv1.CronJobStatus, jobs []*batchv1.Job) {
	byUID := map[string]*batchv1.Job{}
	for _, j := range jobs {
		byUID[string(j.UID)] = j
	}
	var active []corev1.ObjectReference
	inActive := map[string]bool{}
	for _, ref := range st.Active {
		j, ok := byUID[string(ref.UID)]
		switch {
		case !ok:
			c.opts.Recorder.Eventf(cj, corev1.EventTypeNormal, "MissingJob", "Active job went missing: %v", ref.Name)
		case finishedAs(j) != "":
			c.opts.Recorder.Eventf(cj, corev1.EventTypeNormal, "SawCompletedJob",
				"Saw completed job: %s, condition: %v", j.Name, finishedAs(j))
		default:
			active = append(active, ref)
			inActive[string(ref.UID)] = true
		}
	}
	for _, j := range jobs {
		if finishedAs(j) == "" && !inActive[string(j.UID)] {
			active = append(active, jobRef(j))
		}
		if finishedAs(j) == batchv1.JobComplete && j.Status.CompletionTime != nil &&
			(st.LastSuccessfulTime == nil || st.LastSuccessfulTime.Before(j.Status.CompletionTime)) {
			t := *j.Status.CompletionTime
			st.LastSuccessfulTime = &t
		}
	}
	sort.SliceStable(active, func(i, k int) bool { return active[i].Name < active[k].Name })
	st.Active = active
}

func jobRef(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "Job", APIVersion: "batch/v1", Namespace: j.Namespace,
		Name: j.Name, UID: j.UID, ResourceVersion: j.ResourceVersion}
}

// maybeRun starts the run due now, if any, and requeues for the next one.
func (c *Controller) maybeRun(ctx context.Context, key string, cj *batchv1.CronJob, st *batchv1.CronJobStatus) error {
	sched, err := parseSchedule(cj)
	if err != nil {
		var tz *timeZoneError
		if errors.As(err, &tz) {
			c.opts.Recorder.Eventf(cj, corev1.EventTypeWarning, "UnknownTimeZone", "invalid timeZone: %q: %s", tz.zone, tz.err)
		} else {
			c.opts.Recorder.Eventf(cj, corev1.EventTypeWarning, "UnparseableSchedule", "unparseable schedule: %q : %s", cj.Spec.Schedule, err)
		}
		return nil // retrying cannot help until the spec changes
	}
	now := c.opts.Clock.Now()
	defer func() {
		if next := sched.Next(now); !next.IsZero() {
			c.loop.Queue.AddAfter(key, next.Sub(now)+100*time.Millisecond)
		}
	}()
	earliest := cj.CreationTimestamp.Time
	if st.LastScheduleTime != nil {
		earliest = st.LastScheduleTime.Time
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil {
		if limit := now.Add(-time.Duration(*d) * time.Second); limit.After(earliest) {
			earliest = limit
		}
	}
	scheduled, missed := mostRecent(sched, earliest, now)
	if scheduled == nil {
		return nil
	}
	if missed > tooManyMissed {
		c.opts.Recorder.Eventf(cj, corev1.EventTypeWarning, "TooManyMissedTimes",
			"too many missed start times: %d. Set or decrease .spec.startingDeadlineSeconds or check clock skew", missed)
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && scheduled.Add(time.Duration(*d)*time.Second).Before(now) {
		c.opts.Recorder.Eventf(cj, corev1.EventTypeWarning, "MissSchedule", "Missed scheduled time to start a job: %s",
			scheduled.UTC().Format(time.RFC1123Z))
		return nil
	}
	name := jobName(cj, *scheduled)
	for _, ref := range st.Active {
		if ref.Name == name {
			// Already started (an earlier status write may have been lost).
			if st.LastScheduleTime == nil || st.LastScheduleTime.Time.Before(*scheduled) {
				t := metav1.NewTime(*scheduled)
				st.LastScheduleTime = &t
			}
			return nil
		}
	}
	if st.LastScheduleTime != nil && !st.LastScheduleTime.Time.Before(*scheduled) {
		return nil
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(st.Active) > 0 {
			c.opts.Recorder.Eventf(cj, corev1.EventTypeNormal, "JobAlreadyActive",
				"Not starting job because prior execution is running and concurrency policy is Forbid")
			return nil
		}
	case batchv1.ReplaceConcurrent:
		for _, ref := range st.Active {
			if err := c.deleteJob(ctx, cj, ref.Name); err != nil {
				return err
			}
		}
		st.Active = nil
	}
	return c.createJob(ctx, cj, st, *scheduled)
}

func (c *Controller) createJob(ctx context.Context, cj *batchv1.CronJob, st *batchv1.CronJobStatus, scheduled time.Time) error {
	job := newJob(cj, scheduled)
	created, err := c.client.BatchV1().Jobs(cj.Namespace).Create(ctx, job, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// Created by an earlier sync whose status write was lost.
		existing, gerr := c.client.BatchV1().Jobs(cj.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if ref := metav1.GetControllerOf(existing); ref == nil || ref.UID != cj.UID {
			return nil
		}
		created, err = existing, nil
	}
	if err != nil {
		c.opts.Recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
		return err
	}
	c.opts.Recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %v", created.Name)
	if finishedAs(created) == "" {
		st.Active = append(st.Active, jobRef(created))
	}
	t := metav1.NewTime(scheduled)
	st.LastScheduleTime = &t
	return nil
}

// newJob builds the run scheduled at t from the jobTemplate.
func newJob(cj *batchv1.CronJob, t time.Time) *batchv1.Job {
	tmpl := cj.Spec.JobTemplate.DeepCopy()
	loc := time.UTC
	if cj.Spec.TimeZone != nil {
		if l, err := time.LoadLocation(*cj.Spec.TimeZone); err == nil {
			loc = l
		}
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            jobName(cj, t),
			Namespace:       cj.Namespace,
			Labels:          map[string]string{},
			Annotations:     map[string]string{batchv1.CronJobScheduledTimestampAnnotation: t.In(loc).Format(time.RFC3339)},
			OwnerReferences: []metav1.OwnerReference{*ctrlutil.NewControllerRef(cj, controllerKind.GroupVersion().String(), controllerKind.Kind)},
		},
		Spec: tmpl.Spec,
	}
	for k, v := range tmpl.Labels {
		job.Labels[k] = v
	}
	for k, v := range tmpl.Annotations {
		job.Annotations[k] = v
	}
	return job
}

func (c *Controller) deleteJob(ctx context.Context, cj *batchv1.CronJob, name string) error {
	bgProp := metav1.DeletePropagationBackground
	err := c.client.BatchV1().Jobs(cj.Namespace).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bgProp})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		c.opts.Recorder.Eventf(cj, corev1.EventTypeWarning, "FailedDelete", "Deleted job: %v", err)
		return err
	}
	c.opts.Recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %v", name)
	return nil
}

// cleanupHistory deletes the oldest finished jobs beyond the history limits.
func (c *Controller) cleanupHistory(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) error {
	var ok, failed []*batchv1.Job
	for _, j := range jobs {
		switch finishedAs(j) {
		case batchv1.JobComplete:
			ok = append(ok, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	limit := func(p *int32, def int32) int {
		if p == nil {
			return int(def)
		}
		return int(*p)
	}
	for _, g := range []struct {
		jobs  []*batchv1.Job
		limit int
	}{{ok, limit(cj.Spec.SuccessfulJobsHistoryLimit, 3)}, {failed, limit(cj.Spec.FailedJobsHistoryLimit, 1)}} {
		sort.SliceStable(g.jobs, func(i, k int) bool { return startOf(g.jobs[i]).Before(startOf(g.jobs[k])) })
		for i := 0; i < len(g.jobs)-g.limit; i++ {
			if g.jobs[i].DeletionTimestamp != nil {
				continue
			}
			if err := c.deleteJob(ctx, cj, g.jobs[i].Name); err != nil {
				return err
			}
		}
	}
	return nil
}

func startOf(j *batchv1.Job) time.Time {
	if j.Status.StartTime != nil {
		return j.Status.StartTime.Time
	}
	return j.CreationTimestamp.Time
}
