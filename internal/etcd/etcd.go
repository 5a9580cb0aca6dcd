// Package etcd runs Skiff's store: an etcd v3 server embedded in the process, or a
// client to an external etcd cluster. Either way callers get a *clientv3.Client.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Config selects an embedded server (Servers empty) or an external cluster.
type Config struct {
	// DataDir holds the embedded server's data (the caller passes <data-dir>/etcd).
	DataDir string
	// Servers lists external etcd client URLs; when non-empty nothing is embedded.
	Servers []string
	// TLS material for the external cluster. All optional; CAFile alone gives
	// server verification without a client certificate.
	CAFile, CertFile, KeyFile string
}

const (
	// quotaBackendBytes matches the size upstream recommends for Kubernetes (2 GiB,
	// also etcd's own default), stated explicitly so an etcd default change can't shrink it.
	quotaBackendBytes = 2 << 30
	// defaultStartTimeout bounds start-up when the caller's context has no deadline.
	defaultStartTimeout = 60 * time.Second
	// readyTimeout bounds one health probe when the caller's context has no deadline.
	readyTimeout = 2 * time.Second
	memberName   = "skiff"
	// unusedPeerURL is the embedded member's advertised peer URL. A single member never
	// dials its own peer URL, and etcd stores it in the cluster membership on first
	// start: a constant keeps it identical across restarts, whereas a random port would
	// differ every time. The real peer listener is bound to a random free port.
	unusedPeerURL = "http://127.0.0.1:0"
)

// Etcd is a running store: the client, plus the embedded server when there is one.
type Etcd struct {
	client    *clientv3.Client
	server    *embed.Etcd // nil for an external cluster
	endpoints []string
	closing   *atomic.Bool // set during Close, to mute the expected listener errors
	closeOnce sync.Once
	closeErr  error
}

// Start starts the embedded server (or dials the external cluster) and returns once
// it answers requests.
func Start(ctx context.Context, cfg Config) (*Etcd, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	if len(cfg.Servers) > 0 {
		return startExternal(ctx, cfg)
	}
	return startEmbedded(ctx, cfg)
}

// Client returns the shared etcd client. Callers must not close it.
func (e *Etcd) Client() *clientv3.Client { return e.client }

// Endpoints returns the client URLs in use.
func (e *Etcd) Endpoints() []string { return append([]string(nil), e.endpoints...) }

// Ready is a cheap health probe for /readyz: a linearizable read of one key, which
// needs a leader and a quorum, like upstream's etcd health check.
func (e *Etcd) Ready(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, readyTimeout)
		defer cancel()
	}
	if _, err := e.client.Get(ctx, "health", clientv3.WithCountOnly()); err != nil {
		return fmt.Errorf("etcd not ready: %w", err)
	}
	return nil
}

// Close closes the client and then the embedded server, which stops accepting
// requests, finishes in-flight ones and syncs its backend to disk.
func (e *Etcd) Close() error {
	e.closeOnce.Do(func() {
		e.closeErr = e.client.Close()
		if errors.Is(e.closeErr, context.Canceled) {
			e.closeErr = nil // grpc reports a normal close as a cancelled context
		}
		if e.server != nil {
			e.closing.Store(true)
			e.server.Close()
		}
	})
	return e.closeErr
}

func startEmbedded(ctx context.Context, cfg Config) (*Etcd, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("etcd: DataDir is required for the embedded server")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	// etcd wants its directory private (it warns otherwise); the data includes Secrets.
	if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	ecfg := embeddedConfig(cfg.DataDir)
	closing := &atomic.Bool{}
	lg, err := quietLogger(closing)
	if err != nil {
		return nil, err
	}
	ecfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	ecfg.LogLevel = "warn"
	srv, err := embed.StartEtcd(ecfg)
	if err != nil {
		return nil, fmt.Errorf("the embedded etcd in %s does not start (%v): if its data is damaged, move the directory aside to start an empty cluster, or restore a backup", cfg.DataDir, err)
	}
	select {
	case <-srv.Server.ReadyNotify():
	case err := <-srv.Err():
		srv.Close()
		return nil, fmt.Errorf("etcd: embedded server failed: %w", err)
	case <-srv.Server.StopNotify():
		srv.Close()
		return nil, errors.New("etcd: embedded server stopped before becoming ready")
	case <-ctx.Done():
		srv.Close()
		return nil, fmt.Errorf("etcd: embedded server not ready: %w", ctx.Err())
	}
	// The listener was bound to port 0; its real address is what clients dial.
	endpoints := []string{"http://" + srv.Clients[0].Addr().String()}
	client, err := clientv3.New(clientConfig(ctx, endpoints))
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("etcd: client: %w", err)
	}
	return &Etcd{client: client, server: srv, endpoints: endpoints, closing: closing}, nil
}

