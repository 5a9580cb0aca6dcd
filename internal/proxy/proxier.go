package proxy

import (
	"context"
	"fmt"
	"log"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Config configures the proxier.
type Config struct {
	RulesConfig
	// MinSyncInterval batches bursts of changes: syncs are at least this far apart
	// (default 200ms). A lone change is applied as soon as the interval allows.
	MinSyncInterval time.Duration
	// FullSyncInterval rewrites the whole table now and then, repairing changes
	// made behind the proxy's back (default 1h).
	FullSyncInterval time.Duration
	// OnSync, when set, is called after each sync (tests, metrics).
	OnSync func(SyncStats, error)
	Logf   func(format string, args ...any)
}

func (c Config) withDefaults() Config {
	if c.MinSyncInterval <= 0 {
		c.MinSyncInterval = 200 * time.Millisecond
	}
	if c.FullSyncInterval <= 0 {
		c.FullSyncInterval = time.Hour
	}
	if c.Logf == nil {
		c.Logf = log.Printf
	}
	return c
}

// Run watches Services and EndpointSlices and keeps the node's rules in sync until
// ctx ends. The informer handlers only mark the state dirty; this goroutine owns
// the Rules and reads the current state from the listers (level-triggered), so a
// burst of events costs one sync.
func Run(ctx context.Context, client kubernetes.Interface, cfg Config) error {
	cfg = cfg.withDefaults()
	rules, err := NewRules(ctx, cfg.RulesConfig)
	if err != nil {
		return err
	}
	cfg.Logf("proxy: programming services with %s on node %q", rules.Mode(), cfg.NodeName)
	factory := informers.NewSharedInformerFactory(client, 0)
	svcInf := factory.Core().V1().Services()
	sliceInf := factory.Discovery().V1().EndpointSlices()
	dirty := make(chan struct{}, 1)
	mark := func() {
		select {
		case dirty <- struct{}{}:
		default:
		}
	}
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { mark() },
		UpdateFunc: func(any, any) { mark() },
		DeleteFunc: func(any) { mark() },
	}
	if _, err := svcInf.Informer().AddEventHandler(h); err != nil {
		return err
	}
	if _, err := sliceInf.Informer().AddEventHandler(h); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), svcInf.Informer().HasSynced, sliceInf.Informer().HasSynced) {
		return ctx.Err()
	}
	mark()

	full := time.NewTicker(cfg.FullSyncInterval)
	defer full.Stop()
	var last time.Time
	retry := time.Second
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-full.C:
			rules.ForceFullSync()
		case <-dirty:
		}
		if wait := cfg.MinSyncInterval - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
		// Drain a mark that arrived while waiting: this sync reads it anyway.
		select {
		case <-dirty:
		default:
		}
		last = time.Now()
		svcs, err1 := svcInf.Lister().List(labels.Everything())
		slices, err2 := sliceInf.Lister().List(labels.Everything())
		if err1 != nil || err2 != nil {
			return fmt.Errorf("proxy: listing: %v %v", err1, err2)
		}
		st, err := rules.Sync(ctx, svcs, slices)
		if cfg.OnSync != nil {
			cfg.OnSync(st, err)
		}
		if err != nil {
			cfg.Logf("proxy: sync failed (retrying with a full sync in %s): %v", retry, err)
			time.AfterFunc(retry, mark)
			retry = min(2*retry, time.Minute)
			continue
		}
		retry = time.Second
	}
}
