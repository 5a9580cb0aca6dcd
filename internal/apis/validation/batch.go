package validation

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validateJob(j *batchv1.Job) field.ErrorList {
	errs := objectMeta(&j.ObjectMeta, true, nameIsDNSSubdomain)
	sp := field.NewPath("spec")
	s := &j.Spec
	switch {
	case s.Selector != nil:
		errs = append(errs, metav1validation.ValidateLabelSelector(s.Selector, metav1validation.LabelSelectorValidationOptions{}, sp.Child("selector"))...)
		// Generated or manual, the selector must select the pods the job creates.
		if sel, err := metav1.LabelSelectorAsSelector(s.Selector); err == nil && !sel.Matches(labels.Set(s.Template.Labels)) {
			errs = append(errs, field.Invalid(sp.Child("template", "metadata", "labels"), s.Template.Labels, "`selector` does not match template `labels`"))
		}
	case s.ManualSelector != nil && *s.ManualSelector:
		errs = append(errs, field.Required(sp.Child("selector"), ""))
	case j.UID != "":
		// With a UID the selector should have been generated (defaults.GenerateJobSelector).
		errs = append(errs, field.Required(sp.Child("selector"), ""))
	}
	return append(errs, jobSpec(s, sp)...)
}

func jobSpec(s *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, nonNegativePtr(s.Parallelism, p.Child("parallelism"))...)
	errs = append(errs, nonNegativePtr(s.Completions, p.Child("completions"))...)
	errs = append(errs, nonNegativePtr(s.ActiveDeadlineSeconds, p.Child("activeDeadlineSeconds"))...)
	errs = append(errs, nonNegativePtr(s.BackoffLimit, p.Child("backoffLimit"))...)
	errs = append(errs, nonNegativePtr(s.TTLSecondsAfterFinished, p.Child("ttlSecondsAfterFinished"))...)
	if s.CompletionMode != nil {
		errs = append(errs, enum(*s.CompletionMode, []batchv1.CompletionMode{batchv1.IndexedCompletion, batchv1.NonIndexedCompletion},
			p.Child("completionMode"))...)
		if *s.CompletionMode == batchv1.IndexedCompletion && s.Completions == nil {
			errs = append(errs, field.Required(p.Child("completions"), fmt.Sprintf("when completion mode is %s", batchv1.IndexedCompletion)))
		}
	}
	if s.PodReplacementPolicy != nil {
		errs = append(errs, enum(*s.PodReplacementPolicy, []batchv1.PodReplacementPolicy{batchv1.Failed, batchv1.TerminatingOrFailed},
			p.Child("podReplacementPolicy"))...)
	}
	tp := p.Child("template")
	errs = append(errs, podTemplateSpec(&s.Template, tp)...)
	// A job's pods must terminate, so they cannot restart Always.
	rp := s.Template.Spec.RestartPolicy
	if rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever {
		errs = append(errs, field.NotSupported(tp.Child("spec", "restartPolicy"), rp,
			[]corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	}
	return errs
}

// jobUpdate: the selector, completion mode and (for a started job) the template
// are fixed once the job exists.
func jobUpdate(j, old *batchv1.Job) field.ErrorList {
	sp := field.NewPath("spec")
	var errs field.ErrorList
	errs = append(errs, immutable(j.Spec.Selector, old.Spec.Selector, sp.Child("selector"))...)
	errs = append(errs, immutable(j.Spec.CompletionMode, old.Spec.CompletionMode, sp.Child("completionMode"))...)
	if !(old.Spec.Suspend != nil && *old.Spec.Suspend) && !apiequality.Semantic.DeepEqual(j.Spec.Template, old.Spec.Template) {
		errs = append(errs, field.Invalid(sp.Child("template"), j.Spec.Template, fieldImmutableErrorMsg))
	}
	// Completions may only change together with parallelism on Indexed jobs (elastic).
	if !apiequality.Semantic.DeepEqual(j.Spec.Completions, old.Spec.Completions) {
		elastic := j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion &&
			j.Spec.Completions != nil && j.Spec.Parallelism != nil && *j.Spec.Completions == *j.Spec.Parallelism
		if !elastic {
			errs = append(errs, field.Invalid(sp.Child("completions"), j.Spec.Completions, fieldImmutableErrorMsg))
		}
	}
	return errs
}

var concurrencyPolicies = []batchv1.ConcurrencyPolicy{batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent}

func validateCronJob(cj *batchv1.CronJob) field.ErrorList {
	errs := objectMeta(&cj.ObjectMeta, true, nameIsDNSSubdomain)
	// Jobs are named <cronjob>-<11-char timestamp> and must stay a 63-char label.
	if len(cj.Name) > 52 {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), cj.Name, "must be no more than 52 characters"))
	}
	return append(errs, cronJobSpec(&cj.Spec, field.NewPath("spec"))...)
}

func cronJobSpec(s *batchv1.CronJobSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Schedule == "" {
		errs = append(errs, field.Required(p.Child("schedule"), ""))
	} else {
		errs = append(errs, schedule(s.Schedule, s.TimeZone, p.Child("schedule"))...)
	}
	if s.TimeZone != nil {
		if _, err := time.LoadLocation(*s.TimeZone); err != nil || *s.TimeZone == "" || strings.EqualFold(*s.TimeZone, "local") {
			errs = append(errs, field.Invalid(p.Child("timeZone"), *s.TimeZone, "unknown time zone "+*s.TimeZone))
		}
	}
	errs = append(errs, nonNegativePtr(s.StartingDeadlineSeconds, p.Child("startingDeadlineSeconds"))...)
	errs = append(errs, enum(s.ConcurrencyPolicy, concurrencyPolicies, p.Child("concurrencyPolicy"))...)
	errs = append(errs, nonNegativePtr(s.SuccessfulJobsHistoryLimit, p.Child("successfulJobsHistoryLimit"))...)
	errs = append(errs, nonNegativePtr(s.FailedJobsHistoryLimit, p.Child("failedJobsHistoryLimit"))...)
	jp := p.Child("jobTemplate", "spec")
	errs = append(errs, jobSpec(&s.JobTemplate.Spec, jp)...)
	// The CronJob controller generates each Job's selector itself.
	if s.JobTemplate.Spec.Selector != nil {
		errs = append(errs, field.Invalid(jp.Child("selector"), s.JobTemplate.Spec.Selector, "`selector` will be auto-generated"))
	}
	if ms := s.JobTemplate.Spec.ManualSelector; ms != nil && *ms {
		errs = append(errs, field.NotSupported(jp.Child("manualSelector"), *ms, []string{"nil", "false"}))
	}
	return errs
}

// schedule parses with the standard 5-field parser (also @every/@hourly...);
// time zones belong in spec.timeZone, not in the schedule.
func schedule(s string, tz *string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if _, err := cron.ParseStandard(s); err != nil {
		errs = append(errs, field.Invalid(p, s, err.Error()))
	}
	if strings.Contains(s, "TZ") {
		if tz != nil {
			errs = append(errs, field.Invalid(p, s, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
		} else {
			errs = append(errs, field.Invalid(p, s, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
		}
	}
	return errs
}
