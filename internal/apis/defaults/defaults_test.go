package defaults_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiff-sh/skiff/internal/apis/defaults"
)

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func deref[T any](t *testing.T, what string, p *T) T {
	t.Helper()
	if p == nil {
		t.Fatalf("%s is nil", what)
	}
	return *p
}

func TestPodDefaults(t *testing.T) {
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}}
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{
			Name: "app", Image: "nginx:1.27",
			Ports:         []corev1.ContainerPort{{ContainerPort: 80}},
			LivenessProbe: probe,
			Resources:     corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}},
		}},
		Volumes: []corev1.Volume{
			{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
			{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}},
			{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}},
			{Name: "dapi", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{}}},
			{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}},
			{Name: "empty"},
		},
	}}
	defaults.Default(pod)
	s := pod.Spec
	eq(t, "restartPolicy", s.RestartPolicy, corev1.RestartPolicyAlways)
	eq(t, "dnsPolicy", s.DNSPolicy, corev1.DNSClusterFirst)
	eq(t, "schedulerName", s.SchedulerName, "default-scheduler")
	eq(t, "terminationGracePeriodSeconds", deref(t, "tgps", s.TerminationGracePeriodSeconds), int64(30))
	if s.SecurityContext == nil {
		t.Error("securityContext not defaulted")
	}
	eq(t, "enableServiceLinks", deref(t, "esl", s.EnableServiceLinks), true)
	eq(t, "priority", deref(t, "priority", s.Priority), int32(0))
	eq(t, "preemptionPolicy", deref(t, "pp", s.PreemptionPolicy), corev1.PreemptLowerPriority)
	c := s.Containers[0]
	eq(t, "terminationMessagePath", c.TerminationMessagePath, "/dev/termination-log")
	eq(t, "terminationMessagePolicy", c.TerminationMessagePolicy, corev1.TerminationMessageReadFile)
	eq(t, "imagePullPolicy", c.ImagePullPolicy, corev1.PullIfNotPresent)
	eq(t, "port protocol", c.Ports[0].Protocol, corev1.ProtocolTCP)
	eq(t, "probe timeout", c.LivenessProbe.TimeoutSeconds, int32(1))
	eq(t, "probe period", c.LivenessProbe.PeriodSeconds, int32(10))
	eq(t, "probe success", c.LivenessProbe.SuccessThreshold, int32(1))
	eq(t, "probe failure", c.LivenessProbe.FailureThreshold, int32(3))
	eq(t, "httpGet scheme", c.LivenessProbe.HTTPGet.Scheme, corev1.URISchemeHTTP)
	eq(t, "httpGet path", c.LivenessProbe.HTTPGet.Path, "/")
	req := c.Resources.Requests[corev1.ResourceCPU]
	eq(t, "cpu request from limit", req.String(), "500m")
	v := s.Volumes
	eq(t, "configMap mode", deref(t, "cm", v[0].ConfigMap.DefaultMode), int32(0644))
	eq(t, "secret mode", deref(t, "sec", v[1].Secret.DefaultMode), int32(0644))
	eq(t, "projected mode", deref(t, "proj", v[2].Projected.DefaultMode), int32(0644))
	eq(t, "downwardAPI mode", deref(t, "dapi", v[3].DownwardAPI.DefaultMode), int32(0644))
	eq(t, "hostPath type", deref(t, "hp", v[4].HostPath.Type), corev1.HostPathUnset)
	if v[5].EmptyDir == nil {
		t.Error("source-less volume should become emptyDir")
	}
}

func TestPullPolicy(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"nginx":                          corev1.PullAlways,
		"nginx:latest":                   corev1.PullAlways,
		"nginx:1.27":                     corev1.PullIfNotPresent,
		"localhost:5000/app":             corev1.PullAlways,
		"localhost:5000/app:v2":          corev1.PullIfNotPresent,
		"nginx@sha256:" + sixtyFourHex(): corev1.PullIfNotPresent,
		"nginx:latest@sha256:abc":        corev1.PullAlways,
	} {
		pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}}}
		defaults.Default(pod)
		eq(t, "pull policy of "+image, pod.Spec.Containers[0].ImagePullPolicy, want)
	}
}

