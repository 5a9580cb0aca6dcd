package printers

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

func init() {
	register("apps", "Deployment", printer{
		columns: []metav1.TableColumnDefinition{nameColumn(),
			column("Ready", "string", "Ready pods out of desired pods."),
			column("Up-to-date", "integer", "Pods that run the latest pod template."),
			column("Available", "integer", "Pods that have been ready for at least minReadySeconds."),
			ageColumn(), containersColumn(), imagesColumn(), selectorColumn()},
		row: cellsOf(deploymentCells),
	})
	register("apps", "ReplicaSet", printer{columns: replicaColumns(), row: cellsOf(func(rs *appsv1.ReplicaSet, now time.Time) []any {
		names, images := containerCells(rs.Spec.Template.Spec.Containers)
		return []any{rs.Name, replicas(rs.Spec.Replicas), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
			age(rs.CreationTimestamp, now), names, images, metav1.FormatLabelSelector(rs.Spec.Selector)}
	})})
	register("", "ReplicationController", printer{columns: replicaColumns(), row: cellsOf(func(rc *corev1.ReplicationController, now time.Time) []any {
		var containers []corev1.Container
		if rc.Spec.Template != nil {
			containers = rc.Spec.Template.Spec.Containers
		}
		names, images := containerCells(containers)
		return []any{rc.Name, replicas(rc.Spec.Replicas), int64(rc.Status.Replicas), int64(rc.Status.ReadyReplicas),
			age(rc.CreationTimestamp, now), names, images, labels.FormatLabels(rc.Spec.Selector)}
	})})
	register("apps", "StatefulSet", printer{
		columns: []metav1.TableColumnDefinition{nameColumn(),
			column("Ready", "string", "Ready pods out of desired pods."), ageColumn(), containersColumn(), imagesColumn()},
		row: cellsOf(func(ss *appsv1.StatefulSet, now time.Time) []any {
			names, images := containerCells(ss.Spec.Template.Spec.Containers)
			return []any{ss.Name, fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, replicas(ss.Spec.Replicas)),
				age(ss.CreationTimestamp, now), names, images}
		}),
	})
	register("apps", "DaemonSet", printer{
		columns: []metav1.TableColumnDefinition{nameColumn(),
			column("Desired", "integer", "Nodes that should run the daemon pod."),
			column("Current", "integer", "Nodes that run at least one daemon pod."),
			column("Ready", "integer", "Nodes whose daemon pod is ready."),
			column("Up-to-date", "integer", "Nodes that run the latest daemon pod template."),
			column("Available", "integer", "Nodes whose daemon pod is available."),
			column("Node Selector", "string", "The node labels daemon pods are restricted to."),
			ageColumn(), containersColumn(), imagesColumn(), selectorColumn()},
		row: cellsOf(daemonSetCells),
	})
	register("batch", "Job", printer{
		columns: []metav1.TableColumnDefinition{nameColumn(),
			column("Status", "string", "The state of the job."),
			column("Completions", "string", "Succeeded pods out of required completions."),
			column("Duration", "string", "How long the job took, or has been running."),
			ageColumn(), containersColumn(), imagesColumn(), selectorColumn()},
		row: cellsOf(jobCells),
	})
	register("batch", "CronJob", printer{
		columns: []metav1.TableColumnDefinition{nameColumn(),
			column("Schedule", "string", "The cron schedule the jobs run on."),
			column("Timezone", "string", "The time zone the schedule is read in."),
			column("Suspend", "string", "Whether new runs are suspended."),
			column("Active", "integer", "The number of jobs running now."),
			column("Last Schedule", "string", "Time since a job was last scheduled."),
			ageColumn(), containersColumn(), imagesColumn(), selectorColumn()},
		row: cellsOf(cronJobCells),
	})
	register("apps", "ControllerRevision", printer{
		columns: []metav1.TableColumnDefinition{nameColumn(),
			column("Controller", "string", "The object that owns the revision."),
			column("Revision", "integer", "The revision number."), ageColumn()},
		row: cellsOf(func(cr *appsv1.ControllerRevision, now time.Time) []any {
			return []any{cr.Name, controllerOf(cr), cr.Revision, age(cr.CreationTimestamp, now)}
		}),
	})
}

func replicaColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameColumn(),
		column("Desired", "integer", "The number of pods wanted."),
		column("Current", "integer", "The number of pods that exist."),
		column("Ready", "integer", "The number of ready pods."),
		ageColumn(), containersColumn(), imagesColumn(), selectorColumn()}
}

func deploymentCells(d *appsv1.Deployment, now time.Time) []any {
	names, images := containerCells(d.Spec.Template.Spec.Containers)
	// Upstream prints the parsed selector here, so an empty selector is blank, not "<none>".
	selector := "<invalid>"
	if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
		selector = s.String()
	}
	return []any{d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, replicas(d.Spec.Replicas)),
		int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas), age(d.CreationTimestamp, now),
		names, images, selector}
}

func daemonSetCells(ds *appsv1.DaemonSet, now time.Time) []any {
	names, images := containerCells(ds.Spec.Template.Spec.Containers)
	st := ds.Status
	return []any{ds.Name, int64(st.DesiredNumberScheduled), int64(st.CurrentNumberScheduled), int64(st.NumberReady),
		int64(st.UpdatedNumberScheduled), int64(st.NumberAvailable), labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
		age(ds.CreationTimestamp, now), names, images, metav1.FormatLabelSelector(ds.Spec.Selector)}
}

func jobCells(j *batchv1.Job, now time.Time) []any {
	names, images := containerCells(j.Spec.Template.Spec.Containers)
	return []any{j.Name, jobStatus(j), jobCompletions(j), jobDuration(j, now), age(j.CreationTimestamp, now),
		names, images, metav1.FormatLabelSelector(j.Spec.Selector)}
}

// jobStatus picks the first that applies, in upstream's order.
func jobStatus(j *batchv1.Job) string {
	switch {
	case jobCondition(j, batchv1.JobComplete):
		return "Complete"
	case jobCondition(j, batchv1.JobFailed):
		return "Failed"
	case j.DeletionTimestamp != nil:
		return "Terminating"
	case jobCondition(j, batchv1.JobSuspended):
		return "Suspended"
	case jobCondition(j, batchv1.JobFailureTarget):
		return "FailureTarget"
	case jobCondition(j, batchv1.JobSuccessCriteriaMet):
		return "SuccessCriteriaMet"
	}
	return "Running"
}

func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// jobCompletions is "succeeded/completions"; a job without completions needs
// one success, shown as "n/1", or "n/1 of p" when it runs p pods in parallel.
func jobCompletions(j *batchv1.Job) string {
	if j.Spec.Completions != nil {
		return fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
	}
	if j.Spec.Parallelism != nil && *j.Spec.Parallelism > 1 {
		return fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, *j.Spec.Parallelism)
	}
	return fmt.Sprintf("%d/1", j.Status.Succeeded)
}

// jobDuration is start to completion, or start to now while it runs; blank before it starts.
func jobDuration(j *batchv1.Job, now time.Time) string {
	switch {
	case j.Status.StartTime == nil:
		return ""
	case j.Status.CompletionTime == nil:
		return duration.HumanDuration(now.Sub(j.Status.StartTime.Time))
	default:
		return duration.HumanDuration(j.Status.CompletionTime.Sub(j.Status.StartTime.Time))
	}
}

func cronJobCells(cj *batchv1.CronJob, now time.Time) []any {
	last := none
	if cj.Status.LastScheduleTime != nil {
		last = age(*cj.Status.LastScheduleTime, now)
	}
	tz := none
	if cj.Spec.TimeZone != nil {
		tz = *cj.Spec.TimeZone
	}
	tmpl := cj.Spec.JobTemplate.Spec
	names, images := containerCells(tmpl.Template.Spec.Containers)
	return []any{cj.Name, cj.Spec.Schedule, tz, boolPtr(cj.Spec.Suspend), int64(len(cj.Status.Active)), last,
		age(cj.CreationTimestamp, now), names, images, metav1.FormatLabelSelector(tmpl.Selector)}
}

// controllerOf names the owning controller as "kind.group/name", e.g. "statefulset.apps/web".
func controllerOf(obj metav1.Object) string {
	ref := metav1.GetControllerOfNoCopy(obj)
	if ref == nil {
		return none
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return ref.Name
	}
	gk := schema.GroupKind{Group: gv.Group, Kind: ref.Kind}
	if gk.Empty() {
		return ref.Name
	}
	return strings.ToLower(gk.String()) + "/" + ref.Name
}
