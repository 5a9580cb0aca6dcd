// Command build writes Skiff's test images as docker-archive tarballs:
//
//	go run ./test/images/build -out DIR
//
// DIR/pause.tar is skiff.local/pause:1 and DIR/testapp.tar is skiff.local/testapp:1.
// Put them in <data-dir>/agent/images or run `skiff image import FILE`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"

	"github.com/skiff-sh/skiff/test/images/imagebuild"
)

func main() {
	out := flag.String("out", "_output/images", "directory for the image tarballs")
	flag.Parse()
	paths, err := imagebuild.Build(context.Background(), *out)
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
