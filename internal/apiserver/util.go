package apiserver

import (
	"fmt"
	"runtime"

	runtimek8s "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

func goVersion() string { return runtime.Version() }
func platform() string  { return runtime.GOOS + "/" + runtime.GOARCH }

func schemeKinds(o interface{ GetObjectKind() schema.ObjectKind }) ([]schema.GroupVersionKind, bool, error) {
	return catalog.Scheme.ObjectKinds(o.(runtimek8s.Object))
}

func schemeNew(gvk schema.GroupVersionKind) (runtimek8s.Object, error) {
	return catalog.Scheme.New(gvk)
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
