package validation_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/apis/defaults"
	"github.com/skiff-sh/skiff/internal/apis/validation"
)

// want names one expected error: its type, field path and (optionally) a fragment
// of its rendered text.
type want struct {
	typ    field.ErrorType
	path   string
	substr string
}

func expect(t *testing.T, errs field.ErrorList, wants ...want) {
	t.Helper()
	if len(wants) == 0 && len(errs) > 0 {
		t.Fatalf("expected no errors, got:\n%v", errs.ToAggregate())
	}
	for _, w := range wants {
		found := false
		for _, e := range errs {
			if e.Type == w.typ && e.Field == w.path && strings.Contains(e.Error(), w.substr) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("missing %s error at %q containing %q; got:\n%v", w.typ, w.path, w.substr, errs.ToAggregate())
		}
	}
}

func meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}}
}

func podSpec() corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27",
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}}}}}
}

func pod(mut func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: meta("web"), Spec: podSpec()}
	if mut != nil {
		mut(p)
	}
	defaults.Default(p)
	return p
}

func defaulted[T runtime.Object](o T) T {
	defaults.Default(o)
	return o
}

func TestMetadata(t *testing.T) {
	tests := []struct {
		name  string
		obj   runtime.Object
		wants []want
	}{
		{"bad subdomain name", pod(func(p *corev1.Pod) { p.Name = "Foo_bar" }),
			[]want{{field.ErrorTypeInvalid, "metadata.name", `Invalid value: "Foo_bar": a lowercase RFC 1123 subdomain must consist of`}}},
		{"missing name", pod(func(p *corev1.Pod) { p.Name = "" }),
			[]want{{field.ErrorTypeRequired, "metadata.name", "name or generateName is required"}}},
		{"missing namespace", pod(func(p *corev1.Pod) { p.Namespace = "" }),
			[]want{{field.ErrorTypeRequired, "metadata.namespace", ""}}},
		{"bad generateName", pod(func(p *corev1.Pod) { p.GenerateName = "Bad_" }),
			[]want{{field.ErrorTypeInvalid, "metadata.generateName", ""}}},
		{"bad label key", pod(func(p *corev1.Pod) { p.Labels = map[string]string{"-bad": "x"} }),
			[]want{{field.ErrorTypeInvalid, "metadata.labels", "name part must consist of"}}},
		{"bad label value", pod(func(p *corev1.Pod) { p.Labels = map[string]string{"a": strings.Repeat("x", 64)} }),
			[]want{{field.ErrorTypeInvalid, "metadata.labels", "must be no more than 63 bytes"}}},
		{"annotations too large", pod(func(p *corev1.Pod) { p.Annotations = map[string]string{"a": strings.Repeat("x", 256*1024)} }),
			[]want{{field.ErrorTypeTooLong, "metadata.annotations", ""}}},
		{"namespace must be a DNS label", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a.b"}},
			[]want{{field.ErrorTypeInvalid, "metadata.name", "must not contain dots"}}},
		{"cluster-scoped object with namespace", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Namespace: "x"}},
			[]want{{field.ErrorTypeForbidden, "metadata.namespace", "not allowed on this type"}}},
		{"service name must be DNS-1035", defaulted(&corev1.Service{ObjectMeta: meta("1web"), Spec: corev1.ServiceSpec{
			Ports: []corev1.ServicePort{{Port: 80}}}}),
			[]want{{field.ErrorTypeInvalid, "metadata.name", "DNS-1035 label"}}},
		{"unknown kind gets metadata checks", &corev1.PodTemplate{ObjectMeta: metav1.ObjectMeta{Name: "BAD", Namespace: "default"},
			Template: corev1.PodTemplateSpec{Spec: defaulted(&corev1.Pod{Spec: podSpec()}).Spec}},
			[]want{{field.ErrorTypeInvalid, "metadata.name", ""}}},
		{"valid pod", pod(nil), nil},
		{"valid namespace", defaulted(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { expect(t, validation.Validate(tc.obj), tc.wants...) })
	}
}

