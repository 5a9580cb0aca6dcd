// Package cronjob creates Jobs from CronJobs on their schedule.
//
// Schedules use the standard five-field cron syntax plus descriptors
// (@hourly, @every 5m, ...), evaluated in spec.timeZone (or the controller's
// clock zone). Each run is a Job named <cronjob>-<scheduled minutes since the
// epoch>, so a run is created at most once even across restarts. Missed runs
// are caught up only for the most recent one, and only within
// startingDeadlineSeconds; concurrencyPolicy decides what happens while an
// earlier run is active. Finished Jobs beyond the history limits are deleted.
package cronjob
