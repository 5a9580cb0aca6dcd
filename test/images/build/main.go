// Command build writes Skiff's test images as docker-archive tarballs:
//
//	go run ./test/images/build -out DIR
//
// DIR/pause.tar is skiff.local/pause:1 and DIR/testapp.tar is skiff.local/testapp:1.
// Put them in <data-dir>/agent/images or run `skiff image import FILE`.
//
//	go run ./test/images/build -set conformance -out DIR -agnhost BIN -nonewprivs BIN -k8s-src DIR
//
// adds the images of the upstream [Conformance] tests under their upstream names
// (hack/conformance.sh builds the upstream binaries and passes them in).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/skiff-sh/skiff/test/images/imagebuild"
)

func main() {
	out := flag.String("out", "_output/images", "directory for the image tarballs")
	set := flag.String("set", "skiff", "image set: skiff (pause, testapp) or conformance (skiff's plus upstream's e2e images)")
	var o imagebuild.ConformanceOptions
	flag.StringVar(&o.Agnhost, "agnhost", "", "conformance: agnhost binary")
	flag.StringVar(&o.Nonewprivs, "nonewprivs", "", "conformance: nonewprivs (nnp) binary")
	flag.StringVar(&o.K8sSource, "k8s-src", "", "conformance: k8s.io/kubernetes module directory")
	flag.StringVar(&o.Cache, "cache", filepath.Join(os.TempDir(), "skiff-imagebuild"), "conformance: Debian package cache")
	flag.Parse()
	ctx := context.Background()
	paths, err := imagebuild.Build(ctx, *out)
	if err == nil && *set == "conformance" {
		var more map[string]string
		more, err = imagebuild.BuildConformance(ctx, *out, o)
		for k, v := range more {
			paths[k] = v
		}
	} else if err == nil && *set != "skiff" {
		err = fmt.Errorf("unknown -set %q", *set)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	refs := make([]string, 0, len(paths))
	for ref := range paths {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	for _, ref := range refs {
		fmt.Printf("%s\t%s\n", ref, paths[ref])
	}
}