func sixtyFourHex() string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}

func TestExplicitValuesKept(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever, DNSPolicy: corev1.DNSDefault,
		Containers: []corev1.Container{{Name: "c", Image: "x", ImagePullPolicy: corev1.PullNever,
			Resources: corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
				Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
			}}},
	}}
	defaults.Default(pod)
	eq(t, "restartPolicy", pod.Spec.RestartPolicy, corev1.RestartPolicyNever)
	eq(t, "dnsPolicy", pod.Spec.DNSPolicy, corev1.DNSDefault)
	eq(t, "imagePullPolicy", pod.Spec.Containers[0].ImagePullPolicy, corev1.PullNever)
	mem := pod.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory]
	eq(t, "memory request", mem.String(), "512Mi")
}

func TestServiceDefaults(t *testing.T) {
	svc := &corev1.Service{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}, {Port: 443, TargetPort: intstr.FromString("https")}}}}
	defaults.Default(svc)
	s := svc.Spec
	eq(t, "type", s.Type, corev1.ServiceTypeClusterIP)
	eq(t, "sessionAffinity", s.SessionAffinity, corev1.ServiceAffinityNone)
	eq(t, "protocol", s.Ports[0].Protocol, corev1.ProtocolTCP)
	eq(t, "targetPort", s.Ports[0].TargetPort, intstr.FromInt32(80))
	eq(t, "named targetPort kept", s.Ports[1].TargetPort, intstr.FromString("https"))
	eq(t, "ipFamilyPolicy", deref(t, "ifp", s.IPFamilyPolicy), corev1.IPFamilyPolicySingleStack)
	if len(s.IPFamilies) != 1 || s.IPFamilies[0] != corev1.IPv4Protocol {
		t.Errorf("ipFamilies = %v", s.IPFamilies)
	}
	eq(t, "internalTrafficPolicy", deref(t, "itp", s.InternalTrafficPolicy), corev1.ServiceInternalTrafficPolicyCluster)
	eq(t, "externalTrafficPolicy (ClusterIP)", s.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicy(""))
	eq(t, "clusterIP left to the allocator", s.ClusterIP, "")

	np := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort}}
	defaults.Default(np)
	eq(t, "externalTrafficPolicy (NodePort)", np.Spec.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicyCluster)

	lb := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
	defaults.Default(lb)
	eq(t, "externalTrafficPolicy (LB)", lb.Spec.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicyCluster)
	eq(t, "allocateLoadBalancerNodePorts", deref(t, "alb", lb.Spec.AllocateLoadBalancerNodePorts), true)
}

