// Command crd-bench compares a custom resource with a ConfigMap of the same size on
// one `skiff server`: creates/s with 16 workers, and LIST of all of them; and measures
// how long a new CustomResourceDefinition takes from its create call until its
// resource accepts a create (established and served).
//
//	./hack/build.sh && go run ./bench/crd -skiff bin/skiff
//
// Both kinds go through client-go's JSON (custom resources have no protobuf form).
package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/bench/benchutil"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func main() {
	bin := flag.String("skiff", "bin/skiff", "skiff binary")
	n := flag.Int("n", 2000, "objects of each kind")
	size := flag.Int("size", 1024, "bytes of payload per object")
	flag.Parse()
	dir := benchutil.TempDir("skiff-crd-bench-")
	srv := benchutil.Start(*bin, "server", "--data-dir", dir, "--https-port", "0", "--bind-address", "127.0.0.1", "--disable-agent")
	defer benchutil.Kill(srv)
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	benchutil.Must(err)
	cfg.QPS, cfg.Burst = 5000, 10000
	dc := dynamic.NewForConfigOrDie(cfg)
	cs := benchutil.Client(dir, 5000, 10000)
	ctx := context.Background()
	fmt.Printf("# Skiff CRD benchmark: %d objects of %d bytes each (%s)\n\n", *n, *size, time.Now().UTC().Format(time.RFC3339))

	var established []time.Duration
	for i := range 5 {
		established = append(established, establish(ctx, dc, fmt.Sprintf("things%d", i)))
	}
	sort.Slice(established, func(i, j int) bool { return established[i] < established[j] })
	payload := strings.Repeat("x", *size)
	things := dc.Resource(schema.GroupVersionResource{Group: "bench.example.com", Version: "v1", Resource: "things0"}).Namespace("default")

	cmRate := rate(*n, func(i int) error {
		_, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm%d", i)},
			Data: map[string]string{"data": payload}}, metav1.CreateOptions{})
		return err
	})
	crRate := rate(*n, func(i int) error {
		_, err := things.Create(ctx, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "bench.example.com/v1", "kind": "Things0",
			"metadata": map[string]any{"name": fmt.Sprintf("cr%d", i)}, "spec": map[string]any{"data": payload}}}, metav1.CreateOptions{})
		return err
	})
	cmList := median(func() {
		_, err := cs.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
		benchutil.Must(err)
	})
	crList := median(func() { _, err := things.List(ctx, metav1.ListOptions{}); benchutil.Must(err) })

	cmRaw := median(func() {
		_, err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/namespaces/default/configmaps").SetHeader("Accept", "application/json").DoRaw(ctx)
		benchutil.Must(err)
	})
	crRaw := median(func() {
		_, err := cs.CoreV1().RESTClient().Get().AbsPath("/apis/bench.example.com/v1/namespaces/default/things0").SetHeader("Accept", "application/json").DoRaw(ctx)
		benchutil.Must(err)
	})

	fmt.Printf("| figure | custom resource | ConfigMap | CR / ConfigMap |\n|---|---|---|---|\n")
	fmt.Printf("| creates/s, 16 workers | %.0f | %.0f | %.2f |\n", crRate, cmRate, crRate/cmRate)
	fmt.Printf("| LIST %d (median of 5) | %v | %v | %.2f |\n", *n, crList.Round(time.Millisecond), cmList.Round(time.Millisecond),
		crList.Seconds()/cmList.Seconds())
	fmt.Printf("| LIST %d, JSON bytes only (server side, no client decoding) | %v | %v | %.2f |\n", *n, crRaw.Round(time.Millisecond),
		cmRaw.Round(time.Millisecond), crRaw.Seconds()/cmRaw.Seconds())
	fmt.Printf("\nCRD create → first custom resource created: median %v, max %v (5 CRDs)\n",
		established[2].Round(time.Millisecond), established[4].Round(time.Millisecond))
}

// establish creates a CRD and returns how long until its resource accepts a create.
func establish(ctx context.Context, dc dynamic.Interface, plural string) time.Duration {
	kind := strings.ToUpper(plural[:1]) + plural[1:]
	crd := &apiextensionsv1.CustomResourceDefinition{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{Name: plural + ".bench.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{Group: "bench.example.com", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: plural, Kind: kind},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{"spec": {Type: "object",
						Properties: map[string]apiextensionsv1.JSONSchemaProps{"data": {Type: "string"}}}}}}}},
		},
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(crd)
	benchutil.Must(err)
	start := time.Now()
	_, err = dc.Resource(crdGVR).Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
	benchutil.Must(err)
	res := dc.Resource(schema.GroupVersionResource{Group: "bench.example.com", Version: "v1", Resource: plural}).Namespace("default")
	for {
		_, err := res.Create(ctx, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "bench.example.com/v1", "kind": kind,
			"metadata": map[string]any{"name": "probe"}}}, metav1.CreateOptions{})
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > 30*time.Second {
			panic(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func rate(n int, create func(i int) error) float64 {
	start := time.Now()
	benchutil.Parallel(n, func(i int) { benchutil.Must(create(i)) })
	return float64(n) / time.Since(start).Seconds()
}

func median(f func()) time.Duration {
	var d []time.Duration
	for range 5 {
		start := time.Now()
		f()
		d = append(d, time.Since(start))
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[2]
}
