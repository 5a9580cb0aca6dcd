// Package agent composes a Skiff node: a supervised containerd (or an existing CRI
// endpoint), image tarballs imported from <data-dir>/agent/images, the kubelet and
// its HTTPS server. `skiff agent` runs it against a remote server; `skiff server`
// runs it in-process as the local node.
package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/kubelet/cri"
	kserver "github.com/skiff-sh/skiff/internal/kubelet/server"
)

// Config configures a node agent.
type Config struct {
	// DataDir is the agent's data directory (<skiff data-dir>/agent): containerd
	// root/state/socket, images/, kubelet/ (volumes, logs, serving cert).
	DataDir  string
	NodeName string
	// RuntimeEndpoint uses an existing CRI runtime instead of starting containerd.
	RuntimeEndpoint string
	// CNIBinDir holds the CNI plugins (Debian: /usr/lib/cni).
	CNIBinDir  string
	PauseImage string
	// NodeIP overrides the detected InternalIP.
	NodeIP net.IP
	// KubeletAddress is the kubelet server's listen address (":10250"; port 0 picks one).
	KubeletAddress string
	// AllowLocalAnonymous lets unauthenticated requests from this machine's own
	// addresses use the kubelet server (the in-process API server has no kubelet
	// client certificate yet). Remote callers always need a client certificate.
	AllowLocalAnonymous bool
	// ClusterDNS are the nameservers of ClusterFirst pods (the kube-dns ClusterIP);
	// empty leaves pods with the node's resolv.conf.
	ClusterDNS []string
	// PodManifestPath is a directory of static pod manifests (upstream's
	// --pod-manifest-path); ManifestPeriod how often it is rescanned (20 s).
	PodManifestPath string
	ManifestPeriod  time.Duration
	// EvictionHard are the kubelet's hard eviction thresholds (nil: upstream's
	// defaults); see kubelet.Config.EvictionHard.
	EvictionHard map[string]string
	// ClusterCA verifies client certificates of kubelet API callers (the API
	// server); empty: the CA of the client config.
	ClusterCA []byte
	// Ready, if set, is closed when the kubelet registered its node.
	Ready chan struct{}
}

// DefaultPauseImage is the sandbox image Skiff builds (test/images) and imports.
const DefaultPauseImage = "skiff.local/pause:1"

// Run runs the node until ctx ends.
func Run(ctx context.Context, cfg Config, rc *rest.Config) error {
	if cfg.NodeName == "" {
		h, _ := os.Hostname()
		cfg.NodeName = h
	}
	if cfg.CNIBinDir == "" {
		cfg.CNIBinDir = "/usr/lib/cni"
	}
	if cfg.PauseImage == "" {
		cfg.PauseImage = DefaultPauseImage
	}
	if cfg.KubeletAddress == "" {
		cfg.KubeletAddress = ":10250"
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	// Listen first: a taken port must fail at once with a clear message, not
	// after containerd started (and a node that never registers is silent).
	ln, err := net.Listen("tcp", cfg.KubeletAddress)
	if err != nil {
		err = fmt.Errorf("kubelet server cannot listen on %s (is another kubelet running? choose another port): %w", cfg.KubeletAddress, err)
		klog.FromContext(ctx).Error(err, "node agent not started", "node", cfg.NodeName)
		return err
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Cancel before waiting: the containerd supervisor only returns once ctx ends,
	// so an early error return must stop it rather than wait on it forever.
	defer func() { cancel(); wg.Wait() }()
	endpoint, cniConfDir := cfg.RuntimeEndpoint, ""
	if endpoint == "" {
		ctd := &containerd{dir: cfg.DataDir, binDir: cfg.CNIBinDir, pauseImage: cfg.PauseImage}
		if err := ctd.writeConfig(); err != nil {
			return err
		}
		ready := make(chan struct{})
		errc := make(chan error, 1)
		wg.Add(1)
		go func() { defer wg.Done(); errc <- ctd.run(ctx, ready) }()
		select {
		case <-ready:
		case err := <-errc:
			return fmt.Errorf("containerd: %w", err)
		case <-time.After(60 * time.Second):
			return errors.New("containerd did not become ready within 60s (see " + filepath.Join(cfg.DataDir, "containerd.log") + ")")
		case <-ctx.Done():
			return nil
		}
		if err := ctd.importDir(ctx, filepath.Join(cfg.DataDir, "images")); err != nil {
			return err
		}
		endpoint, cniConfDir = ctd.socket(), ctd.confDir()
	}
	rt, err := cri.New(endpoint, 0)
	if err != nil {
		return err
	}
	defer rt.Close()
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	kubeletDir := filepath.Join(cfg.DataDir, "kubelet")
	port := ln.Addr().(*net.TCPAddr).Port
	k, err := kubelet.New(kubelet.Config{
		NodeName: cfg.NodeName, Client: client, Runtime: rt, RootDir: kubeletDir,
		CNIConfDir: cniConfDir, NodeIP: cfg.NodeIP, Port: port, ClusterDNS: cfg.ClusterDNS,
		PodManifestPath: cfg.PodManifestPath, ManifestPeriod: cfg.ManifestPeriod,
		EvictionHard: cfg.EvictionHard,
	})
	if err != nil {
		return err
	}
	srv, err := kserver.New(kserver.Config{
		Pods: k, Streamer: rt, Metrics: k.MetricsHandler(), Stats: k, CertDir: filepath.Join(kubeletDir, "pki"), NodeName: cfg.NodeName,
		ClientCA: clusterCA(cfg, rc), AllowLocalAnonymous: cfg.AllowLocalAnonymous,
		Authorize: kubeletAuthorizer(client, cfg.NodeName), AuthenticateToken: kubeletTokenAuthenticator(client),
	})
	if err != nil {
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx, ln); err != nil && ctx.Err() == nil {
			klog.FromContext(ctx).Error(err, "kubelet server stopped")
		}
	}()
	if cfg.Ready != nil {
		go func() {
			select {
			case <-k.Started():
				close(cfg.Ready)
			case <-ctx.Done():
			}
		}()
	}
	klog.FromContext(ctx).Info("node agent starting", "node", cfg.NodeName, "runtime", endpoint, "kubeletPort", strconv.Itoa(port))
	return k.Run(ctx)
}

func clusterCA(cfg Config, rc *rest.Config) []byte {
	if len(cfg.ClusterCA) > 0 {
		return cfg.ClusterCA
	}
	return rc.TLSClientConfig.CAData
}
