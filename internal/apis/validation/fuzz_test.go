package validation_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
	"github.com/skiff-sh/skiff/internal/apis/defaults"
	"github.com/skiff-sh/skiff/internal/apis/validation"
)

var fuzzSeeds = []string{
	`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default","labels":{"app":"web"}},
	  "spec":{"containers":[{"name":"app","image":"nginx","ports":[{"containerPort":80}],
	  "livenessProbe":{"httpGet":{"port":80}},"resources":{"limits":{"cpu":"1"}}}],
	  "volumes":[{"name":"d"},{"name":"c","configMap":{"name":"c"}}],"tolerations":[{"operator":"Exists"}]}}`,
	`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default"},
	  "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
	  "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"app","image":"nginx:1.27"}]}}}}`,
	`{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default"},
	  "spec":{"type":"NodePort","selector":{"app":"web"},"ports":[{"name":"http","port":80,"nodePort":30080}]}}`,
	`{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"tick","namespace":"default"},
	  "spec":{"schedule":"@every 5m","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never",
	  "containers":[{"name":"c","image":"busybox"}]}}}}}}`,
	`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":"default"},"data":{"a":"b"},"immutable":true}`,
	`{"metadata":{"name":"x"},"spec":{"template":{"spec":{"affinity":{"nodeAffinity":{}}}},"updateStrategy":{"type":"RollingUpdate"}}}`,
	`{}`,
	`null`,
}

// FuzzDecodeValidate feeds arbitrary JSON to every served kind and runs the
// create, update and status paths: none of them may panic, whatever the input.
func FuzzDecodeValidate(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	decoder := catalog.Codecs.UniversalDeserializer()
	f.Fuzz(func(t *testing.T, data []byte) {
		for i := range catalog.Resources {
			r := &catalog.Resources[i]
			gvk := r.GVK()
			obj, _, err := decoder.Decode(data, &gvk, r.New())
			if err != nil {
				continue
			}
			exercise(obj)
		}
	})
}

func exercise(obj runtime.Object) {
	old := obj.DeepCopyObject()
	defaults.Default(obj)
	defaults.Default(obj) // defaulting twice must be safe
	_ = validation.Validate(obj)
	_ = validation.ValidateUpdate(obj, old)
	_ = validation.ValidateUpdate(old, obj)
	_ = validation.ValidateStatusUpdate(obj, old)
}

// TestSeedsDecode guards the seed corpus: the valid manifests must decode and
// validate cleanly, so the fuzzer starts from meaningful objects.
func TestSeedsDecode(t *testing.T) {
	decoder := catalog.Codecs.UniversalDeserializer()
	for _, s := range fuzzSeeds[:5] {
		obj, _, err := decoder.Decode([]byte(s), nil, nil)
		if err != nil {
			t.Fatalf("seed does not decode: %v", err)
		}
		defaults.Default(obj)
		if errs := validation.Validate(obj); len(errs) > 0 {
			t.Errorf("seed %T invalid: %v", obj, errs.ToAggregate())
		}
	}
}
