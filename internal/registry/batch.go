package registry

import (
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/skiff-sh/skiff/internal/apis/defaults"
)

// batch/v1.
func init() {
	register(kind[*batchv1.Job]{
		group: "batch", resource: "jobs",
		defaults: defaults.Job,
		spec:     func(j *batchv1.Job) any { return j.Spec },
		status:   &status[*batchv1.Job]{set: func(dst, src *batchv1.Job) { dst.Status = src.Status }},
		fields: func(j *batchv1.Job) fields.Set {
			return fields.Set{"status.successful": strconv.Itoa(int(j.Status.Succeeded))}
		},
	})
	register(kind[*batchv1.CronJob]{
		group: "batch", resource: "cronjobs",
		defaults: defaults.CronJob,
		spec:     func(cj *batchv1.CronJob) any { return cj.Spec },
		status:   &status[*batchv1.CronJob]{set: func(dst, src *batchv1.CronJob) { dst.Status = src.Status }},
	})
}