// embeddedConfig builds a single-member server configuration for dataDir.
func embeddedConfig(dataDir string) *embed.Config {
	ecfg := embed.NewConfig()
	ecfg.Name = memberName
	ecfg.Dir = dataDir
	// Port 0: the kernel picks a free port, so several servers and tests coexist.
	anyPort, _ := url.Parse("http://127.0.0.1:0")
	peer, _ := url.Parse(unusedPeerURL)
	ecfg.ListenClientUrls = []url.URL{*anyPort}
	ecfg.AdvertiseClientUrls = []url.URL{*anyPort}
	ecfg.ListenPeerUrls = []url.URL{*anyPort}
	ecfg.AdvertisePeerUrls = []url.URL{*peer}
	ecfg.InitialCluster = memberName + "=" + unusedPeerURL
	ecfg.InitialClusterToken = "skiff"

	// A lone member campaigns as soon as its election timeout elapses (etcd fast-forwards
	// all but one tick). Short ticks make that wait ~50-250 ms instead of up to 1 s; with
	// no peers there is no heartbeat traffic, so the only cost is a cheap timer.
	ecfg.TickMs = 50
	ecfg.ElectionMs = 250

	ecfg.QuotaBackendBytes = quotaBackendBytes
	// The API server compacts old revisions itself, as upstream does.
	ecfg.AutoCompactionMode = embed.CompactorModePeriodic
	ecfg.AutoCompactionRetention = "0"
	// Durability: every acknowledged write is fsynced to the WAL before the reply. The
	// backend batch interval and snapshot count only decide when bbolt is committed and
	// the WAL truncated; the WAL is replayed after a crash, so defaults are kept.
	ecfg.UnsafeNoFsync = false

	// NewConfig leaves this at 0, which would log every request as "expensive".
	ecfg.WarningUnaryRequestDuration = embed.DefaultWarningUnaryRequestDuration
	return ecfg
}

func startExternal(ctx context.Context, cfg Config) (*Etcd, error) {
	ccfg := clientConfig(ctx, cfg.Servers)
	if cfg.CAFile != "" || cfg.CertFile != "" || cfg.KeyFile != "" {
		info := transport.TLSInfo{TrustedCAFile: cfg.CAFile, CertFile: cfg.CertFile, KeyFile: cfg.KeyFile}
		tlsCfg, err := info.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("etcd: TLS config: %w", err)
		}
		ccfg.TLS = tlsCfg
	}
	client, err := clientv3.New(ccfg)
	if err != nil {
		return nil, fmt.Errorf("etcd: client: %w", err)
	}
	e := &Etcd{client: client, endpoints: append([]string(nil), cfg.Servers...)}
	// gRPC dials lazily; probe now so a wrong address fails start-up, not the first request.
	if err := waitReady(ctx, e); err != nil {
		client.Close()
		return nil, err
	}
	return e, nil
}

// waitReady retries Ready until it succeeds or ctx ends: an external cluster may
// still be electing a leader when Skiff starts.
func waitReady(ctx context.Context, e *Etcd) error {
	for {
		err := e.Ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcd: %v: %w", err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func clientConfig(ctx context.Context, endpoints []string) clientv3.Config {
	lg, _ := quietLogger(nil)
	return clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		// Same keepalive as upstream's API server, so a dead member is noticed.
		DialKeepAliveTime:    30 * time.Second,
		DialKeepAliveTimeout: 10 * time.Second,
		Logger:               lg,
		// The client must outlive the start-up context, so only its values are kept.
		Context: context.WithoutCancel(ctx),
	}
}

// quietLogger logs warnings and errors only, in JSON to stderr like etcd itself.
// closing, when non-nil, mutes the errors the embedded server logs about its own
// listeners while it shuts down.
func quietLogger(closing *atomic.Bool) (*zap.Logger, error) {
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(zapcore.WarnLevel)
	zc.Sampling = nil
	// A failure is reported to the user as one line by the caller; etcd's own
	// error log lines need no Go stack trace.
	zc.DisableStacktrace = true
	lg, err := zc.Build(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return &mutedCore{Core: c, closing: closing}
	}))
	if err != nil {
		return nil, fmt.Errorf("etcd: logger: %w", err)
	}
	return lg, nil
}

// benignStartup are warnings the embedded server prints on every start that do not
// apply to a loopback-only single member.
var benignStartup = map[string]bool{
	"Running http and grpc server on single port. This is not recommended for production.": true,
	"simple token is not cryptographically signed":                                         true,
}

// closingNoise are logged by embed.Etcd.Close for every listener it stops.
var closingNoise = map[string]bool{
	"setting up serving from embedded etcd failed.": true,
	"stopping insecure grpc server due to error":    true,
	"stopped insecure grpc server due to error":     true,
}

// mutedCore drops the known-benign messages above and passes everything else.
type mutedCore struct {
	zapcore.Core
	closing *atomic.Bool
}

func (m *mutedCore) With(fields []zapcore.Field) zapcore.Core {
	return &mutedCore{Core: m.Core.With(fields), closing: m.closing}
}

func (m *mutedCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if benignStartup[ent.Message] {
		return ce
	}
	if m.closing != nil && m.closing.Load() && closingNoise[ent.Message] {
		return ce
	}
	if m.Enabled(ent.Level) {
		return ce.AddCore(ent, m)
	}
	return ce
}
