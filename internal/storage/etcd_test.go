package storage

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// TestEtcdClient is the etcd every test in the package talks to (the internal and the
// external test package): an embedded server started by TestMain, or the servers in
// SKIFF_TEST_ETCD_ENDPOINTS (comma-separated) when that is set.
var TestEtcdClient *clientv3.Client

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	endpoints := splitEndpoints(os.Getenv("SKIFF_TEST_ETCD_ENDPOINTS"))
	if len(endpoints) == 0 {
		dir, err := os.MkdirTemp("", "skiff-storage-etcd-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		e, endpoint, err := startEmbedded(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "starting embedded etcd:", err)
			return 1
		}
		defer e.Close()
		endpoints = []string{endpoint}
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd client:", err)
		return 1
	}
	defer c.Close()
	TestEtcdClient = c
	return m.Run()
}

func splitEndpoints(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// startEmbedded runs a single-member etcd in dir on free loopback ports.
func startEmbedded(dir string) (*embed.Etcd, string, error) {
	clientURL, err := freeURL()
	if err != nil {
		return nil, "", err
	}
	peerURL, err := freeURL()
	if err != nil {
		return nil, "", err
	}
	cfg := embed.NewConfig()
	cfg.Name = "test"
	cfg.Dir = dir
	cfg.LogLevel = "fatal" // shutdown logs "errors" about closed listeners
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*clientURL}, []url.URL{*clientURL}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peerURL}, []url.URL{*peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		e.Close()
		return nil, "", fmt.Errorf("etcd not ready after 30s")
	}
	return e, clientURL.String(), nil
}

// freeURL picks a free loopback port. The port is released before etcd binds it; a
// collision with another process in between is possible but unlikely.
func freeURL() (*url.URL, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer l.Close()
	return url.Parse("http://" + l.Addr().String())
}

var prefixSeq atomic.Int64

// KeyRootForTest is a key root unique to one test, so tests never see each other's keys
// (also on a shared external etcd).
func KeyRootForTest(t *testing.T) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return fmt.Sprintf("/skiff-test/%d-%d-%s", time.Now().UnixNano(), prefixSeq.Add(1), name)
}

// ContextForTest bounds a test's etcd calls.
func ContextForTest(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func clientv3WithRev(rev int64) clientv3.OpOption { return clientv3.WithRev(rev) }
