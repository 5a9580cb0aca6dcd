// Package job runs a Job's pods to completion.
//
// It keeps up to spec.parallelism pods running until spec.completions pods
// (NonIndexed) or indexes (Indexed) succeeded, recreating failed pods with
// exponential backoff (10s doubling, capped at 6 min) until status.failed
// exceeds spec.backoffLimit, and stops the Job after activeDeadlineSeconds.
//
// Pods are tracked with the batch.kubernetes.io/job-tracking finalizer, so a
// finished pod is counted exactly once even if it is deleted right away: its
// UID is first recorded in status.uncountedTerminatedPods, then the finalizer
// is removed, then the UID moves into status.succeeded/failed.
//
// Terminal conditions follow upstream: SuccessCriteriaMet or FailureTarget is
// added first; Complete or Failed only once no pod is left running.
package job
