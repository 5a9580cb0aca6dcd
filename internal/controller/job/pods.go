package job

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/controller/ctrlutil"
)

// Well-known names (batch/v1).
const (
	TrackingFinalizer = batchv1.JobTrackingFinalizer
	IndexAnnotation   = batchv1.JobCompletionIndexAnnotation
	IndexEnv          = "JOB_COMPLETION_INDEX"

	legacyJobNameLabel       = "job-name"
	legacyControllerUIDLabel = "controller-uid"
)

func hasFinalizer(p *corev1.Pod) bool {
	for _, f := range p.Finalizers {
		if f == TrackingFinalizer {
			return true
		}
	}
	return false
}

func isIndexed(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion
}

// podIndex returns the completion index of an Indexed Job's pod, or -1.
func podIndex(p *corev1.Pod) int {
	v, ok := p.Annotations[IndexAnnotation]
	if !ok {
		v, ok = p.Labels[batchv1.JobCompletionIndexAnnotation]
	}
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// newPod builds a pod for job; index is -1 for NonIndexed jobs.
func newPod(job *batchv1.Job, index int) *corev1.Pod {
	t := job.Spec.Template.DeepCopy()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    job.Name + "-",
			Namespace:       job.Namespace,
			Labels:          map[string]string{},
			Annotations:     map[string]string{},
			Finalizers:      append(t.Finalizers, TrackingFinalizer),
			OwnerReferences: []metav1.OwnerReference{*ctrlutil.NewControllerRef(job, controllerKind.GroupVersion().String(), controllerKind.Kind)},
		},
		Spec: t.Spec,
	}
	for k, v := range t.Labels {
		pod.Labels[k] = v
	}
	for k, v := range t.Annotations {
		pod.Annotations[k] = v
	}
	// The API server stamps these on the template unless manualSelector is
	// set; set them anyway so pods are always findable by job name and UID.
	for k, v := range map[string]string{
		batchv1.JobNameLabel: job.Name, legacyJobNameLabel: job.Name,
		batchv1.ControllerUidLabel: string(job.UID), legacyControllerUIDLabel: string(job.UID),
	} {
		if _, ok := pod.Labels[k]; !ok {
			pod.Labels[k] = v
		}
	}
	if index >= 0 {
		idx := strconv.Itoa(index)
		pod.GenerateName = fmt.Sprintf("%s-%d-", job.Name, index)
		pod.Annotations[IndexAnnotation] = idx
		pod.Labels[batchv1.JobCompletionIndexAnnotation] = idx
		pod.Spec.Hostname = fmt.Sprintf("%s-%d", job.Name, index)
		env := corev1.EnvVar{Name: IndexEnv, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
			FieldPath: fmt.Sprintf("metadata.annotations['%s']", IndexAnnotation)}}}
		for i := range pod.Spec.InitContainers {
			pod.Spec.InitContainers[i].Env = append(pod.Spec.InitContainers[i].Env, env)
		}
		for i := range pod.Spec.Containers {
			pod.Spec.Containers[i].Env = append(pod.Spec.Containers[i].Env, env)
		}
	}
	return pod
}

// removeFinalizer drops the tracking finalizer with a JSON patch guarded by
// the pod's UID (a test op), leaving other finalizers alone.
func (c *Controller) removeFinalizer(ctx context.Context, p *corev1.Pod) error {
	idx := -1
	for i, f := range p.Finalizers {
		if f == TrackingFinalizer {
			idx = i
		}
	}
	if idx < 0 {
		return nil
	}
	patch, _ := json.Marshal([]map[string]any{
		{"op": "test", "path": "/metadata/uid", "value": p.UID},
		{"op": "test", "path": fmt.Sprintf("/metadata/finalizers/%d", idx), "value": TrackingFinalizer},
		{"op": "remove", "path": fmt.Sprintf("/metadata/finalizers/%d", idx)},
	})
	_, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.JSONPatchType, patch, metav1.PatchOptions{})
	if err == nil || apierrors.IsNotFound(err) {
		return nil
	}
	// A failed test op usually means our cache is stale: check the live pod.
	live, gerr := c.client.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(gerr) || (gerr == nil && (live.UID != p.UID || !hasFinalizer(live))) {
		return nil
	}
	return err
}

// indexSet is a set of completion indexes with the API's interval encoding.
type indexSet map[int]struct{}

// parseIndexes reads "1,3-5,7".
func parseIndexes(s string, limit int) indexSet {
	out := indexSet{}
	if s == "" {
		return out
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := a; i <= b && i < limit; i++ {
			out[i] = struct{}{}
		}
	}
	return out
}

// String renders the set as sorted intervals.
func (s indexSet) String() string {
	idx := make([]int, 0, len(s))
	for i := range s {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", idx[i], idx[j]))
		} else {
			parts = append(parts, strconv.Itoa(idx[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
