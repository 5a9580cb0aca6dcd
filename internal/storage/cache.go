package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// event is one change seen by the watch cache. Objects in events and in the cache's
// state are shared by every reader and must never be mutated.
type event struct {
	typ  watch.EventType // Added, Modified or Deleted; "" for a progress notification
	key  string
	rev  uint64
	obj  runtime.Object // new state; for Deleted the last state, resourceVersion = delete revision
	prev runtime.Object // state before the change (nil for Added)
}

// watchCache mirrors one resource prefix of etcd through a single etcd watch: the
// current state, a ring of recent events for watches resuming from a revision, and the
// watchers events are fanned out to.
//
// Only the run goroutine writes state, ring, rev and minRev (under mu); readers take
// mu.RLock. Registration of a watcher happens under mu, so a watcher gets every event
// exactly once: from the ring if it happened before registration, from dispatch after.
type watchCache struct {
	s        *store
	capacity int

	mu       sync.RWMutex
	rev      uint64                    // every event up to rev has been applied
	minRev   uint64                    // the ring holds every event after minRev
	state    map[string]runtime.Object // key → current object
	ring     []*event                  // circular, oldest at ring[head]
	head     int
	count    int
	watchers map[*cacheWatcher]struct{}
	advanced chan struct{} // closed (and replaced) whenever rev moves
	stopped  bool

	// watchCtx carries the gRPC metadata that selects the etcd watch stream; progress
	// requests must use the same metadata to reach this cache's watch.
	watchCtx     context.Context
	lastProgress atomic.Int64 // unix nanos of the last RequestProgress
}

func newWatchCache(s *store, capacity int) *watchCache {
	return &watchCache{
		s:        s,
		capacity: capacity,
		state:    map[string]runtime.Object{},
		ring:     make([]*event, capacity),
		watchers: map[*cacheWatcher]struct{}{},
		advanced: make(chan struct{}),
	}
}

// start lists the prefix and starts the goroutine that keeps the cache current.
func (c *watchCache) start(ctx context.Context) error {
	c.watchCtx = clientv3.WithRequireLeader(ctx)
	if err := c.relist(ctx); err != nil {
		return err
	}
	go c.run(ctx)
	return nil
}