func TestWorkloadDefaults(t *testing.T) {
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}

	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: *tmpl.DeepCopy()}}
	defaults.Default(d)
	eq(t, "deploy replicas", deref(t, "r", d.Spec.Replicas), int32(1))
	eq(t, "deploy strategy", d.Spec.Strategy.Type, appsv1.RollingUpdateDeploymentStrategyType)
	eq(t, "maxUnavailable", deref(t, "mu", d.Spec.Strategy.RollingUpdate.MaxUnavailable), intstr.FromString("25%"))
	eq(t, "maxSurge", deref(t, "ms", d.Spec.Strategy.RollingUpdate.MaxSurge), intstr.FromString("25%"))
	eq(t, "revisionHistoryLimit", deref(t, "rhl", d.Spec.RevisionHistoryLimit), int32(10))
	eq(t, "progressDeadlineSeconds", deref(t, "pds", d.Spec.ProgressDeadlineSeconds), int32(600))
	eq(t, "template restartPolicy", d.Spec.Template.Spec.RestartPolicy, corev1.RestartPolicyAlways)
	eq(t, "template container pull policy", d.Spec.Template.Spec.Containers[0].ImagePullPolicy, corev1.PullAlways)
	if d.Spec.Template.Spec.EnableServiceLinks != nil {
		t.Error("enableServiceLinks is a Pod-only default, templates must not get it")
	}

	rec := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}}}
	defaults.Default(rec)
	if rec.Spec.Strategy.RollingUpdate != nil {
		t.Error("Recreate deployments must not get rollingUpdate")
	}

	rs := &appsv1.ReplicaSet{}
	defaults.Default(rs)
	eq(t, "rs replicas", deref(t, "r", rs.Spec.Replicas), int32(1))

	rc := &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Template: &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}}}}}
	defaults.Default(rc)
	eq(t, "rc replicas", deref(t, "r", rc.Spec.Replicas), int32(1))
	eq(t, "rc selector from template", rc.Spec.Selector["app"], "x")
	eq(t, "rc labels from template", rc.Labels["app"], "x")

	ss := &appsv1.StatefulSet{}
	defaults.Default(ss)
	eq(t, "sts replicas", deref(t, "r", ss.Spec.Replicas), int32(1))
	eq(t, "sts podManagementPolicy", ss.Spec.PodManagementPolicy, appsv1.OrderedReadyPodManagement)
	eq(t, "sts strategy", ss.Spec.UpdateStrategy.Type, appsv1.RollingUpdateStatefulSetStrategyType)
	eq(t, "sts partition", deref(t, "p", ss.Spec.UpdateStrategy.RollingUpdate.Partition), int32(0))
	eq(t, "sts rhl", deref(t, "rhl", ss.Spec.RevisionHistoryLimit), int32(10))
	eq(t, "sts whenDeleted", ss.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted, appsv1.RetainPersistentVolumeClaimRetentionPolicyType)
	eq(t, "sts whenScaled", ss.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled, appsv1.RetainPersistentVolumeClaimRetentionPolicyType)

	ds := &appsv1.DaemonSet{}
	defaults.Default(ds)
	eq(t, "ds strategy", ds.Spec.UpdateStrategy.Type, appsv1.RollingUpdateDaemonSetStrategyType)
	eq(t, "ds maxUnavailable", deref(t, "mu", ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable), intstr.FromInt32(1))
	eq(t, "ds maxSurge", deref(t, "ms", ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge), intstr.FromInt32(0))
	eq(t, "ds rhl", deref(t, "rhl", ds.Spec.RevisionHistoryLimit), int32(10))
}

func TestJobDefaults(t *testing.T) {
	j := &batchv1.Job{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever}}}}
	defaults.Default(j)
	s := j.Spec
	eq(t, "parallelism", deref(t, "p", s.Parallelism), int32(1))
	eq(t, "completions", deref(t, "c", s.Completions), int32(1))
	eq(t, "backoffLimit", deref(t, "b", s.BackoffLimit), int32(6))
	eq(t, "completionMode", deref(t, "cm", s.CompletionMode), batchv1.NonIndexedCompletion)
	eq(t, "suspend", deref(t, "s", s.Suspend), false)
	eq(t, "podReplacementPolicy", deref(t, "prp", s.PodReplacementPolicy), batchv1.TerminatingOrFailed)
	eq(t, "restartPolicy stays", s.Template.Spec.RestartPolicy, corev1.RestartPolicyNever)
	if s.ManualSelector != nil || s.Selector != nil {
		t.Error("manualSelector/selector must stay unset without a UID")
	}

	// Only parallelism given: completions stays nil (a work-queue job).
	wq := &batchv1.Job{Spec: batchv1.JobSpec{Parallelism: ptr(int32(3))}}
	defaults.Default(wq)
	if wq.Spec.Completions != nil {
		t.Error("completions must stay nil when parallelism is set")
	}

	withUID := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", UID: "u-1"}}
	defaults.Default(withUID)
	eq(t, "selector", withUID.Spec.Selector.MatchLabels[defaults.LabelControllerUID], "u-1")
	eq(t, "template label", withUID.Spec.Template.Labels[defaults.LabelJobName], "pi")

	cj := &batchv1.CronJob{}
	defaults.Default(cj)
	eq(t, "concurrencyPolicy", cj.Spec.ConcurrencyPolicy, batchv1.AllowConcurrent)
	eq(t, "suspend", deref(t, "s", cj.Spec.Suspend), false)
	eq(t, "successful history", deref(t, "sh", cj.Spec.SuccessfulJobsHistoryLimit), int32(3))
	eq(t, "failed history", deref(t, "fh", cj.Spec.FailedJobsHistoryLimit), int32(1))
}