func TestPod(t *testing.T) {
	tests := []struct {
		name  string
		mut   func(*corev1.Pod)
		wants []want
	}{
		{"no containers", func(p *corev1.Pod) { p.Spec.Containers = nil },
			[]want{{field.ErrorTypeRequired, "spec.containers", ""}}},
		{"image required", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" },
			[]want{{field.ErrorTypeRequired, "spec.containers[0].image", ""}}},
		{"image whitespace", func(p *corev1.Pod) { p.Spec.Containers[0].Image = " nginx" },
			[]want{{field.ErrorTypeInvalid, "spec.containers[0].image", "must not have leading or trailing whitespace"}}},
		{"container name invalid", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "App" },
			[]want{{field.ErrorTypeInvalid, "spec.containers[0].name", "RFC 1123 label"}}},
		{"container name required", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "" },
			[]want{{field.ErrorTypeRequired, "spec.containers[0].name", ""}}},
		{"duplicate names across init and regular", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "app", Image: "busybox"}}
		}, []want{{field.ErrorTypeDuplicate, "spec.containers[0].name", `"app"`}}},
		{"port out of range", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 70000 },
			[]want{{field.ErrorTypeInvalid, "spec.containers[0].ports[0].containerPort", "between 1 and 65535"}}},
		{"port required", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 0 },
			[]want{{field.ErrorTypeRequired, "spec.containers[0].ports[0].containerPort", ""}}},
		{"port name too long", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Name = "a-very-long-port-name" },
			[]want{{field.ErrorTypeInvalid, "spec.containers[0].ports[0].name", "must be no more than 15 characters"}}},
		{"duplicate port name", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: "http", ContainerPort: 81})
		}, []want{{field.ErrorTypeDuplicate, "spec.containers[0].ports[1].name", ""}}},
		{"bad protocol", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = "ICMP" },
			[]want{{field.ErrorTypeNotSupported, "spec.containers[0].ports[0].protocol", `supported values: "SCTP", "TCP", "UDP"`}}},
		{"env name", func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A=B"}, {Name: ""}} },
			[]want{{field.ErrorTypeInvalid, "spec.containers[0].env[0].name", ""}, {field.ErrorTypeRequired, "spec.containers[0].env[1].name", ""}}},
		{"env valueFrom two sources", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{
				ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, Key: "k"},
				SecretKeyRef:    &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k"}}}}
		}, []want{{field.ErrorTypeInvalid, "spec.containers[0].env[0].valueFrom", "may not have more than one field specified at a time"}}},
		{"requests above limits", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}
		}, []want{{field.ErrorTypeInvalid, "spec.containers[0].resources.requests", "must be less than or equal to cpu limit of 1"}}},
		{"negative quantity", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("-1")}
		}, []want{{field.ErrorTypeInvalid, "spec.containers[0].resources.limits[memory]", "must be greater than or equal to 0"}}},
		{"unknown native resource", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"gpu": resource.MustParse("1")}
		}, []want{{field.ErrorTypeInvalid, "spec.containers[0].resources.limits[gpu]", "must be a standard resource for containers"}}},
		{"restartPolicy enum", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" },
			[]want{{field.ErrorTypeNotSupported, "spec.restartPolicy", `supported values: "Always", "OnFailure", "Never"`}}},
		{"dnsPolicy enum", func(p *corev1.Pod) { p.Spec.DNSPolicy = "Google" },
			[]want{{field.ErrorTypeNotSupported, "spec.dnsPolicy", ""}}},
		{"dnsPolicy None needs config", func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone },
			[]want{{field.ErrorTypeRequired, "spec.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"}}},
		{"duplicate volume", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		}, []want{{field.ErrorTypeDuplicate, "spec.volumes[1].name", ""}}},
		{"two volume sources", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{
				EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}}}
		}, []want{{field.ErrorTypeForbidden, "spec.volumes[0].hostPath", "may not specify more than 1 volume type"}}},
		{"secret volume needs secretName", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}}}
		}, []want{{field.ErrorTypeRequired, "spec.volumes[0].secret.secretName", ""}}},
		{"bad defaultMode", func(p *corev1.Pod) {
			m := int32(01000)
			p.Spec.Volumes = []corev1.Volume{{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, DefaultMode: &m}}}}
		}, []want{{field.ErrorTypeInvalid, "spec.volumes[0].configMap.defaultMode", "must be a number between 0 and 0777"}}},
		{"mount of unknown volume", func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "nope", MountPath: "/data"}}
		}, []want{{field.ErrorTypeNotFound, "spec.containers[0].volumeMounts[0].name", `"nope"`}}},
		{"mount path required", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v"}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "v"}}
		}, []want{{field.ErrorTypeRequired, "spec.containers[0].volumeMounts[0].mountPath", ""}}},
		{"probe without handler", func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{} },
			[]want{{field.ErrorTypeRequired, "spec.containers[0].readinessProbe", "must specify a handler type"}}},
		{"probe with two handlers", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				Exec: &corev1.ExecAction{Command: []string{"true"}}, TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}}
		}, []want{{field.ErrorTypeForbidden, "spec.containers[0].livenessProbe.tcpSocket", "may not specify more than 1 handler type"}}},
		{"liveness successThreshold", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{SuccessThreshold: 2, ProbeHandler: corev1.ProbeHandler{
				Exec: &corev1.ExecAction{Command: []string{"true"}}}}
		}, []want{{field.ErrorTypeInvalid, "spec.containers[0].livenessProbe.successThreshold", "must be 1"}}},
		{"toleration key empty needs Exists", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpEqual, Value: "x"}}
		}, []want{{field.ErrorTypeInvalid, "spec.tolerations[0].operator", "operator must be Exists when `key` is empty"}}},
		{"toleration Exists with value", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Value: "x"}}
		}, []want{{field.ErrorTypeInvalid, "spec.tolerations[0].operator", "value must be empty when `operator` is 'Exists'"}}},
		{"tolerationSeconds needs NoExecute", func(p *corev1.Pod) {
			s := int64(5)
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: &s}}
		}, []want{{field.ErrorTypeInvalid, "spec.tolerations[0].effect", "effect must be 'NoExecute' when `tolerationSeconds` is set"}}},
		{"nodeSelector label syntax", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"bad key": "v"} },
			[]want{{field.ErrorTypeInvalid, "spec.nodeSelector", ""}}},
		{"node affinity without terms", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{}}}
		}, []want{{field.ErrorTypeRequired, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms", "must have at least one node selector term"}}},
		{"pod affinity topologyKey", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 200}}}}
		}, []want{
			{field.ErrorTypeInvalid, "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight", "must be in the range 1-100"},
			{field.ErrorTypeRequired, "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey", "can not be empty"},
		}},
		{"init container probe", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox",
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}}}
		}, []want{{field.ErrorTypeForbidden, "spec.initContainers[0].readinessProbe", "may not be set for init containers without restartPolicy=Always"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { expect(t, validation.Validate(pod(tc.mut)), tc.wants...) })
	}
}

