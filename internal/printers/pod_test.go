package printers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func waiting(name, reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func running(name string, ready bool) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Ready: ready, Started: ptr(true),
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Hour)}}}
}

func terminated(name, reason string, exitCode, signal int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		Reason: reason, ExitCode: exitCode, Signal: signal, FinishedAt: ago(time.Minute)}}}
}

func withRestarts(s corev1.ContainerStatus, n int32, lastFinished time.Duration) corev1.ContainerStatus {
	s.RestartCount = n
	s.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: 1, Reason: "Error", FinishedAt: ago(lastFinished)}}
	return s
}

// pod builds a pod with one app container "app" (plus init containers named in initNames).
func pod(phase corev1.PodPhase, initNames []string, init, app []corev1.ContainerStatus) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "default", CreationTimestamp: ago(10 * time.Minute)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
		Status:     corev1.PodStatus{Phase: phase, InitContainerStatuses: init, ContainerStatuses: app},
	}
	for _, n := range initNames {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: n})
	}
	return p
}

func TestPodStatus(t *testing.T) {
	twoApps := func(p *corev1.Pod) *corev1.Pod {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "side"})
		return p
	}
	deleting := func(p *corev1.Pod) *corev1.Pod { p.DeletionTimestamp = agoPtr(time.Second); return p }
	withCond := func(p *corev1.Pod, c corev1.PodConditionType, s corev1.ConditionStatus, reason string) *corev1.Pod {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: c, Status: s, Reason: reason})
		return p
	}
	sidecar := func(p *corev1.Pod) *corev1.Pod {
		p.Spec.InitContainers[0].RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways)
		return p
	}

	tests := []struct {
		name                    string
		pod                     *corev1.Pod
		ready, status, restarts string
	}{
		{"pending, nothing reported", pod(corev1.PodPending, nil, nil, nil), "0/1", "Pending", "0"},
		{"container creating", pod(corev1.PodPending, nil, nil, []corev1.ContainerStatus{waiting("app", "ContainerCreating")}),
			"0/1", "ContainerCreating", "0"},
		{"running and ready", pod(corev1.PodRunning, nil, nil, []corev1.ContainerStatus{running("app", true)}), "1/1", "Running", "0"},
		{"running, not ready", pod(corev1.PodRunning, nil, nil, []corev1.ContainerStatus{running("app", false)}), "0/1", "Running", "0"},
		{"crash loop with restarts", pod(corev1.PodRunning, nil, nil, []corev1.ContainerStatus{
			withRestarts(waiting("app", "CrashLoopBackOff"), 3, 2*time.Minute)}), "0/1", "CrashLoopBackOff", "3 (2m ago)"},
		{"image pull error", pod(corev1.PodPending, nil, nil, []corev1.ContainerStatus{waiting("app", "ErrImagePull")}), "0/1", "ErrImagePull", "0"},
		{"image pull backoff", pod(corev1.PodPending, nil, nil, []corev1.ContainerStatus{waiting("app", "ImagePullBackOff")}), "0/1", "ImagePullBackOff", "0"},
		{"completed", pod(corev1.PodSucceeded, nil, nil, []corev1.ContainerStatus{terminated("app", "Completed", 0, 0)}), "0/1", "Completed", "0"},
		{"error", pod(corev1.PodFailed, nil, nil, []corev1.ContainerStatus{terminated("app", "Error", 1, 0)}), "0/1", "Error", "0"},
		{"oom killed", pod(corev1.PodRunning, nil, nil, []corev1.ContainerStatus{terminated("app", "OOMKilled", 137, 0)}), "0/1", "OOMKilled", "0"},
		{"signal without reason", pod(corev1.PodFailed, nil, nil, []corev1.ContainerStatus{terminated("app", "", 0, 9)}), "0/1", "Signal:9", "0"},
		{"exit code without reason", pod(corev1.PodFailed, nil, nil, []corev1.ContainerStatus{terminated("app", "", 2, 0)}), "0/1", "ExitCode:2", "0"},
		{"init running", pod(corev1.PodPending, []string{"setup"}, []corev1.ContainerStatus{running("setup", false)},
			[]corev1.ContainerStatus{waiting("app", "PodInitializing")}), "0/1", "Init:0/1", "0"},
		{"second of two inits", pod(corev1.PodPending, []string{"a", "b"}, []corev1.ContainerStatus{
			terminated("a", "Completed", 0, 0), running("b", false)}, nil), "0/1", "Init:1/2", "0"},
		{"init crash loop", pod(corev1.PodPending, []string{"setup"}, []corev1.ContainerStatus{
			withRestarts(waiting("setup", "CrashLoopBackOff"), 4, time.Minute)}, nil), "0/1", "Init:CrashLoopBackOff", "4 (60s ago)"},
		{"init failed", pod(corev1.PodPending, []string{"setup"}, []corev1.ContainerStatus{terminated("setup", "Error", 1, 0)}, nil),
			"0/1", "Init:Error", "0"},
		{"init killed", pod(corev1.PodPending, []string{"setup"}, []corev1.ContainerStatus{terminated("setup", "", 137, 9)}, nil),
			"0/1", "Init:Signal:9", "0"},
		{"init waiting PodInitializing counts", pod(corev1.PodPending, []string{"setup"}, []corev1.ContainerStatus{
			waiting("setup", "PodInitializing")}, nil), "0/1", "Init:0/1", "0"},
		{"init done, app initializing", pod(corev1.PodPending, []string{"setup"}, []corev1.ContainerStatus{
			terminated("setup", "Completed", 0, 0)}, []corev1.ContainerStatus{waiting("app", "PodInitializing")}),
			"0/1", "PodInitializing", "0"},
		{"terminating", deleting(pod(corev1.PodRunning, nil, nil, []corev1.ContainerStatus{running("app", true)})), "1/1", "Terminating", "0"},
		{"terminating on lost node", func() *corev1.Pod {
			p := deleting(pod(corev1.PodRunning, nil, nil, []corev1.ContainerStatus{running("app", true)}))
			p.Status.Reason = "NodeLost"
			return p
		}(), "1/1", "Unknown", "0"},
		{"deleted after success stays completed", deleting(pod(corev1.PodSucceeded, nil, nil,
			[]corev1.ContainerStatus{terminated("app", "Completed", 0, 0)})), "0/1", "Completed", "0"},
		{"one done, one running, pod not ready", twoApps(pod(corev1.PodRunning, nil, nil, []corev1.ContainerStatus{
			terminated("app", "Completed", 0, 0), running("side", true)})), "1/2", "NotReady", "0"},
		{"one done, one running, pod ready", withCond(twoApps(pod(corev1.PodRunning, nil, nil, []corev1.ContainerStatus{
			terminated("app", "Completed", 0, 0), running("side", true)})), corev1.PodReady, corev1.ConditionTrue, ""),
			"1/2", "Running", "0"},
		{"first container's reason wins", twoApps(pod(corev1.PodPending, nil, nil, []corev1.ContainerStatus{
			waiting("app", "ImagePullBackOff"), waiting("side", "ContainerCreating")})), "0/2", "ImagePullBackOff", "0"},
		{"restarts summed, latest time", twoApps(pod(corev1.PodRunning, nil, nil, []corev1.ContainerStatus{
			withRestarts(running("app", true), 2, time.Hour), withRestarts(running("side", true), 1, 5*time.Minute)})),
			"2/2", "Running", "3 (5m ago)"},
		{"sidecar counts as container", sidecar(pod(corev1.PodRunning, []string{"proxy"}, []corev1.ContainerStatus{
			withRestarts(running("proxy", true), 1, 3*time.Minute)}, []corev1.ContainerStatus{running("app", true)})),
			"2/2", "Running", "1 (3m ago)"},
		{"scheduling gated", withCond(pod(corev1.PodPending, nil, nil, nil), corev1.PodScheduled, corev1.ConditionFalse,
			corev1.PodReasonSchedulingGated), "0/1", "SchedulingGated", "0"},
		{"pod reason overrides phase", func() *corev1.Pod {
			p := pod(corev1.PodFailed, nil, nil, nil)
			p.Status.Reason = "Evicted"
			return p
		}(), "0/1", "Evicted", "0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, cells(t, podGK, tc.pod), map[string]any{
				"Name": "web-0", "Ready": tc.ready, "Status": tc.status, "Restarts": tc.restarts, "Age": "10m",
			})
		})
	}
}

