package admission

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
)

// Service account token volume, as upstream's ServiceAccount admission mounts it.
const (
	// DefaultServiceAccount is the account of pods that name none.
	DefaultServiceAccount = "default"
	// ServiceAccountMountPath is where every container finds token, ca.crt and namespace.
	ServiceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	// ServiceAccountVolumePrefix starts the projected volume's name (5 random characters follow).
	ServiceAccountVolumePrefix = "kube-api-access-"
	// ServiceAccountTokenExpiration is the requested token lifetime: an hour and a
	// bit, so that tokens are recognisably the automounted ones.
	ServiceAccountTokenExpiration = int64(3607)
	// RootCAConfigMap is the ConfigMap (key ca.crt) the root-CA publisher keeps in
	// every namespace.
	RootCAConfigMap     = "kube-root-ca.crt"
	mirrorPodAnnotation = "kubernetes.io/config.mirror"
)

var podsResource = schema.GroupResource{Resource: "pods"}

// ServiceAccount is upstream's ServiceAccount admission plugin for pods on
// create: a pod without spec.serviceAccountName runs as "default"; a pod naming
// a ServiceAccount that does not exist is refused; unless automounting is off
// (spec.automountServiceAccountToken on the pod, else on the ServiceAccount),
// the pod gets a kube-api-access-<random> projected volume (a bound token, the
// cluster CA, the namespace) mounted read-only in every container at
// ServiceAccountMountPath; and a pod without imagePullSecrets gets the
// ServiceAccount's. Mirror pods (the kubelet's static pods) are left alone: they
// cannot use API credentials.
type ServiceAccount struct {
	// Get returns the ServiceAccount, or a NotFound error. Nil only names the
	// account (servers where nothing creates ServiceAccounts, such as in-process
	// test servers without the controllers).
	Get func(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
}

// serviceAccountGetter reads ServiceAccounts through r.
func serviceAccountGetter(r Reader) func(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	return func(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
		obj, err := r.Get(ctx, corev1.SchemeGroupVersion.WithResource("serviceaccounts").GroupResource(), namespace, name)
		if err != nil {
			return nil, err
		}
		sa, ok := obj.(*corev1.ServiceAccount)
		if !ok {
			return nil, fmt.Errorf("serviceaccount %s/%s: unexpected %T", namespace, name, obj)
		}
		return sa, nil
	}
}

// Name implements Plugin.
func (p *ServiceAccount) Name() string { return "ServiceAccount" }

// Admit implements Mutator.
func (p *ServiceAccount) Admit(ctx context.Context, a *Attributes) error {
	if a.Operation != Create || a.Resource.Group != "" || a.Resource.Resource != "pods" || a.Subresource != "" {
		return nil
	}
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return nil
	}
	if _, mirror := pod.Annotations[mirrorPodAnnotation]; mirror {
		return nil
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = DefaultServiceAccount
	}
	pod.Spec.DeprecatedServiceAccount = pod.Spec.ServiceAccountName
	if p.Get == nil {
		return nil
	}
	namespace := a.Namespace
	if namespace == "" {
		namespace = pod.Namespace
	}
	sa, err := p.Get(ctx, namespace, pod.Spec.ServiceAccountName)
	if apierrors.IsNotFound(err) {
		return apierrors.NewForbidden(podsResource, pod.Name,
			fmt.Errorf("error looking up service account %s/%s: serviceaccount %q not found", namespace, pod.Spec.ServiceAccountName, pod.Spec.ServiceAccountName))
	}
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("looking up service account %s/%s: %w", namespace, pod.Spec.ServiceAccountName, err))
	}
	if automount(pod, sa) {
		mountToken(pod)
	}
	if len(pod.Spec.ImagePullSecrets) == 0 && len(sa.ImagePullSecrets) > 0 {
		pod.Spec.ImagePullSecrets = append([]corev1.LocalObjectReference(nil), sa.ImagePullSecrets...)
	}
	return nil
}

// automount: the pod's setting wins, then the ServiceAccount's; the default is on.
func automount(pod *corev1.Pod, sa *corev1.ServiceAccount) bool {
	if pod.Spec.AutomountServiceAccountToken != nil {
		return *pod.Spec.AutomountServiceAccountToken
	}
	if sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

// mountToken adds the projected volume and mounts it in every container that
// has nothing mounted at the path yet (a pod may bring its own).
func mountToken(pod *corev1.Pod) {
	name := tokenVolumeName(pod)
	mounted := false
	mount := func(cs []corev1.Container) {
		for i := range cs {
			if hasMountAt(cs[i].VolumeMounts, ServiceAccountMountPath) {
				continue
			}
			cs[i].VolumeMounts = append(cs[i].VolumeMounts, corev1.VolumeMount{
				Name: name, ReadOnly: true, MountPath: ServiceAccountMountPath})
			mounted = true
		}
	}
	mount(pod.Spec.InitContainers)
	mount(pod.Spec.Containers)
	if !mounted {
		return
	}
	for _, v := range pod.Spec.Volumes {
		if v.Name == name {
			return
		}
	}
	pod.Spec.Volumes = append(pod.Spec.Volumes, tokenVolume(name))
}

// tokenVolumeName picks a kube-api-access-xxxxx name no volume of the pod uses.
func tokenVolumeName(pod *corev1.Pod) string {
	for {
		name := ServiceAccountVolumePrefix + utilrand.String(5)
		taken := false
		for _, v := range pod.Spec.Volumes {
			taken = taken || v.Name == name
		}
		if !taken {
			return name
		}
	}
}

func hasMountAt(ms []corev1.VolumeMount, path string) bool {
	for _, m := range ms {
		if m.MountPath == path {
			return true
		}
	}
	return false
}

func tokenVolume(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](0o644),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				ExpirationSeconds: ptr.To(ServiceAccountTokenExpiration), Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: RootCAConfigMap},
				Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
				Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}}}
}
