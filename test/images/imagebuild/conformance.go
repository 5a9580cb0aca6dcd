package imagebuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ConformanceOptions are the inputs of the conformance image set that come from
// the upstream module (built by hack/conformance-build.sh, never committed).
type ConformanceOptions struct {
	Agnhost    string // agnhost binary built from k8s.io/kubernetes/test/images/agnhost
	Nonewprivs string // nnp binary built from k8s.io/kubernetes/test/images/nonewprivs
	K8sSource  string // the k8s.io/kubernetes module directory (test/images/... files)
	Cache      string // where downloaded Debian packages are kept between builds
}

// Upstream registries of the e2e images (k8s.io/kubernetes/test/utils/image).
const (
	e2eRegistry = "registry.k8s.io/e2e-test-images"
	gcRegistry  = "registry.k8s.io"
)

// defaultPath is the PATH of the Debian-based stand-ins.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// BuildConformance writes the images the upstream [Conformance] tests run, under
// their exact upstream names, into outDir. agnhost and nonewprivs are upstream's
// own programs; the operating-system parts are Debian packages (busybox-static
// instead of busybox's own build, Debian's nginx instead of the nginx image), so
// the tools the tests exec (sh, cat, wget, nc, dig, curl, ...) are real ones.
// Returns ref → tarball path.
func BuildConformance(ctx context.Context, outDir string, o ConformanceOptions) (map[string]string, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	out := map[string]string{}
	add := func(file string, refs []string, err error) error {
		if err != nil {
			return fmt.Errorf("image %s: %w", refs[0], err)
		}
		for _, r := range refs {
			out[r] = file
		}
		return nil
	}
	for _, img := range conformanceImages(o) {
		path := filepath.Join(outDir, img.file)
		err := img.build(ctx, o, path, img.refs)
		if err := add(path, img.refs, err); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type conformanceImage struct {
	file  string
	refs  []string
	build func(ctx context.Context, o ConformanceOptions, path string, refs []string) error
}

func conformanceImages(o ConformanceOptions) []conformanceImage {
	return []conformanceImage{
		// The sandbox image the tests create pods with directly (pause containers).
		{"k8s-pause.tar", []string{gcRegistry + "/pause:3.10.2"}, buildPause},
		{"busybox.tar", []string{e2eRegistry + "/busybox:1.37.0-2"}, buildBusybox("")},
		// nonroot is debian-base with USER 1234.
		{"nonroot.tar", []string{e2eRegistry + "/nonroot:1.5"}, buildBusybox("1234")},
		// One nginx stands in for both versions (the deployment tests only roll
		// from one name to the other).
		{"nginx.tar", []string{e2eRegistry + "/nginx:1.27.0-2", e2eRegistry + "/nginx:1.28.0-2"}, buildNginx},
		// agnhost's previous version is the same program under the old tag.
		{"agnhost.tar", []string{e2eRegistry + "/agnhost:2.66.1", e2eRegistry + "/agnhost:2.55"}, buildAgnhost("pause", "")},
		{"nautilus.tar", []string{e2eRegistry + "/nautilus:1.8"}, buildAgnhost("test-webserver", "nautilus")},
		{"kitten.tar", []string{e2eRegistry + "/kitten:1.8"}, buildAgnhost("test-webserver", "kitten")},
		{"nonewprivs.tar", []string{e2eRegistry + "/nonewprivs:1.4"}, buildNonewprivs},
	}
}

func buildPause(ctx context.Context, o ConformanceOptions, path string, refs []string) error {
	src, err := sourceDir()
	if err != nil {
		return err
	}
	bin, err := compile(ctx, src, filepath.Dir(path), "pause")
	if err != nil {
		return err
	}
	defer os.Remove(bin)
	layerTar, err := layerFor(bin, "/pause")
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromReader(bytes.NewReader(layerTar))
	if err != nil {
		return err
	}
	return writeImage(path, refs, []v1.Layer{layer}, v1.Config{Entrypoint: []string{"/pause"}, WorkingDir: "/"})
}

// users are the accounts every stand-in has (busybox's, plus nginx's www-data).
const passwd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`

const group = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
www-data:x:33:
nogroup:x:65534:
`

// baseFiles are written into every Debian rootfs.
func baseFiles(extraPasswd, extraGroup string) map[string]string {
	return map[string]string{
		"etc/passwd":        passwd + extraPasswd,
		"etc/group":         group + extraGroup,
		"etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
	}
}

func buildBusybox(user string) func(context.Context, ConformanceOptions, string, []string) error {
	return func(ctx context.Context, o ConformanceOptions, path string, refs []string) error {
		layer, err := debianLayer(ctx, o.Cache, []string{"busybox-static"}, baseFiles("", ""), nil)
		if err != nil {
			return err
		}
		return writeImage(path, refs, []v1.Layer{layer}, v1.Config{Cmd: []string{"sh"}, Env: []string{defaultPath}, User: user})
	}
}

func buildNginx(ctx context.Context, o ConformanceOptions, path string, refs []string) error {
	files := baseFiles("", "")
	// The nginx image serves its welcome page on port 80 and logs to the
	// container's output; Debian's postinst (not run here) would enable a site.
	files["etc/nginx/sites-enabled/default"] = "server {\n\tlisten 80 default_server;\n\troot /usr/share/nginx/html;\n\tindex index.html;\n\tlocation / {\n\t\ttry_files $uri $uri/ =404;\n\t}\n}\n"
	links := map[string]string{"var/log/nginx/access.log": "/dev/stdout", "var/log/nginx/error.log": "/dev/stderr"}
	layer, err := debianLayer(ctx, o.Cache, []string{"nginx", "busybox-static"}, files, links)
	if err != nil {
		return err
	}
	return writeImage(path, refs, []v1.Layer{layer}, v1.Config{
		Cmd: []string{"nginx", "-g", "daemon off;"}, Env: []string{defaultPath}, StopSignal: "SIGQUIT",
		ExposedPorts: map[string]struct{}{"80/tcp": {}},
	})
}

// agnhostPackages are the tools upstream's agnhost image adds to its base.
var agnhostPackages = []string{"busybox-static", "dash", "bash", "bind9-dnsutils", "curl", "netcat-openbsd",
	"iproute2", "iperf", "socat", "util-linux", "ca-certificates"}

// buildAgnhost builds agnhost (cmd is its default subcommand); with web set it is
// the nautilus/kitten image: agnhost serving that directory's html files.
func buildAgnhost(cmd, web string) func(context.Context, ConformanceOptions, string, []string) error {
	return func(ctx context.Context, o ConformanceOptions, path string, refs []string) error {
		if o.Agnhost == "" || o.K8sSource == "" {
			return fmt.Errorf("needs -agnhost and -k8s-src")
		}
		files := baseFiles("user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh\n",
			"user-defined-in-image:x:1000:\ngroup-defined-in-image:x:50000:user-defined-in-image\n")
		copies := map[string]string{
			"agnhost":       o.Agnhost,
			"localhost.crt": filepath.Join(o.K8sSource, "test/images/agnhost/porter/localhost.crt"),
			"localhost.key": filepath.Join(o.K8sSource, "test/images/agnhost/porter/localhost.key"),
		}
		if web != "" {
			copies[web+".jpg"] = filepath.Join(o.K8sSource, "test/images", web, "html", web+".jpg")
			copies["data.json"] = filepath.Join(o.K8sSource, "test/images", web, "html", "data.json")
		}
		for dst, src := range copies {
			b, err := os.ReadFile(src)
			if err != nil {
				return err
			}
			files[dst] = string(b)
		}
		files["uploads/.keep"] = ""
		// /bin/sh is dash, as on Debian: Debian's busybox shell runs its own
		// applets before PATH, which would hide the real ip, nc, wget, ...
		links := map[string]string{"agnhost-2": "agnhost", "usr/local/bin/iperf": "/usr/bin/iperf", "bin/sh": "dash"}
		layer, err := debianLayer(ctx, o.Cache, agnhostPackages, files, links)
		if err != nil {
			return err
		}
		return writeImage(path, refs, []v1.Layer{layer}, v1.Config{
			Entrypoint: []string{"/agnhost"}, Cmd: []string{cmd}, Env: []string{defaultPath}, WorkingDir: "/",
		})
	}
}

func buildNonewprivs(ctx context.Context, o ConformanceOptions, path string, refs []string) error {
	if o.Nonewprivs == "" {
		return fmt.Errorf("needs -nonewprivs")
	}
	b, err := os.ReadFile(o.Nonewprivs)
	if err != nil {
		return err
	}
	files := baseFiles("", "")
	files["usr/local/bin/nnp"] = string(b)
	layer, err := debianLayer(ctx, o.Cache, []string{"busybox-static"}, files, nil, "usr/local/bin/nnp")
	if err != nil {
		return err
	}
	return writeImage(path, refs, []v1.Layer{layer}, v1.Config{Cmd: []string{"nnp"}, Env: []string{defaultPath}})
}

// debianLayer assembles a root filesystem from Debian packages and their
// dependencies (downloaded with apt-get into cache, unpacked with dpkg-deb; no
// maintainer scripts run), busybox's applets for every command no package
// provides, the given files and symlinks, and returns it as one layer. Paths in
// setuid are made setuid root.
func debianLayer(ctx context.Context, cache string, pkgs []string, files, links map[string]string, setuid ...string) (v1.Layer, error) {
	debs, err := downloadDebs(ctx, cache, pkgs)
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "skiff-rootfs-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	for _, d := range debs {
		if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", d, root).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("dpkg-deb -x %s: %v: %s", d, err, out)
		}
	}
	for _, d := range []string{"tmp", "root", "home", "var/tmp", "proc", "sys", "dev", "etc", "run"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"tmp", "var/tmp"} {
		if err := os.Chmod(filepath.Join(root, d), 0o1777); err != nil {
			return nil, err
		}
	}
	if err := busyboxApplets(ctx, root); err != nil {
		return nil, err
	}
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return nil, err
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "\x7fELF") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			return nil, err
		}
	}
	for _, p := range setuid {
		if err := os.Chmod(filepath.Join(root, p), 0o4755); err != nil {
			return nil, err
		}
	}
	for p, target := range links {
		full := filepath.Join(root, p)
		_ = os.Remove(full)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return nil, err
		}
		if err := os.Symlink(target, full); err != nil {
			return nil, err
		}
	}
	// The dynamic loader's cache, as dpkg's trigger would have made it.
	if out, err := exec.CommandContext(ctx, "ldconfig", "-r", root).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ldconfig: %v: %s", err, out)
	}
	return dirLayer(ctx, root)
}

