package openapi

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

const kubectlPath = "/usr/bin/kubectl"

// kubectl runs the real binary against f with a private cache and no kubeconfig.
func (f *fakeAPI) kubectl(t *testing.T, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	if _, err := os.Stat(kubectlPath); err != nil {
		t.Skipf("%s is absent: the real-kubectl flows are not exercised", kubectlPath)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"--server=" + f.srv.URL, "--cache-dir=" + filepath.Join(dir, "cache"), "--namespace=default"}, args...)
	cmd := exec.CommandContext(ctx, kubectlPath, full...)
	cmd.Env = append([]string{"HOME=" + dir, "KUBECONFIG=" + filepath.Join(dir, "none"), "PATH=" + os.Getenv("PATH")}, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKubectlExplain(t *testing.T) {
	f := newFakeAPI(t)
	out, errOut, err := f.kubectl(t, nil, "explain", "pod.spec.containers")
	if err != nil {
		t.Fatalf("kubectl explain: %v\n%s%s", err, out, errOut)
	}
	// The first words of the SwaggerDoc text, which explain wraps at 76 columns.
	imageDoc := strings.Join(strings.Fields(corev1.Container{}.SwaggerDoc()["image"])[:3], " ")
	for _, want := range []string{"KIND:       Pod", "FIELD: containers <[]Container>", "\n  image\t<string>", imageDoc,
		"\n  name\t<string> -required-", "\n  resources\t<ResourceRequirements>"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
	out, _, err = f.kubectl(t, nil, "explain", "deployment.spec.strategy.rollingUpdate.maxSurge")
	if err != nil || !strings.Contains(out, "FIELD: maxSurge <IntOrString>") {
		t.Errorf("explain maxSurge: %v\n%s", err, out)
	}
}

const deployV1 = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        unknownToTheSchema: true
        env:
        - {name: A, value: "1"}
        ports:
        - containerPort: 80
      - name: side
        image: busybox
`

// TestKubectlApplyAndEdit: with default --validate=strict kubectl must judge
// from the v3 document that the server validates fields (so it sends
// fieldValidation=Strict and does not reject the unknown field itself), and
// must compute client-side apply's strategic merge patch from the v3 schemas
// without falling back.
func TestKubectlApplyAndEdit(t *testing.T) {
	f := newFakeAPI(t)
	out, errOut, err := f.kubectl(t, nil, "apply", "-f", writeFile(t, "d.yaml", deployV1))
	if err != nil {
		t.Fatalf("apply (create): %v\n%s%s", err, out, errOut)
	}
	w := f.writes()
	if len(w) != 1 || w[0].Method != "POST" || !strings.Contains(w[0].Query, "fieldValidation=Strict") {
		t.Fatalf("create requests: %+v", w)
	}

	v2 := strings.Replace(strings.Replace(deployV1, "nginx:1.25", "nginx:1.26", 1), `{name: A, value: "1"}`, `{name: B, value: "2"}`, 1)
	out, errOut, err = f.kubectl(t, nil, "apply", "-v=5", "-f", writeFile(t, "d.yaml", v2))
	if err != nil {
		t.Fatalf("apply (patch): %v\n%s%s", err, out, errOut)
	}
	for _, bad := range []string{"error calculating patch", "OpenAPI V3 path does not", "does not exist for OpenAPI V3"} {
		if strings.Contains(errOut, bad) {
			t.Errorf("kubectl did not use the v3 schema for the patch: %q in\n%s", bad, errOut)
		}
	}
	w = f.writes()
	patch := w[len(w)-1]
	if patch.Method != "PATCH" || patch.ContentType != "application/strategic-merge-patch+json" ||
		!strings.Contains(patch.Query, "fieldValidation=Strict") {
		t.Fatalf("apply patch request: %+v", patch)
	}
	for _, want := range []string{`"$setElementOrder/containers":[{"name":"web"},{"name":"side"}]`,
		`"$setElementOrder/env":[{"name":"B"}]`, `"image":"nginx:1.26"`, `{"$patch":"delete","name":"A"}`} {
		if !strings.Contains(string(patch.Body), want) {
			t.Errorf("apply patch lacks %s: %s", want, patch.Body)
		}
	}

	editor := writeFile(t, "editor.sh", "#!/bin/sh\nsed -i -e 's/image: busybox/image: busybox:2/' \"$1\"\n")
	if err := os.Chmod(editor, 0o755); err != nil {
		t.Fatal(err)
	}
	out, errOut, err = f.kubectl(t, []string{"KUBE_EDITOR=" + editor}, "edit", "deployment/web")
	if err != nil {
		t.Fatalf("edit: %v\n%s%s", err, out, errOut)
	}
	w = f.writes()
	edit := w[len(w)-1]
	if edit.Method != "PATCH" || !strings.Contains(edit.Query, "fieldValidation=Strict") || !strings.Contains(string(edit.Body), `"image":"busybox:2"`) {
		t.Errorf("edit request: %+v %s", edit, edit.Body)
	}
}

// TestKubectlListValidatesWithV2: a kind: List document is validated by
// kubectl itself against the v2 (protobuf) schema.
func TestKubectlListValidatesWithV2(t *testing.T) {
	f := newFakeAPI(t)
	list := `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: good}
  data: {a: "1"}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: d}
  spec:
    selector: {matchLabels: {app: d}}
    template:
      metadata: {labels: {app: d}}
      spec:
        containers: [{name: c, image: x, ports: [{containerPort: 80}], resources: {limits: {cpu: 100m, memory: 1}}}]
    strategy: {rollingUpdate: {maxSurge: 25%, maxUnavailable: 1}}
`
	out, errOut, err := f.kubectl(t, nil, "create", "-f", writeFile(t, "l.yaml", list))
	if err != nil {
		t.Fatalf("valid list rejected: %v\n%s%s", err, out, errOut)
	}
	bad := strings.Replace(list, `data: {a: "1"}`, `data: {a: "1"}`+"\n  bogusField: 1", 1)
	out, errOut, err = f.kubectl(t, nil, "create", "-f", writeFile(t, "l.yaml", bad))
	if err == nil || !strings.Contains(errOut, `unknown field "bogusField"`) {
		t.Errorf("kubectl did not validate the list against v2: err=%v\n%s%s", err, out, errOut)
	}
}
