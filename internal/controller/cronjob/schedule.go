package cronjob

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
)

// parseSchedule parses spec.schedule in spec.timeZone. Embedding TZ= or
// CRON_TZ= in the schedule is refused when timeZone is set, as upstream does.
func parseSchedule(cj *batchv1.CronJob) (cron.Schedule, error) {
	spec := cj.Spec.Schedule
	if tz := cj.Spec.TimeZone; tz != nil {
		if strings.Contains(spec, "TZ=") {
			return nil, fmt.Errorf("cronjob: schedule %q must not set TZ when spec.timeZone is set", spec)
		}
		if _, err := time.LoadLocation(*tz); err != nil {
			return nil, &timeZoneError{zone: *tz, err: err}
		}
		spec = "CRON_TZ=" + *tz + " " + spec
	}
	return cron.ParseStandard(spec)
}

type timeZoneError struct {
	zone string
	err  error
}

func (e *timeZoneError) Error() string { return fmt.Sprintf("unknown time zone %s: %v", e.zone, e.err) }

// tooManyMissed is how many missed runs make the controller warn that the
// CronJob may be mis-specified or the controller was down.
const tooManyMissed = 100

// mostRecent returns the latest schedule time in (earliest, now] and how many
// such times there were (roughly, after the skip below), or nil.
func mostRecent(sched cron.Schedule, earliest, now time.Time) (*time.Time, int) {
	t1 := sched.Next(earliest)
	if t1.IsZero() || t1.After(now) {
		return nil, 0
	}
	// Jump close to now when the gap is long: Next from any point returns
	// the following occurrence, so walking from a later point (not past now)
	// still finds the most recent time without stepping through years.
	if t2 := sched.Next(t1); !t2.IsZero() && !t2.After(now) {
		if iv := t2.Sub(t1); iv > 0 {
			if k := int64(now.Sub(t1) / iv); k > 2*tooManyMissed {
				if t, n := walk(sched, t1.Add(time.Duration(k-2)*iv), now, false); t != nil {
					return t, int(k) + n
				}
			}
		}
	}
	t, n := walk(sched, t1, now, true)
	return t, n + 1
}

// walk returns the last occurrence after from and not after now (or from
// itself when it is an occurrence and nothing follows), and how many it
// stepped over.
func walk(sched cron.Schedule, from, now time.Time, fromIsOccurrence bool) (*time.Time, int) {
	var last *time.Time
	n := 0
	for t := sched.Next(from); !t.IsZero() && !t.After(now); t = sched.Next(t) {
		tt := t
		last = &tt
		n++
	}
	if last == nil && fromIsOccurrence {
		return &from, 0
	}
	return last, n
}

// jobName is the deterministic name of the run scheduled at t.
func jobName(cj *batchv1.CronJob, t time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, t.Unix()/60)
}
