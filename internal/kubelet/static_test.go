package kubelet

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/klog/v2"
)

func TestReadManifests(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("web.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: kube-system\nspec:\n  containers:\n  - name: app\n    image: x\n")
	write("plain.json", `{"metadata":{"name":"plain"},"spec":{"containers":[{"name":"c","image":"y"}]}}`)
	write("svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n")
	write("broken.yml", "metadata: [\n")
	write("notes.txt", "ignored")
	k := &Kubelet{cfg: Config{NodeName: "n1", PodManifestPath: dir}}
	got := k.readManifests(klog.Background())
	if len(got) != 2 {
		t.Fatalf("want the 2 valid Pod manifests, got %d: %v", len(got), got)
	}
	web, ok := got["kube-system/web-n1"]
	if !ok {
		t.Fatalf("no kube-system/web-n1 in %v", got)
	}
	if web.pod.Spec.NodeName != "n1" || web.pod.Annotations[annotationMirror] != web.hash ||
		web.pod.Annotations[annotationSource] != "file" || web.hash == "" {
		t.Errorf("mirror pod: nodeName %q annotations %v", web.pod.Spec.NodeName, web.pod.Annotations)
	}
	plain, ok := got["default/plain-n1"]
	if !ok {
		t.Fatalf("no default/plain-n1 in %v", got)
	}
	if plain.hash == web.hash {
		t.Error("different manifests share a hash")
	}
	// Editing a manifest changes its hash, which is how a change is noticed.
	write("web.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: kube-system\nspec:\n  containers:\n  - name: app\n    image: z\n")
	if again := k.readManifests(klog.Background()); again["kube-system/web-n1"].hash == web.hash {
		t.Error("edited manifest kept its hash")
	}
}