// downloadDebs fetches pkgs and their whole dependency closure. apt is pointed
// at an empty dpkg status so it treats nothing as installed.
func downloadDebs(ctx context.Context, cache string, pkgs []string) ([]string, error) {
	dir := filepath.Join(cache, "debs", strings.Join(pkgs, "+"))
	if err := os.MkdirAll(filepath.Join(dir, "partial"), 0o755); err != nil {
		return nil, err
	}
	status := filepath.Join(dir, "status")
	if err := os.WriteFile(status, nil, 0o644); err != nil {
		return nil, err
	}
	args := append([]string{"install", "-d", "-y", "-qq", "--no-install-recommends",
		"-o", "Dir::State::status=" + status, "-o", "Dir::Cache::archives=" + dir}, pkgs...)
	if out, err := exec.CommandContext(ctx, "apt-get", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("apt-get %v: %v: %s (run apt-get update?)", pkgs, err, out)
	}
	return filepath.Glob(filepath.Join(dir, "*.deb"))
}

// busyboxApplets links every busybox applet into /bin unless a package already
// provides that command (in /bin, /usr/bin, /sbin or /usr/sbin).
func busyboxApplets(ctx context.Context, root string) error {
	out, err := exec.CommandContext(ctx, filepath.Join(root, "bin/busybox"), "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %v", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		provided := false
		for _, d := range []string{"bin", "usr/bin", "sbin", "usr/sbin"} {
			if _, err := os.Lstat(filepath.Join(root, d, applet)); err == nil {
				provided = true
				break
			}
		}
		if !provided {
			if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
				return err
			}
		}
	}
	return nil
}

// dirLayer tars root (owned by root, modes kept) into a layer.
func dirLayer(ctx context.Context, root string) (v1.Layer, error) {
	f, err := os.CreateTemp("", "skiff-layer-*.tar")
	if err != nil {
		return nil, err
	}
	f.Close()
	cmd := exec.CommandContext(ctx, "tar", "-C", root, "--numeric-owner", "--owner=0", "--group=0",
		"--mtime=@0", "--sort=name", "-cf", f.Name(), ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("tar: %v: %s", err, out)
	}
	b, err := os.ReadFile(f.Name())
	os.Remove(f.Name())
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromReader(bytes.NewReader(b))
}
