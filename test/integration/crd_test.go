package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/internal/controllermanager"
	"github.com/skiff-sh/skiff/internal/testserver"
)

const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: widgets
    kind: Widget
    shortNames: [wd]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.size
        statusReplicasPath: .status.replicas
    additionalPrinterColumns:
    - name: Size
      type: integer
      jsonPath: .spec.size
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1}
              color: {type: string, default: blue, enum: [blue, red]}
          status:
            type: object
            properties:
              ready: {type: boolean}
              replicas: {type: integer}
`

var (
	crdGVR    = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	widgetGVR = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
)

func widget(name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"name": name, "labels": map[string]any{"app": name}},
		"spec":     spec,
	}}
}

// TestCustomResources installs a CRD with kubectl, waits for it to be
// established and exercises its custom resource through the dynamic client and
// kubectl, then deletes the CRD and checks its instances and endpoint are gone.
func TestCustomResources(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	ctx := context.Background()
	dc := dynamic.NewForConfigOrDie(s.Config)
	file := filepath.Join(t.TempDir(), "crd.yaml")
	if err := os.WriteFile(file, []byte(widgetCRD), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl(t, s, "apply", "-f", file)
	start := time.Now()
	waitEstablished(t, dc, "widgets.example.com")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("established %v after kubectl apply returned, want < 1s", d)
	}
	widgets := dc.Resource(widgetGVR).Namespace("default")
	// Server-side apply of the CRD itself (its fields are deduced, not from client-go's schemas).
	kubectl(t, s, "apply", "--server-side", "--force-conflicts", "-f", file)

	// Served within a second of Established.
	var created *unstructured.Unstructured
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		w := widget("w1", map[string]any{"size": int64(3), "unknown": "x"})
		w.Object["status"] = map[string]any{"ready": true}
		var err error
		created, err = widgets.Create(ctx, w, metav1.CreateOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("create widget: %v", err)
	}
	if c, _, _ := unstructured.NestedString(created.Object, "spec", "color"); c != "blue" {
		t.Errorf("default color = %q, want blue", c)
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(created.Object, "spec", "unknown"); found {
		t.Error("unknown field was not pruned")
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(created.Object, "status"); found {
		t.Error("status kept on create")
	}
	if created.GetGeneration() != 1 {
		t.Errorf("generation = %d, want 1", created.GetGeneration())
	}

	// Invalid objects: 422 with the field path.
	for _, spec := range []map[string]any{{"color": "red"}, {"size": "big"}, {"size": int64(0)}, {"size": int64(1), "color": "green"}} {
		_, err := widgets.Create(ctx, widget("bad", spec), metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.") {
			t.Errorf("create %v: got %v, want 422 naming spec.*", spec, err)
		}
	}

	// Watch, then patch, update and status writes.
	wi, err := widgets.Watch(ctx, metav1.ListOptions{ResourceVersion: created.GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	defer wi.Stop()
	patched, err := widgets.Patch(ctx, "w1", types.MergePatchType, []byte(`{"spec":{"size":5}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if patched.GetGeneration() != 2 {
		t.Errorf("generation after spec patch = %d, want 2", patched.GetGeneration())
	}
	select {
	case ev := <-wi.ResultChan():
		if ev.Type != watch.Modified {
			t.Errorf("watch event %s, want MODIFIED", ev.Type)
		}
	case <-time.After(5 * time.Second):
		t.Error("no watch event for the patch")
	}
	if _, err := widgets.Patch(ctx, "w1", types.JSONPatchType, []byte(`[{"op":"replace","path":"/spec/size","value":6}]`), metav1.PatchOptions{}); err != nil {
		t.Errorf("json patch: %v", err)
	}
	_, err = widgets.Patch(ctx, "w1", types.StrategicMergePatchType, []byte(`{"spec":{"size":7}}`), metav1.PatchOptions{})
	if !apierrors.IsUnsupportedMediaType(err) {
		t.Errorf("strategic merge patch: got %v, want 415", err)
	}
	cur, err := widgets.Get(ctx, "w1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(cur.Object, true, "status", "ready")
	withStatus, err := widgets.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ready, _, _ := unstructured.NestedBool(withStatus.Object, "status", "ready"); !ready || withStatus.GetGeneration() != cur.GetGeneration() {
		t.Errorf("status write: ready=%v generation %d→%d", ready, cur.GetGeneration(), withStatus.GetGeneration())
	}
	_ = unstructured.SetNestedField(withStatus.Object, false, "status", "ready")
	updated, err := widgets.Update(ctx, withStatus, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ready, _, _ := unstructured.NestedBool(updated.Object, "status", "ready"); !ready {
		t.Error("a main-resource update changed status")
	}

	// Lists with selectors.
	if _, err := widgets.Create(ctx, widget("w2", map[string]any{"size": int64(2)}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for sel, want := range map[string]int{"app=w2": 1, "app in (w1,w2)": 2, "app=none": 0} {
		l, err := widgets.List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil || len(l.Items) != want {
			t.Errorf("list %q: %v items, err %v; want %d", sel, len(l.Items), err, want)
		}
	}
	l, err := widgets.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=w1"})
	if err != nil || len(l.Items) != 1 {
		t.Errorf("field selector list: %v", err)
	}
	page, err := widgets.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil || len(page.Items) != 1 || page.GetContinue() == "" {
		t.Fatalf("first page: %v", err)
	}
	page, err = widgets.List(ctx, metav1.ListOptions{Limit: 1, Continue: page.GetContinue()})
	if err != nil || len(page.Items) != 1 || page.GetContinue() != "" {
		t.Errorf("second page: %d items, continue %q, %v", len(page.Items), page.GetContinue(), err)
	}

	// The scale subresource follows specReplicasPath.
	kubectl(t, s, "scale", "widget", "w1", "-n", "default", "--replicas=4")
	if w, err := widgets.Get(ctx, "w1", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	} else if size, _, _ := unstructured.NestedInt64(w.Object, "spec", "size"); size != 4 {
		t.Errorf("spec.size after kubectl scale = %d, want 4", size)
	}

	// kubectl: printer column, short name, api-resources.
	out := kubectl(t, s, "get", "widgets", "-n", "default")
	if !strings.Contains(out, "SIZE") || !strings.Contains(out, "w1") || !strings.Contains(out, "4") {
		t.Errorf("kubectl get widgets:\n%s", out)
	}
	if out := kubectl(t, s, "get", "wd", "w2", "-n", "default", "-o", "jsonpath={.spec.size}"); out != "2" {
		t.Errorf("kubectl get wd w2: %q", out)
	}
	if out := kubectl(t, s, "api-resources", "--api-group", "example.com"); !strings.Contains(out, "widgets") || !strings.Contains(out, "wd") {
		t.Errorf("kubectl api-resources:\n%s", out)
	}

	// kubectl apply (client-side: merge patch for kinds it has no Go type for).
	crFile := filepath.Join(t.TempDir(), "w3.yaml")
	for _, size := range []string{"1", "2"} {
		cr := "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w3\n  namespace: default\nspec:\n  size: " + size + "\n"
		if err := os.WriteFile(crFile, []byte(cr), 0o600); err != nil {
			t.Fatal(err)
		}
		kubectl(t, s, "apply", "-f", crFile)
	}
	if out := kubectl(t, s, "get", "widget", "w3", "-n", "default", "-o", "jsonpath={.spec.size}/{.spec.color}"); out != "2/blue" {
		t.Errorf("after kubectl apply: %q, want 2/blue", out)
	}
	kubectl(t, s, "delete", "-f", crFile)

	// Names already in use (the singular "widget"; a kind of the scheme):
	// NamesAccepted=False, never established.
	for name, reason := range map[string]string{"gadgets.example.com": "SingularConflict", "ingresses.networking.k8s.io": "KindConflict"} {
		plural, group, _ := strings.Cut(name, ".")
		kind := "Widget"
		if group == "networking.k8s.io" {
			kind = "Ingress"
		}
		y := strings.NewReplacer("widgets.example.com", name, "group: example.com", "group: "+group,
			"plural: widgets", "plural: "+plural, "kind: Widget", "kind: "+kind, "shortNames: [wd]", "shortNames: []").Replace(widgetCRD)
		c := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(y), &c.Object); err != nil {
			t.Fatal(err)
		}
		if _, err := dc.Resource(crdGVR).Create(ctx, c, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			got, err := dc.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "NamesAccepted" && m["status"] == "False" && m["reason"] == reason {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Errorf("CRD %s: no NamesAccepted=False/%s", name, reason)
		}
	}

	if err := widgets.Delete(ctx, "w2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	// Deleting the CRD deletes w1 and the endpoint goes.
	kubectl(t, s, "delete", "-f", file, "--wait=true")
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := widgets.List(ctx, metav1.ListOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatal("widgets still served after the CRD was deleted")
	}
	if _, err := dc.Resource(crdGVR).Get(ctx, "widgets.example.com", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("CRD after delete: %v", err)
	}
}

func waitEstablished(t *testing.T, dc dynamic.Interface, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		crd, err := dc.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CRD %s not established: %v", name, err)
	}
}

// TestNamespaceDeletionRemovesCustomResources: the namespace controller finds
// custom resources through discovery and deletes them with the namespace.
func TestNamespaceDeletionRemovesCustomResources(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	ctx := context.Background()
	c := fastClient(t, s)
	dc := dynamic.NewForConfigOrDie(s.Config)
	crd := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(widgetCRD), &crd.Object); err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitEstablished(t, dc, "widgets.example.com")
	startControllerManager(t, s, controllermanager.Options{Controllers: []string{"namespace"}})
	const ns = "doomed-widgets"
	mustCreateNamespace(t, c, ns)
	widgets := dc.Resource(widgetGVR).Namespace(ns)
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := widgets.Create(ctx, widget("w", map[string]any{"size": int64(1)}), metav1.CreateOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatal("namespace with a custom resource was not deleted")
	}
	if l, err := widgets.List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("widgets left in the deleted namespace: %v, %v", l, err)
	}
}