func TestPodValidVariants(t *testing.T) {
	p := pod(func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "data"}, {Name: "cfg", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}}}}}
		c := &p.Spec.Containers[0]
		c.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "cfg", MountPath: "/etc/cfg"}}
		c.Env = []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
		c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("http")}}}
		c.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}
		p.Spec.InitContainers = []corev1.Container{{Name: "sidecar", Image: "envoy", RestartPolicy: ptr(corev1.ContainerRestartPolicyAlways),
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(9901)}}}}}
		p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	})
	defaults.DefaultTolerations(p)
	expect(t, validation.Validate(p))
}

func TestPodUpdate(t *testing.T) {
	old := pod(func(p *corev1.Pod) { p.ResourceVersion = "1" })
	tests := []struct {
		name  string
		mut   func(*corev1.Pod)
		wants []want
	}{
		{"image change allowed", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.28" }, nil},
		{"labels change allowed", func(p *corev1.Pod) { p.Labels["tier"] = "fe" }, nil},
		{"added toleration allowed", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists})
		}, nil},
		{"binding unscheduled pod allowed", func(p *corev1.Pod) { p.Spec.NodeName = "node-1" }, nil},
		{"port change forbidden", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 8080 },
			[]want{{field.ErrorTypeForbidden, "spec", "pod updates may not change fields other than `spec.containers[*].image`"}}},
		{"adding a container forbidden", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "two", Image: "x"})
		}, []want{{field.ErrorTypeForbidden, "spec.containers", "pod updates may not add or remove containers"}}},
		{"activeDeadlineSeconds set from nil allowed", func(p *corev1.Pod) {
			p.Spec.ActiveDeadlineSeconds = ptr(int64(10))
		}, nil},
		{"name change forbidden", func(p *corev1.Pod) { p.Name = "other" },
			[]want{{field.ErrorTypeInvalid, "metadata.name", "field is immutable"}}},
		{"resourceVersion required", func(p *corev1.Pod) { p.ResourceVersion = "" },
			[]want{{field.ErrorTypeInvalid, "metadata.resourceVersion", "must be specified for an update"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := old.DeepCopy()
			tc.mut(p)
			expect(t, validation.ValidateUpdate(p, old), tc.wants...)
		})
	}

	bound := old.DeepCopy()
	bound.Spec.NodeName = "node-1"
	moved := bound.DeepCopy()
	moved.Spec.NodeName = "node-2"
	expect(t, validation.ValidateUpdate(moved, bound), want{field.ErrorTypeForbidden, "spec", "pod updates may not change fields"})

	withDeadline := old.DeepCopy()
	withDeadline.Spec.ActiveDeadlineSeconds = ptr(int64(10))
	raised := withDeadline.DeepCopy()
	raised.Spec.ActiveDeadlineSeconds = ptr(int64(20))
	expect(t, validation.ValidateUpdate(raised, withDeadline),
		want{field.ErrorTypeInvalid, "spec.activeDeadlineSeconds", "must be less than or equal to previous value"})

	tolerated := old.DeepCopy()
	tolerated.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}
	removed := tolerated.DeepCopy()
	removed.Spec.Tolerations = nil
	expect(t, validation.ValidateUpdate(removed, tolerated),
		want{field.ErrorTypeForbidden, "spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"})

	gated := old.DeepCopy()
	gated.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
	ungated := gated.DeepCopy()
	ungated.Spec.SchedulingGates = nil
	expect(t, validation.ValidateUpdate(ungated, gated))
	expect(t, validation.ValidateUpdate(gated, old),
		want{field.ErrorTypeForbidden, "spec.schedulingGates[0].name", "only deletion is allowed"})
}