func TestPodWideCells(t *testing.T) {
	p := pod(corev1.PodPending, nil, nil, nil)
	expect(t, cells(t, podGK, p), map[string]any{
		"IP": "<none>", "Node": "<none>", "Nominated Node": "<none>", "Readiness Gates": "<none>",
	})

	p.Spec.NodeName = "node-1"
	p.Status.NominatedNodeName = "node-2"
	p.Status.PodIP = "10.0.0.9"
	p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.5"}, {IP: "fd00::5"}}
	p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/a"}, {ConditionType: "example.com/b"}}
	p.Status.Conditions = []corev1.PodCondition{{Type: "example.com/a", Status: corev1.ConditionTrue},
		{Type: "example.com/b", Status: corev1.ConditionFalse}}
	expect(t, cells(t, podGK, p), map[string]any{
		"IP": "10.0.0.5", "Node": "node-1", "Nominated Node": "node-2", "Readiness Gates": "1/2",
	})

	p.Status.PodIPs = nil // legacy single IP field only
	expect(t, cells(t, podGK, p), map[string]any{"IP": "10.0.0.9"})
}

func TestPodRowConditions(t *testing.T) {
	tests := []struct {
		phase  corev1.PodPhase
		reason string
	}{{corev1.PodSucceeded, "Succeeded"}, {corev1.PodFailed, "Failed"}, {corev1.PodRunning, ""}}
	for _, tc := range tests {
		r := row(t, podGK, pod(tc.phase, nil, nil, nil))
		if tc.reason == "" {
			if len(r.Conditions) != 0 {
				t.Errorf("%s: conditions %v, want none", tc.phase, r.Conditions)
			}
			continue
		}
		if len(r.Conditions) != 1 || r.Conditions[0].Type != metav1.RowCompleted || r.Conditions[0].Reason != tc.reason {
			t.Errorf("%s: conditions %v, want Completed/%s", tc.phase, r.Conditions, tc.reason)
		}
	}
}