// run follows etcd until ctx ends, re-listing when the watch cannot resume. Failures
// back off exponentially (100ms to 5s); a watch that ran for a minute resets the backoff.
func (c *watchCache) run(ctx context.Context) {
	defer c.shutdown()
	backoff, relist := 100*time.Millisecond, false
	for {
		if relist {
			if err := c.relist(ctx); err != nil {
				slog.Warn("storage: re-list failed", "prefix", c.s.prefix, "err", err)
				if !sleep(ctx, backoff) {
					return
				}
				backoff = min(backoff*2, 5*time.Second)
				continue
			}
			relist = false
		}
		began := time.Now()
		err := c.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		slog.Warn("storage: etcd watch ended", "prefix", c.s.prefix, "rev", c.revision(), "err", err)
		relist = errors.Is(err, errWatchCompacted)
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

var errWatchCompacted = errors.New("watch revision compacted")

// follow watches etcd from the revision after the cache's and applies what it sees.
func (c *watchCache) follow(ctx context.Context) error {
	wctx, cancel := context.WithCancel(c.watchCtx)
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	wch := c.s.client.Watch(wctx, c.s.prefix, clientv3.WithPrefix(), clientv3.WithRev(int64(c.rev)+1),
		clientv3.WithPrevKV(), clientv3.WithProgressNotify())
	for resp := range wch {
		if resp.CompactRevision != 0 {
			return fmt.Errorf("%w: %d", errWatchCompacted, resp.CompactRevision)
		}
		if err := resp.Err(); err != nil {
			return err
		}
		if resp.IsProgressNotify() {
			c.progress(uint64(resp.Header.Revision))
			continue
		}
		for _, ev := range resp.Events {
			c.apply(ev)
		}
	}
	return errors.New("watch channel closed")
}

// relist replaces the state with a fresh read of the prefix. Watchers are closed because
// the events between the old and the new state are unknown; they resume (or get 410
// and re-list) from the revisions they have seen.
func (c *watchCache) relist(ctx context.Context) error {
	state := map[string]runtime.Object{}
	rev, err := c.readAll(ctx, state)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.state = state
	c.rev, c.minRev = rev, rev
	clear(c.ring)
	c.head, c.count = 0, 0
	watchers := c.takeWatchersLocked()
	c.signalLocked()
	c.mu.Unlock()
	for _, w := range watchers {
		w.evict()
	}
	return nil
}

// readAll reads every object under the prefix at one revision, in batches.
func (c *watchCache) readAll(ctx context.Context, into map[string]runtime.Object) (uint64, error) {
	defer observe("list", c.s.label, time.Now())
	end := clientv3.GetPrefixRangeEnd(c.s.prefix)
	key, rev := c.s.prefix, int64(0)
	for {
		readOpts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(maxBatch)}
		if rev > 0 {
			readOpts = append(readOpts, clientv3.WithRev(rev))
		}
		resp, err := c.s.client.Get(ctx, key, readOpts...)
		if err != nil {
			return 0, errFromEtcd(err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			obj, err := c.s.decode(kv)
			if err != nil {
				slog.Error("storage: skipping undecodable object", "key", string(kv.Key), "err", err)
				continue
			}
			into[string(kv.Key)] = obj
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return uint64(rev), nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// apply turns one etcd event into a cache event, records it and fans it out.
func (c *watchCache) apply(ev *clientv3.Event) {
	key := string(ev.Kv.Key)
	rev := uint64(ev.Kv.ModRevision)
	prev := c.state[key] // only this goroutine writes state
	e := &event{key: key, rev: rev, prev: prev}
	switch ev.Type {
	case mvccpb.PUT:
		obj, err := c.s.decode(ev.Kv)
		if err != nil {
			slog.Error("storage: skipping undecodable event", "key", key, "rev", rev, "err", err)
			c.progress(rev)
			return
		}
		e.typ, e.obj = watch.Modified, obj
		if prev == nil {
			e.typ = watch.Added
		}
	case mvccpb.DELETE:
		if prev == nil && ev.PrevKv != nil {
			prev, _ = c.s.decode(ev.PrevKv)
			e.prev = prev
		}
		if prev == nil {
			c.progress(rev)
			return
		}
		last := prev.DeepCopyObject()
		_ = setRV(last, ev.Kv.ModRevision) // a delete event's mod revision is the delete's
		e.typ, e.obj = watch.Deleted, last
	}
	c.mu.Lock()
	if e.typ == watch.Deleted {
		delete(c.state, key)
	} else {
		c.state[key] = e.obj
	}
	c.pushLocked(e)
	c.rev = rev
	c.signalLocked()
	watchers := c.watcherListLocked()
	c.mu.Unlock()
	c.dispatch(e, watchers)
}

// progress records that etcd has no events for the prefix up to rev.
func (c *watchCache) progress(rev uint64) {
	c.mu.Lock()
	if rev <= c.rev {
		c.mu.Unlock()
		return
	}
	c.rev = rev
	c.signalLocked()
	watchers := c.watcherListLocked()
	c.mu.Unlock()
	e := &event{rev: rev}
	for _, w := range watchers {
		select {
		case w.input <- e: // lets the watcher bookmark at rev
		default: // a hint only; a busy watcher loses nothing by missing it
		}
	}
}

func (c *watchCache) pushLocked(e *event) {
	if c.count == c.capacity {
		c.minRev = c.ring[c.head].rev
		c.ring[c.head] = e
		c.head = (c.head + 1) % c.capacity
		return
	}
	c.ring[(c.head+c.count)%c.capacity] = e
	c.count++
}

// signalLocked wakes everything waiting for the revision to move.
func (c *watchCache) signalLocked() {
	close(c.advanced)
	c.advanced = make(chan struct{})
}

// dispatchBudget is how long one event may wait on slow watchers before they are
// closed: a consumer that cannot keep up re-lists instead of stalling every watch.
const dispatchBudget = 100 * time.Millisecond

func (c *watchCache) dispatch(e *event, watchers []*cacheWatcher) {
	var blocked []*cacheWatcher
	for _, w := range watchers {
		select {
		case w.input <- e:
		case <-w.done:
		default:
			blocked = append(blocked, w)
		}
	}
	if len(blocked) == 0 {
		return
	}
	timer := time.NewTimer(dispatchBudget)
	defer timer.Stop()
	for _, w := range blocked {
		select {
		case w.input <- e:
		case <-w.done:
		case <-timer.C:
			c.remove(w)
			w.evict()
			// the budget is spent: everyone still blocked is closed too
			timer.Reset(0)
		}
	}
}

func (c *watchCache) watcherListLocked() []*cacheWatcher {
	list := make([]*cacheWatcher, 0, len(c.watchers))
	for w := range c.watchers {
		list = append(list, w)
	}
	return list
}

// takeWatchersLocked unregisters and returns every watcher.
func (c *watchCache) takeWatchersLocked() []*cacheWatcher {
	list := c.watcherListLocked()
	for _, w := range list {
		delete(c.watchers, w)
		registeredWatchers.WithLabelValues(c.s.label).Dec()
	}
	return list
}

// remove unregisters w; safe to call more than once.
func (c *watchCache) remove(w *cacheWatcher) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.watchers[w]; ok {
		delete(c.watchers, w)
		registeredWatchers.WithLabelValues(c.s.label).Dec()
	}
}

// shutdown closes every watcher when the cache stops.
func (c *watchCache) shutdown() {
	c.mu.Lock()
	c.stopped = true
	watchers := c.takeWatchersLocked()
	c.mu.Unlock()
	for _, w := range watchers {
		w.evict()
	}
}

func (c *watchCache) revision() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// get returns the cached object under key (shared: copy before handing it out).
func (c *watchCache) get(key string) runtime.Object {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.state[key]
}

// snapshot returns the cached objects under prefix in key order (shared) and the
// revision they were current at.
func (c *watchCache) snapshot(prefix string) ([]runtime.Object, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.snapshotLocked(prefix), c.rev
}

func (c *watchCache) snapshotLocked(prefix string) []runtime.Object {
	keys := make([]string, 0, len(c.state))
	for k := range c.state {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	objs := make([]runtime.Object, len(keys))
	for i, k := range keys {
		objs[i] = c.state[k]
	}
	return objs
}

// eventsAfterLocked returns the buffered events after rev, or 410 when some of them
// have already left the ring.
func (c *watchCache) eventsAfterLocked(rev uint64) ([]*event, error) {
	if rev < c.minRev {
		return nil, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", rev, c.minRev))
	}
	var out []*event
	for i := 0; i < c.count; i++ {
		if e := c.ring[(c.head+i)%c.capacity]; e.rev > rev {
			out = append(out, e)
		}
	}
	return out, nil
}

// waitFor blocks until the cache has seen revision rev, asking etcd for progress
// notifications so that writes to other prefixes (which this watch never sees) do not
// leave the cache looking behind. It gives up after waitLimit with 504.
func (c *watchCache) waitFor(ctx context.Context, rev uint64) error {
	if rev == 0 {
		return nil
	}
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		c.mu.RLock()
		have, advanced, stopped := c.rev, c.advanced, c.stopped
		c.mu.RUnlock()
		if have >= rev {
			return nil
		}
		if stopped {
			return apierrors.NewServiceUnavailable("storage is shutting down")
		}
		c.requestProgress()
		select {
		case <-advanced:
		case <-tick.C:
		case <-deadline.C:
			return errTooLarge(rev, have)
		case <-ctx.Done():
			return errFromEtcd(ctx.Err())
		}
	}
}

// waitForEtcd waits until the cache is as fresh as etcd is now: the cache then serves a
// consistent read.
func (c *watchCache) waitForEtcd(ctx context.Context) error {
	rev, err := c.s.etcdRevision(ctx)
	if err != nil {
		return err
	}
	if err := c.waitFor(ctx, rev); err != nil {
		if apierrors.IsTimeout(err) {
			return apierrors.NewTimeoutError("the watch cache did not catch up with etcd in time", 1)
		}
		return err
	}
	return nil
}

// requestProgress asks etcd to report the current revision on the cache's watch stream,
// at most every 50ms however many requests are waiting.
func (c *watchCache) requestProgress() {
	now := time.Now().UnixNano()
	last := c.lastProgress.Load()
	if now-last < int64(50*time.Millisecond) || !c.lastProgress.CompareAndSwap(last, now) {
		return
	}
	ctx, cancel := context.WithTimeout(c.watchCtx, time.Second)
	defer cancel()
	if err := c.s.client.RequestProgress(ctx); err != nil {
		slog.Debug("storage: progress request failed", "prefix", c.s.prefix, "err", err)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (c *watchCache) isStopped() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.stopped
}
