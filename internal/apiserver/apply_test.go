package apiserver_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestApplyOnlyOwnsWhatItSends: a server-side apply owns the fields of the body as
// sent, never zero values a typed decode would add. kubectl's CSA→SSA migration
// applies a body holding only an annotation; it used to conflict on .spec.selector
// (Deployment) and .spec.ports[].targetPort (Service) with the creating manager.
func TestApplyOnlyOwnsWhatItSends(t *testing.T) {
	s := testserver.Start(t)
	ctx, c := ctxT(t), s.Client
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: labels},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}}}}
	if _, err := c.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{FieldManager: "creator"}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
	if _, err := c.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{FieldManager: "creator"}); err != nil {
		t.Fatal(err)
	}

	onlyAnnotation := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","annotations":{"a":"b"}}}`)
	out, err := c.AppsV1().Deployments("default").Patch(ctx, "web", types.ApplyPatchType, onlyAnnotation, metav1.PatchOptions{FieldManager: "annotator"})
	if err != nil {
		t.Fatalf("applying only an annotation: %v", err)
	}
	if out.Annotations["a"] != "b" || out.Spec.Selector == nil || out.Spec.Template.Spec.Containers[0].Image != "nginx" {
		t.Fatalf("apply of an annotation changed other fields: %+v", out)
	}
	for _, mf := range out.ManagedFields {
		if mf.Manager == "annotator" && mf.FieldsV1 != nil && string(mf.FieldsV1.Raw) != `{"f:metadata":{"f:annotations":{"f:a":{}}}}` {
			t.Fatalf("annotator owns more than it sent: %s", mf.FieldsV1.Raw)
		}
	}

	// A port without targetPort: the applier must not claim targetPort (0 vs 8080).
	ports := []byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"ports":[{"port":80}]}}`)
	got, err := c.CoreV1().Services("default").Patch(ctx, "web", types.ApplyPatchType, ports, metav1.PatchOptions{FieldManager: "ports"})
	if err != nil {
		t.Fatalf("applying a port without targetPort: %v", err)
	}
	if got.Spec.Ports[0].TargetPort.IntValue() != 8080 {
		t.Fatalf("targetPort = %v, want 8080 kept", got.Spec.Ports[0].TargetPort)
	}

	// A real conflict is still one.
	conflicting := []byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"ports":[{"port":80,"targetPort":9090}]}}`)
	_, err = c.CoreV1().Services("default").Patch(ctx, "web", types.ApplyPatchType, conflicting, metav1.PatchOptions{FieldManager: "ports"})
	if !apierrors.IsConflict(err) {
		t.Fatalf("changing another manager's targetPort: want 409 Conflict, got %v", err)
	}
}

// TestDeleteCollectionHonoursSelectors: DELETE on a collection deletes what the
// label and field selectors match, and nothing else.
func TestDeleteCollectionHonoursSelectors(t *testing.T) {
	s := testserver.Start(t)
	ctx, c := ctxT(t), s.Client
	for _, name := range []string{"a1", "a2", "b1"} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"set": name[:1]}}}
		if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	err := c.CoreV1().ConfigMaps("default").DeleteCollection(ctx, metav1.DeleteOptions{},
		metav1.ListOptions{LabelSelector: "set=a", FieldSelector: "metadata.name!=a2"})
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{LabelSelector: "set"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cm := range list.Items {
		names = append(names, cm.Name)
	}
	if len(names) != 2 || names[0] != "a2" || names[1] != "b1" {
		t.Fatalf("after deletecollection set=a,metadata.name!=a2: %v, want [a2 b1]", names)
	}
}