func TestMiscDefaults(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}
	defaults.Default(ns)
	if len(ns.Spec.Finalizers) != 0 {
		t.Errorf("defaulting must leave spec.finalizers to create-time admission, got %v", ns.Spec.Finalizers)
	}
	eq(t, "namespace phase", ns.Status.Phase, corev1.NamespaceActive)
	eq(t, "namespace name label", ns.Labels[corev1.LabelMetadataName], "team-a")

	sec := &corev1.Secret{Data: map[string][]byte{"a": []byte("old"), "b": []byte("keep")},
		StringData: map[string]string{"a": "new", "c": "added"}}
	defaults.Default(sec)
	eq(t, "secret type", sec.Type, corev1.SecretTypeOpaque)
	eq(t, "stringData overrides data", string(sec.Data["a"]), "new")
	eq(t, "data kept", string(sec.Data["b"]), "keep")
	eq(t, "stringData added", string(sec.Data["c"]), "added")
	if sec.StringData != nil {
		t.Error("stringData is write-only and must be cleared")
	}

	pc := &schedulingv1.PriorityClass{}
	defaults.Default(pc)
	eq(t, "priorityclass preemption", deref(t, "pp", pc.PreemptionPolicy), corev1.PreemptLowerPriority)

	ep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}}}
	defaults.Default(ep)
	eq(t, "endpoints protocol", ep.Subsets[0].Ports[0].Protocol, corev1.ProtocolTCP)

	es := &discoveryv1.EndpointSlice{Ports: []discoveryv1.EndpointPort{{Port: ptr(int32(80))}}}
	defaults.Default(es)
	eq(t, "slice protocol", deref(t, "proto", es.Ports[0].Protocol), corev1.ProtocolTCP)
}

func TestDefaultTolerations(t *testing.T) {
	pod := &corev1.Pod{}
	defaults.DefaultTolerations(pod)
	if len(pod.Spec.Tolerations) != 2 {
		t.Fatalf("tolerations = %v", pod.Spec.Tolerations)
	}
	for i, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		tol := pod.Spec.Tolerations[i]
		eq(t, "key", tol.Key, key)
		eq(t, "operator", tol.Operator, corev1.TolerationOpExists)
		eq(t, "effect", tol.Effect, corev1.TaintEffectNoExecute)
		eq(t, "seconds", deref(t, "ts", tol.TolerationSeconds), int64(300))
	}

	// An existing not-ready toleration is kept as is; only unreachable is added.
	own := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: []corev1.Toleration{{Key: corev1.TaintNodeNotReady,
		Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(5))}}}}
	defaults.DefaultTolerations(own)
	if len(own.Spec.Tolerations) != 2 || *own.Spec.Tolerations[0].TolerationSeconds != 5 ||
		own.Spec.Tolerations[1].Key != corev1.TaintNodeUnreachable {
		t.Errorf("tolerations = %+v", own.Spec.Tolerations)
	}

	// A match-everything toleration already covers both.
	all := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}}}
	defaults.DefaultTolerations(all)
	eq(t, "tolerate-all count", len(all.Spec.Tolerations), 1)

	// Running twice is idempotent.
	defaults.DefaultTolerations(pod)
	eq(t, "idempotent count", len(pod.Spec.Tolerations), 2)
}

func ptr[T any](v T) *T { return &v }