func TestPodStatusUpdate(t *testing.T) {
	old := pod(func(p *corev1.Pod) { p.ResourceVersion = "1"; p.Spec.NodeName = "n1" })
	running := old.DeepCopy()
	running.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.5", PodIPs: []corev1.PodIP{{IP: "10.0.0.5"}},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	expect(t, validation.ValidateStatusUpdate(running, old))

	bad := old.DeepCopy()
	bad.Status = corev1.PodStatus{Phase: "Sleeping", Conditions: []corev1.PodCondition{{Status: corev1.ConditionTrue}},
		PodIPs: []corev1.PodIP{{IP: "not-an-ip"}}}
	expect(t, validation.ValidateStatusUpdate(bad, old),
		want{field.ErrorTypeNotSupported, "status.phase", ""},
		want{field.ErrorTypeRequired, "status.conditions[0].type", ""},
		want{field.ErrorTypeInvalid, "status.podIPs[0].ip", ""})

	done := old.DeepCopy()
	done.Status.Phase = corev1.PodSucceeded
	back := done.DeepCopy()
	back.Status.Phase = corev1.PodRunning
	expect(t, validation.ValidateStatusUpdate(back, done), want{field.ErrorTypeForbidden, "status.phase", "terminal"})

	moved := old.DeepCopy()
	moved.Spec.NodeName = "n2"
	expect(t, validation.ValidateStatusUpdate(moved, old), want{field.ErrorTypeForbidden, "status.nodeName", "may not be changed directly"})
}

func service(mut func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: meta("web"), Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
		Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	if mut != nil {
		mut(s)
	}
	defaults.Default(s)
	return s
}

func TestService(t *testing.T) {
	tests := []struct {
		name  string
		mut   func(*corev1.Service)
		wants []want
	}{
		{"valid", nil, nil},
		{"valid headless without ports", func(s *corev1.Service) { s.Spec.ClusterIP = "None"; s.Spec.Ports = nil }, nil},
		{"valid ExternalName", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ExternalName = "db.example.com."
			s.Spec.Ports = nil
		}, nil},
		{"ports required", func(s *corev1.Service) { s.Spec.Ports = nil },
			[]want{{field.ErrorTypeRequired, "spec.ports", ""}}},
		{"port range", func(s *corev1.Service) { s.Spec.Ports[0].Port = 0; s.Spec.Ports[0].TargetPort = intstr.FromInt32(80) },
			[]want{{field.ErrorTypeInvalid, "spec.ports[0].port", "must be between 1 and 65535, inclusive"}}},
		{"names required with several ports", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Port: 80}, {Port: 443}}
		}, []want{{field.ErrorTypeRequired, "spec.ports[0].name", ""}, {field.ErrorTypeRequired, "spec.ports[1].name", ""}}},
		{"duplicate port names", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 80}, {Name: "a", Port: 443}}
		}, []want{{field.ErrorTypeDuplicate, "spec.ports[1].name", ""}}},
		{"nodePort out of range", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 80
		}, []want{{field.ErrorTypeInvalid, "spec.ports[0].nodePort", "The range of valid ports is 30000-32767"}}},
		{"nodePort on ClusterIP", func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 },
			[]want{{field.ErrorTypeForbidden, "spec.ports[0].nodePort", "may not be used when `type` is 'ClusterIP'"}}},
		{"type enum", func(s *corev1.Service) { s.Spec.Type = "Ingress" },
			[]want{{field.ErrorTypeNotSupported, "spec.type", ""}}},
		{"bad targetPort name", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("Not_Valid") },
			[]want{{field.ErrorTypeInvalid, "spec.ports[0].targetPort", ""}}},
		{"selector label syntax", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"a": "bad value"} },
			[]want{{field.ErrorTypeInvalid, "spec.selector", ""}}},
		{"bad clusterIP", func(s *corev1.Service) { s.Spec.ClusterIP = "300.1.1.1" },
			[]want{{field.ErrorTypeInvalid, "spec.clusterIP", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { expect(t, validation.Validate(service(tc.mut)), tc.wants...) })
	}

	old := service(func(s *corev1.Service) { s.ResourceVersion = "1"; s.Spec.ClusterIP = "10.96.0.10" })
	changed := old.DeepCopy()
	changed.Spec.ClusterIP = "10.96.0.11"
	expect(t, validation.ValidateUpdate(changed, old), want{field.ErrorTypeInvalid, "spec.clusterIP", "field is immutable"})
	toExternal := old.DeepCopy()
	toExternal.Spec.Type = corev1.ServiceTypeExternalName
	toExternal.Spec.ExternalName = "example.com"
	toExternal.Spec.ClusterIP = ""
	expect(t, validation.ValidateUpdate(toExternal, old))
}

