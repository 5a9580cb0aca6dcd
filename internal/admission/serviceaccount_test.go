package admission

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

func saPlugin(accounts ...*corev1.ServiceAccount) *ServiceAccount {
	return &ServiceAccount{Get: func(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
		for _, sa := range accounts {
			if sa.Namespace == ns && sa.Name == name {
				return sa, nil
			}
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, name)
	}}
}

func admitSAPod(t *testing.T, p *ServiceAccount, pod *corev1.Pod) error {
	t.Helper()
	return p.Admit(context.Background(), &Attributes{Operation: Create, Resource: schema.GroupVersionResource{Version: "v1", Resource: "pods"},
		Namespace: pod.Namespace, Name: pod.Name, Object: pod})
}

func testPod() *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init"}},
		Containers: []corev1.Container{{Name: "a"}, {Name: "b", VolumeMounts: []corev1.VolumeMount{
			{Name: "own", MountPath: ServiceAccountMountPath}}}},
	}}
}

func TestServiceAccountMountsTheTokenVolume(t *testing.T) {
	p := saPlugin(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "ns"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}}})
	pod := testPod()
	if err := admitSAPod(t, p, pod); err != nil {
		t.Fatal(err)
	}
	if pod.Spec.ServiceAccountName != "default" {
		t.Errorf("serviceAccountName %q", pod.Spec.ServiceAccountName)
	}
	if len(pod.Spec.Volumes) != 1 || !strings.HasPrefix(pod.Spec.Volumes[0].Name, ServiceAccountVolumePrefix) ||
		len(pod.Spec.Volumes[0].Name) != len(ServiceAccountVolumePrefix)+5 {
		t.Fatalf("volumes %+v", pod.Spec.Volumes)
	}
	v := pod.Spec.Volumes[0]
	src := v.Projected.Sources
	if len(src) != 3 || *src[0].ServiceAccountToken.ExpirationSeconds != 3607 || src[0].ServiceAccountToken.Path != "token" ||
		src[1].ConfigMap.Name != "kube-root-ca.crt" || src[1].ConfigMap.Items[0].Key != "ca.crt" ||
		src[2].DownwardAPI.Items[0].FieldRef.FieldPath != "metadata.namespace" {
		t.Fatalf("projection %+v", src)
	}
	for _, c := range []corev1.Container{pod.Spec.InitContainers[0], pod.Spec.Containers[0]} {
		if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != v.Name || !c.VolumeMounts[0].ReadOnly || c.VolumeMounts[0].MountPath != ServiceAccountMountPath {
			t.Errorf("container %s mounts %+v", c.Name, c.VolumeMounts)
		}
	}
	if m := pod.Spec.Containers[1].VolumeMounts; len(m) != 1 || m[0].Name != "own" {
		t.Errorf("a container's own mount at the path was replaced: %+v", m)
	}
	if len(pod.Spec.ImagePullSecrets) != 1 || pod.Spec.ImagePullSecrets[0].Name != "pull" {
		t.Errorf("imagePullSecrets %+v", pod.Spec.ImagePullSecrets)
	}
}

func TestServiceAccountAutomountOff(t *testing.T) {
	off := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "off", Namespace: "ns"}, AutomountServiceAccountToken: ptr.To(false)}
	on := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "ns"}}
	p := saPlugin(off, on)
	for name, tc := range map[string]struct {
		sa         string
		podSetting *bool
		want       int
	}{
		"sa says no":       {"off", nil, 0},
		"pod says no":      {"default", ptr.To(false), 0},
		"pod overrides sa": {"off", ptr.To(true), 1},
		"default mounts":   {"default", nil, 1},
	} {
		pod := testPod()
		pod.Spec.ServiceAccountName, pod.Spec.AutomountServiceAccountToken = tc.sa, tc.podSetting
		if err := admitSAPod(t, p, pod); err != nil {
			t.Fatal(err)
		}
		if len(pod.Spec.Volumes) != tc.want {
			t.Errorf("%s: %d volumes, want %d", name, len(pod.Spec.Volumes), tc.want)
		}
	}
}

func TestServiceAccountMissingIsForbidden(t *testing.T) {
	pod := testPod()
	pod.Spec.ServiceAccountName = "ghost"
	err := admitSAPod(t, saPlugin(), pod)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `serviceaccount "ghost" not found`) {
		t.Fatalf("got %v", err)
	}
	mirror := testPod()
	mirror.Annotations = map[string]string{mirrorPodAnnotation: "x"}
	if err := admitSAPod(t, saPlugin(), mirror); err != nil || len(mirror.Spec.Volumes) != 0 {
		t.Fatalf("mirror pod: %v %+v", err, mirror.Spec.Volumes)
	}
}
