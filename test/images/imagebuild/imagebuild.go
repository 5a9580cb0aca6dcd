// Package imagebuild builds Skiff's test images (pause and testapp) without a
// container daemon: each is one static Go binary in a single layer, written as a
// docker-archive tarball that `skiff image import` (containerd) accepts.
package imagebuild

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Image references of the test images.
const (
	PauseImage   = "skiff.local/pause:1"
	TestAppImage = "skiff.local/testapp:1"
)

// spec says how to build one image: the Go package (relative to this source tree's
// test/images directory) and the path of its binary inside the image.
type spec struct {
	ref, pkg, binary string
}

var specs = []spec{
	{PauseImage, "pause", "/pause"},
	{TestAppImage, "testapp", "/testapp"},
}

// Build compiles every test image into outDir and returns ref → tarball path.
func Build(ctx context.Context, outDir string) (map[string]string, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	src, err := sourceDir()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range specs {
		path, err := buildOne(ctx, src, outDir, s)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", s.ref, err)
		}
		out[s.ref] = path
	}
	return out, nil
}

// sourceDir is test/images of the checkout this package was compiled from; the tool
// and the e2e tests always run from the source tree.
func sourceDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("imagebuild: cannot locate source directory")
	}
	return filepath.Dir(filepath.Dir(file)), nil
}

func buildOne(ctx context.Context, src, outDir string, s spec) (string, error) {
	bin, err := compile(ctx, src, outDir, s.pkg)
	if err != nil {
		return "", err
	}
	defer os.Remove(bin)
	layerTar, err := layerFor(bin, s.binary)
	if err != nil {
		return "", err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return "", err
	}
	path := filepath.Join(outDir, s.pkg+".tar")
	cfg := v1.Config{Entrypoint: []string{s.binary}, Env: []string{"PATH=/"}, WorkingDir: "/"}
	return path, writeImage(path, []string{s.ref}, []v1.Layer{layer}, cfg)
}

// writeImage writes a docker-archive tarball of the layers with the given config,
// tagged with every ref (one image, several names).
func writeImage(path string, refs []string, layers []v1.Layer, cfg v1.Config) error {
	img := empty.Image
	var err error
	for _, l := range layers {
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "skiff imagebuild", Created: v1.Time{Time: epoch}}})
		if err != nil {
			return err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: epoch}
	cf.Config = cfg
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	tags := map[name.Reference]v1.Image{}
	for _, r := range refs {
		tag, err := name.NewTag(r)
		if err != nil {
			return err
		}
		tags[tag] = img
	}
	return tarball.MultiRefWriteToFile(path, tags)
}

// epoch is a fixed creation time so builds of the same source are identical.
var epoch = time.Unix(0, 0).UTC()

func compile(ctx context.Context, src, outDir, pkg string) (string, error) {
	bin := filepath.Join(outDir, "."+pkg+".bin")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./"+pkg)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./%s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}

// layerFor is an uncompressed tar with the binary at path, plus /tmp and /etc so
// containers have a writable scratch dir and a place for resolv.conf and hosts.
func layerFor(bin, path string) ([]byte, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := []struct {
		name string
		mode int64
	}{{"tmp/", 0o1777}, {"etc/", 0o755}, {"data/", 0o755}}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: filepath.Base(path), Mode: 0o755, Size: int64(len(data)), ModTime: epoch}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