func deployment(mut func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: meta("web"), Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: podSpec()},
	}}
	if mut != nil {
		mut(d)
	}
	defaults.Default(d)
	return d
}

func TestWorkloads(t *testing.T) {
	tests := []struct {
		name  string
		obj   runtime.Object
		wants []want
	}{
		{"valid deployment", deployment(nil), nil},
		{"selector mismatch", deployment(func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "other"} }),
			[]want{{field.ErrorTypeInvalid, "spec.template.metadata.labels", "`selector` does not match template `labels`"}}},
		{"selector required", deployment(func(d *appsv1.Deployment) { d.Spec.Selector = nil }),
			[]want{{field.ErrorTypeRequired, "spec.selector", ""}}},
		{"empty selector", deployment(func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} }),
			[]want{{field.ErrorTypeInvalid, "spec.selector", "empty selector is invalid for deployment"}}},
		{"negative replicas", deployment(func(d *appsv1.Deployment) { d.Spec.Replicas = ptr(int32(-1)) }),
			[]want{{field.ErrorTypeInvalid, "spec.replicas", "must be greater than or equal to 0"}}},
		{"template restartPolicy", deployment(func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }),
			[]want{{field.ErrorTypeNotSupported, "spec.template.spec.restartPolicy", `supported values: "Always"`}}},
		{"template container image", deployment(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" }),
			[]want{{field.ErrorTypeRequired, "spec.template.spec.containers[0].image", ""}}},
		{"both zero", deployment(func(d *appsv1.Deployment) {
			zero := intstr.FromInt32(0)
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &zero, MaxUnavailable: &zero}
		}), []want{{field.ErrorTypeInvalid, "spec.strategy.rollingUpdate.maxUnavailable", "may not be 0 when `maxSurge` is 0"}}},
		{"recreate with rollingUpdate", deployment(func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{}}
		}), []want{{field.ErrorTypeForbidden, "spec.strategy.rollingUpdate", ""}}},
		{"maxUnavailable over 100%", deployment(func(d *appsv1.Deployment) {
			v := intstr.FromString("150%")
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxUnavailable: &v}
		}), []want{{field.ErrorTypeInvalid, "spec.strategy.rollingUpdate.maxUnavailable", "must not be greater than 100%"}}},
		{"replicaset mismatch", defaulted(&appsv1.ReplicaSet{ObjectMeta: meta("rs"), Spec: appsv1.ReplicaSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "frontend"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"tier": "nginx"}}, Spec: podSpec()}}}),
			[]want{{field.ErrorTypeInvalid, "spec.template.metadata.labels", `Invalid value: {"tier":"nginx"}: ` + "`selector` does not match template `labels`"}}},
		{"valid statefulset with claim mount", defaulted(&appsv1.StatefulSet{ObjectMeta: meta("db"), Spec: appsv1.StatefulSetSpec{
			Selector:             &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}}, Spec: func() corev1.PodSpec {
				s := podSpec()
				s.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/db"}}
				return s
			}()}}}), nil},
		{"statefulset podManagementPolicy", defaulted(&appsv1.StatefulSet{ObjectMeta: meta("db"), Spec: appsv1.StatefulSetSpec{
			PodManagementPolicy: "Random",
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template:            corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}}, Spec: podSpec()}}}),
			[]want{{field.ErrorTypeNotSupported, "spec.podManagementPolicy", ""}}},
		{"daemonset surge and unavailable", defaulted(&appsv1.DaemonSet{ObjectMeta: meta("agent"), Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType, RollingUpdate: &appsv1.RollingUpdateDaemonSet{
				MaxUnavailable: ptr(intstr.FromInt32(1)), MaxSurge: ptr(intstr.FromInt32(1))}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}}, Spec: podSpec()}}}),
			[]want{{field.ErrorTypeInvalid, "spec.updateStrategy.rollingUpdate.maxSurge", "may not be set when maxUnavailable is non-zero"}}},
		{"rc selector required", defaulted(&corev1.ReplicationController{ObjectMeta: meta("rc"), Spec: corev1.ReplicationControllerSpec{
			Template: &corev1.PodTemplateSpec{Spec: podSpec()}}}),
			[]want{{field.ErrorTypeRequired, "spec.selector", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { expect(t, validation.Validate(tc.obj), tc.wants...) })
	}

	old := deployment(func(d *appsv1.Deployment) { d.ResourceVersion = "1" })
	scaled := old.DeepCopy()
	scaled.Spec.Replicas = ptr(int32(5))
	expect(t, validation.ValidateUpdate(scaled, old))
	reselect := old.DeepCopy()
	reselect.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "v": "2"}}
	reselect.Spec.Template.Labels["v"] = "2"
	expect(t, validation.ValidateUpdate(reselect, old), want{field.ErrorTypeInvalid, "spec.selector", "field is immutable"})

	ss := validStatefulSet()
	ss.ResourceVersion = "1"
	ssChanged := ss.DeepCopy()
	ssChanged.Spec.ServiceName = "other"
	expect(t, validation.ValidateUpdate(ssChanged, ss), want{field.ErrorTypeForbidden, "spec", "updates to statefulset spec for fields other than"})
}

