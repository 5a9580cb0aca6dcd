package storage

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

const (
	// InitialEventsEndAnnotation marks the bookmark that ends the initial events of a
	// watch-list (sendInitialEvents=true).
	InitialEventsEndAnnotation = "k8s.io/initial-events-end"
	// watcherBuffer is how many events a watcher may fall behind the cache before the
	// dispatcher starts waiting on it (and, past dispatchBudget, closes it).
	watcherBuffer = 1024
)

// bookmarkInterval is how often a watch with AllowBookmarks gets a BOOKMARK. A variable
// so tests can shorten it.
var bookmarkInterval = time.Minute

// Watch implements Interface. Event objects are shared with the cache and with other
// watchers: consumers must treat them as read-only (the API server only encodes them).
func (s *store) Watch(ctx context.Context, prefix string, opts WatchOptions) (watch.Interface, error) {
	if !strings.HasPrefix(prefix, s.prefix) {
		return nil, apierrors.NewInternalError(fmt.Errorf("watch prefix %q is not under %q", prefix, s.prefix))
	}
	n, err := parseRV(opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	watchList := opts.SendInitialEvents != nil && *opts.SendInitialEvents
	initial := watchList || (opts.SendInitialEvents == nil && n == 0)
	// Wait until the cache holds the state the request asks for: for "" the state etcd
	// has now, for N at least N.
	if opts.ResourceVersion == "" {
		err = s.cache.waitForEtcd(ctx)
	} else {
		err = s.cache.waitFor(ctx, n)
	}
	if err != nil {
		return nil, err
	}
	w := &cacheWatcher{
		cache:     s.cache,
		prefix:    prefix,
		pred:      opts.Predicate,
		newFunc:   s.newFunc,
		bookmarks: opts.AllowBookmarks,
		input:     make(chan *event, watcherBuffer),
		result:    make(chan watch.Event),
		done:      make(chan struct{}),
		evicted:   make(chan struct{}),
	}
	start, err := s.cache.register(w, initial, n)
	if err != nil {
		return nil, err
	}
	start.endBookmark = watchList
	go w.run(ctx, start)
	return w, nil
}

// watchStart is what a watcher sends before live events.
type watchStart struct {
	objects     []runtime.Object // current state for ADDED events (initial mode)
	replay      []*event         // buffered events after the requested revision
	from        uint64           // revision replay starts after
	rev         uint64           // the cache's revision at registration
	endBookmark bool             // send the initial-events-end bookmark
}

// register adds w to the fan-out and returns what it must send first, both taken under
// one lock so nothing is missed or sent twice.
func (c *watchCache) register(w *cacheWatcher, initial bool, from uint64) (watchStart, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return watchStart{}, apierrors.NewServiceUnavailable("storage is shutting down")
	}
	st := watchStart{from: c.rev, rev: c.rev}
	if initial {
		st.objects = c.snapshotLocked(w.prefix)
	} else if from != 0 {
		replay, err := c.eventsAfterLocked(from)
		if err != nil {
			return st, err
		}
		st.replay, st.from = replay, from
	}
	c.watchers[w] = struct{}{}
	registeredWatchers.WithLabelValues(c.s.label).Inc()
	return st, nil
}

// cacheWatcher is one watch. Its goroutine owns result; the cache's dispatcher feeds
// input and closes evicted when the watcher falls too far behind.
type cacheWatcher struct {
	cache     *watchCache
	prefix    string
	pred      Predicate
	newFunc   func() runtime.Object
	bookmarks bool

	input   chan *event
	result  chan watch.Event
	done    chan struct{} // closed by Stop
	evicted chan struct{} // closed by the cache

	stopOnce, evictOnce sync.Once
	rev                 uint64 // every event up to rev has been sent (or filtered out)
}

// Stop implements watch.Interface.
func (w *cacheWatcher) Stop() {
	w.stopOnce.Do(func() { close(w.done) })
	w.cache.remove(w)
}

// ResultChan implements watch.Interface. It is closed when the watch ends.
func (w *cacheWatcher) ResultChan() <-chan watch.Event { return w.result }

func (w *cacheWatcher) evict() { w.evictOnce.Do(func() { close(w.evicted) }) }

func (w *cacheWatcher) run(ctx context.Context, st watchStart) {
	defer close(w.result)
	defer w.cache.remove(w)
	if !w.sendStart(ctx, st) {
		return
	}
	var tick <-chan time.Time
	if w.bookmarks {
		t := time.NewTicker(bookmarkInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case e := <-w.input:
			if !w.handle(ctx, e) {
				return
			}
		case <-tick:
			if !w.send(ctx, w.bookmark(false)) {
				return
			}
		case <-w.evicted:
			return
		case <-w.done:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (w *cacheWatcher) sendStart(ctx context.Context, st watchStart) bool {
	for _, obj := range st.objects {
		if ok, _ := w.pred.Matches(obj); ok && !w.send(ctx, watch.Event{Type: watch.Added, Object: obj}) {
			return false
		}
	}
	w.rev = st.from
	for _, e := range st.replay {
		if !w.handle(ctx, e) {
			return false
		}
	}
	w.rev = max(w.rev, st.rev)
	return !st.endBookmark || w.send(ctx, w.bookmark(true))
}

// handle sends what e means to this watcher: nothing if it is outside the prefix or
// matches the predicate neither before nor after, ADDED/DELETED when it starts/stops
// matching.
func (w *cacheWatcher) handle(ctx context.Context, e *event) bool {
	// Registration under the cache lock guarantees no event arrives twice, so only the
	// revision needs tracking (events of one etcd txn share a revision).
	w.rev = max(w.rev, e.rev)
	if e.typ == "" || !strings.HasPrefix(e.key, w.prefix) {
		return true
	}
	typ := w.transition(e)
	if typ == "" {
		return true
	}
	return w.send(ctx, watch.Event{Type: typ, Object: e.obj})
}

func (w *cacheWatcher) transition(e *event) watch.EventType {
	now, _ := w.pred.Matches(e.obj)
	if e.typ == watch.Added || e.prev == nil {
		return pick(now, watch.Added)
	}
	before, _ := w.pred.Matches(e.prev)
	switch {
	case e.typ == watch.Deleted:
		return pick(before, watch.Deleted)
	case before && now:
		return watch.Modified
	case now:
		return watch.Added
	case before:
		return watch.Deleted // stopped matching: the object is sent in its new state
	default:
		return ""
	}
}

func pick(ok bool, t watch.EventType) watch.EventType {
	if ok {
		return t
	}
	return ""
}

// bookmark is an empty object of the kind carrying only the watcher's revision.
func (w *cacheWatcher) bookmark(initialEnd bool) watch.Event {
	obj := w.newFunc()
	if acc, err := meta.Accessor(obj); err == nil {
		acc.SetResourceVersion(fmt.Sprint(w.rev))
		if initialEnd {
			acc.SetAnnotations(map[string]string{InitialEventsEndAnnotation: "true"})
		}
	}
	return watch.Event{Type: watch.Bookmark, Object: obj}
}

func (w *cacheWatcher) send(ctx context.Context, ev watch.Event) bool {
	select {
	case w.result <- ev:
		return true
	case <-w.done:
	case <-w.evicted:
	case <-ctx.Done():
	}
	return false
}