func validStatefulSet() *appsv1.StatefulSet {
	return defaulted(&appsv1.StatefulSet{ObjectMeta: meta("db"), Spec: appsv1.StatefulSetSpec{ServiceName: "db",
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}}, Spec: podSpec()}}})
}

func job(mut func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: meta("pi"), Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: podSpec()}}}
	j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	if mut != nil {
		mut(j)
	}
	defaults.Default(j)
	return j
}

func TestBatch(t *testing.T) {
	cron := func(schedule string) *batchv1.CronJob {
		cj := &batchv1.CronJob{ObjectMeta: meta("tick"), Spec: batchv1.CronJobSpec{Schedule: schedule,
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: podSpec()}}}}}
		cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		return defaulted(cj)
	}
	tests := []struct {
		name  string
		obj   runtime.Object
		wants []want
	}{
		{"valid job", job(nil), nil},
		{"job with generated selector", job(func(j *batchv1.Job) { j.UID = "abc" }), nil},
		{"job restartPolicy Always", job(func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "" }),
			[]want{{field.ErrorTypeNotSupported, "spec.template.spec.restartPolicy", `supported values: "OnFailure", "Never"`}}},
		{"negative parallelism", job(func(j *batchv1.Job) { j.Spec.Parallelism = ptr(int32(-1)) }),
			[]want{{field.ErrorTypeInvalid, "spec.parallelism", "must be greater than or equal to 0"}}},
		{"manual selector required", job(func(j *batchv1.Job) { j.Spec.ManualSelector = ptr(true) }),
			[]want{{field.ErrorTypeRequired, "spec.selector", ""}}},
		{"indexed needs completions", job(func(j *batchv1.Job) {
			j.Spec.Parallelism = ptr(int32(2))
			j.Spec.CompletionMode = ptr(batchv1.IndexedCompletion)
		}), []want{{field.ErrorTypeRequired, "spec.completions", "when completion mode is Indexed"}}},
		{"valid cron", cron("*/5 * * * *"), nil},
		{"valid @every", cron("@every 1h30m"), nil},
		{"valid @hourly", cron("@hourly"), nil},
		{"schedule required", cron(""), []want{{field.ErrorTypeRequired, "spec.schedule", ""}}},
		{"bad schedule", cron("61 * * * *"), []want{{field.ErrorTypeInvalid, "spec.schedule", `Invalid value: "61 * * * *"`}}},
		{"TZ in schedule", cron("CRON_TZ=UTC 0 * * * *"),
			[]want{{field.ErrorTypeInvalid, "spec.schedule", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"}}},
		{"cronjob name too long", func() *batchv1.CronJob { c := cron("@daily"); c.Name = strings.Repeat("a", 53); return c }(),
			[]want{{field.ErrorTypeInvalid, "metadata.name", "must be no more than 52 characters"}}},
		{"cron job template restartPolicy", func() *batchv1.CronJob {
			c := cron("@daily")
			c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
			return c
		}(), []want{{field.ErrorTypeNotSupported, "spec.jobTemplate.spec.template.spec.restartPolicy", ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { expect(t, validation.Validate(tc.obj), tc.wants...) })
	}

	old := job(func(j *batchv1.Job) { j.UID = "abc"; j.ResourceVersion = "1" })
	changed := old.DeepCopy()
	changed.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"x": "y"}}
	changed.Spec.Template.Labels["x"] = "y"
	expect(t, validation.ValidateUpdate(changed, old),
		want{field.ErrorTypeInvalid, "spec.selector", "field is immutable"},
		want{field.ErrorTypeInvalid, "spec.template", "field is immutable"})
}

func TestConfigMapSecret(t *testing.T) {
	cm := func(data map[string]string) *corev1.ConfigMap {
		return defaulted(&corev1.ConfigMap{ObjectMeta: meta("cfg"), Data: data})
	}
	secret := func(typ corev1.SecretType, data map[string][]byte) *corev1.Secret {
		return defaulted(&corev1.Secret{ObjectMeta: meta("sec"), Type: typ, Data: data})
	}
	tests := []struct {
		name  string
		obj   runtime.Object
		wants []want
	}{
		{"valid configmap", cm(map[string]string{"app.properties": "a=b", "KEY_1": "x"}), nil},
		{"bad key", cm(map[string]string{"a/b": "x"}),
			[]want{{field.ErrorTypeInvalid, "data[a/b]", "a valid config key must consist of alphanumeric characters"}}},
		{"too big", cm(map[string]string{"a": strings.Repeat("x", 1024*1024+1)}),
			[]want{{field.ErrorTypeTooLong, "[]", "may not be more than 1048576 bytes"}}},
		{"duplicate across data and binaryData", func() *corev1.ConfigMap {
			c := cm(map[string]string{"a": "x"})
			c.BinaryData = map[string][]byte{"a": []byte("y")}
			return c
		}(), []want{{field.ErrorTypeInvalid, "data[a]", "duplicate of key present in binaryData"}}},
		{"valid secret", secret("", map[string][]byte{"password": []byte("x")}), nil},
		{"secret bad key", secret("", map[string][]byte{"bad key": nil}),
			[]want{{field.ErrorTypeInvalid, "data[bad key]", ""}}},
		{"tls secret keys", secret(corev1.SecretTypeTLS, nil),
			[]want{{field.ErrorTypeRequired, "data[tls.crt]", ""}, {field.ErrorTypeRequired, "data[tls.key]", ""}}},
		{"dockerconfigjson must be json", secret(corev1.SecretTypeDockerConfigJson, map[string][]byte{".dockerconfigjson": []byte("{")}),
			[]want{{field.ErrorTypeInvalid, "data[.dockerconfigjson]", "<secret contents redacted>"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { expect(t, validation.Validate(tc.obj), tc.wants...) })
	}

	immutableCM := cm(map[string]string{"a": "1"})
	immutableCM.Immutable = ptr(true)
	immutableCM.ResourceVersion = "1"
	edited := immutableCM.DeepCopy()
	edited.Data["a"] = "2"
	expect(t, validation.ValidateUpdate(edited, immutableCM),
		want{field.ErrorTypeForbidden, "data", "field is immutable when `immutable` is set"})
	unfrozen := immutableCM.DeepCopy()
	unfrozen.Immutable = ptr(false)
	expect(t, validation.ValidateUpdate(unfrozen, immutableCM), want{field.ErrorTypeForbidden, "immutable", ""})
	relabelled := immutableCM.DeepCopy()
	relabelled.Labels["x"] = "y"
	expect(t, validation.ValidateUpdate(relabelled, immutableCM))

	s := secret("", nil)
	s.ResourceVersion = "1"
	retyped := s.DeepCopy()
	retyped.Type = corev1.SecretTypeBasicAuth
	retyped.Data = map[string][]byte{"username": []byte("u")}
	expect(t, validation.ValidateUpdate(retyped, s), want{field.ErrorTypeInvalid, "type", "field is immutable"})
}

func TestClusterKinds(t *testing.T) {
	tests := []struct {
		name  string
		obj   runtime.Object
		wants []want
	}{
		{"namespace bad finalizer", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"},
			Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"custom"}}},
			[]want{{field.ErrorTypeInvalid, "spec.finalizers[0]", "name is neither a standard finalizer name nor is it fully qualified"}}},
		{"node bad podCIDR and taint", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{
			PodCIDR: "10.0.0.0/33", Taints: []corev1.Taint{{Key: "k", Effect: "Sometimes"}, {Key: "d", Effect: corev1.TaintEffectNoSchedule},
				{Key: "d", Effect: corev1.TaintEffectNoSchedule}}}},
			[]want{{field.ErrorTypeInvalid, "spec.podCIDR", ""}, {field.ErrorTypeNotSupported, "spec.taints[0].effect", ""},
				{field.ErrorTypeDuplicate, "spec.taints[2]", "taints must be unique by key and effect pair"}}},
		{"valid node", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24"}}, nil},
		{"priority class too high", defaulted(&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 2000000000}),
			[]want{{field.ErrorTypeForbidden, "value", "maximum allowed value of a user defined priority is 1000000000"}}},
		{"priority class system prefix", defaulted(&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-mine"}, Value: 5}),
			[]want{{field.ErrorTypeForbidden, "metadata.name", "reserved for system use only"}}},
		{"system class ok", defaulted(&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical"}, Value: 2000001000}), nil},
		{"pdb both set", &policyv1.PodDisruptionBudget{ObjectMeta: meta("pdb"), Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr(intstr.FromInt32(1)), MaxUnavailable: ptr(intstr.FromInt32(1))}},
			[]want{{field.ErrorTypeInvalid, "spec", "minAvailable and maxUnavailable cannot be both set"}}},
		{"role verbs", &rbacv1.Role{ObjectMeta: meta("r"), Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}}}},
			[]want{{field.ErrorTypeRequired, "rules[0].verbs", "verbs must contain at least one value"}}},
		{"rolebinding bad roleRef", defaulted(&rbacv1.RoleBinding{ObjectMeta: meta("rb"), RoleRef: rbacv1.RoleRef{Kind: "Group", Name: "x"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}}}),
			[]want{{field.ErrorTypeNotSupported, "roleRef.kind", ""}}},
		{"valid clusterrolebinding", defaulted(&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "crb"},
			RoleRef:  rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: "default"}, {Kind: "Group", Name: "devs"}}}), nil},
		{"endpointslice addressType", &discoveryv1.EndpointSlice{ObjectMeta: meta("es"), AddressType: "IPv5"},
			[]want{{field.ErrorTypeNotSupported, "addressType", ""}}},
		{"endpointslice address family", defaulted(&discoveryv1.EndpointSlice{ObjectMeta: meta("es"), AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"fd00::1"}}}}),
			[]want{{field.ErrorTypeInvalid, "endpoints[0].addresses[0]", "must be an IPv4 address"}}},
		{"event namespace mismatch", &corev1.Event{ObjectMeta: meta("ev"), InvolvedObject: corev1.ObjectReference{Namespace: "other"}},
			[]want{{field.ErrorTypeInvalid, "involvedObject.namespace", "does not match event.namespace"}}},
		{"quota negative", &corev1.ResourceQuota{ObjectMeta: meta("q"), Spec: corev1.ResourceQuotaSpec{
			Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("-1")}}},
			[]want{{field.ErrorTypeInvalid, "spec.hard[pods]", "must be greater than or equal to 0"}}},
		{"limitrange min over max", &corev1.LimitRange{ObjectMeta: meta("lr"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer, Min: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
			Max: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}},
			[]want{{field.ErrorTypeInvalid, "spec.limits[0].min[cpu]", "is greater than max value"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { expect(t, validation.Validate(tc.obj), tc.wants...) })
	}

	ns := defaulted(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", ResourceVersion: "1"}})
	term := ns.DeepCopy()
	term.Status.Phase = "Gone"
	expect(t, validation.ValidateStatusUpdate(term, ns), want{field.ErrorTypeNotSupported, "status.phase", ""})

	mismatch := validation.ValidateUpdate(&corev1.Pod{}, &corev1.Service{})
	expect(t, mismatch, want{field.ErrorTypeInternal, "<nil>", "cannot update a *v1.Service with a *v1.Pod"})
}

func TestWorkloadStatus(t *testing.T) {
	old := deployment(func(d *appsv1.Deployment) { d.ResourceVersion = "1" })
	ok := old.DeepCopy()
	ok.Status = appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 2, UpdatedReplicas: 3}
	expect(t, validation.ValidateStatusUpdate(ok, old))
	bad := old.DeepCopy()
	bad.Status = appsv1.DeploymentStatus{Replicas: -1, ReadyReplicas: 2}
	expect(t, validation.ValidateStatusUpdate(bad, old),
		want{field.ErrorTypeInvalid, "status.replicas", ""},
		want{field.ErrorTypeInvalid, "status.readyReplicas", "cannot be greater than status.replicas"})
}

func ptr[T any](v T) *T { return &v }
