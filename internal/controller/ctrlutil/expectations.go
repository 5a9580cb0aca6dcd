package ctrlutil

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// ExpectationsTTL bounds how long a controller waits for its informer to
// report writes it made; after that it trusts the cache again, so a lost watch
// event can delay but never wedge a controller.
const ExpectationsTTL = 5 * time.Minute

// Expectations remembers, per controller key, the creations and deletions a
// controller has issued but not yet seen through its informer. While any are
// outstanding the controller must not act on the (stale) cache again, or it
// would create or delete twice.
//
// Deletions are tracked by pod UID so the two signals of one deletion (the
// update that sets deletionTimestamp, then the delete event) count once.
type Expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	m     map[string]*expectation
}

type expectation struct {
	adds      int
	deletes   map[types.UID]struct{}
	timestamp time.Time
}

// NewExpectations returns an empty table.
func NewExpectations(c clock.PassiveClock) *Expectations {
	if c == nil {
		c = clock.RealClock{}
	}
	return &Expectations{clock: c, m: map[string]*expectation{}}
}

// Satisfied reports whether the controller may trust its cache for key: no
// outstanding operations, or the record has expired, or there is no record.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return true
	}
	if x.adds <= 0 && len(x.deletes) == 0 {
		return true
	}
	return e.clock.Since(x.timestamp) > ExpectationsTTL
}

// ExpectCreations records n creations about to be issued for key, replacing any
// earlier record (callers only set expectations when satisfied).
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expectation{adds: n, deletes: map[types.UID]struct{}{}, timestamp: e.clock.Now()}
}

// ExpectDeletions records the UIDs about to be deleted for key.
func (e *Expectations) ExpectDeletions(key string, uids []types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{deletes: map[types.UID]struct{}{}, timestamp: e.clock.Now()}
	for _, u := range uids {
		x.deletes[u] = struct{}{}
	}
	e.m[key] = x
}

// CreationObserved lowers the outstanding creations for key by one; it is also
// called when a create request fails, since no event will come for it.
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		x.adds--
	}
}

// DeletionObserved marks uid's deletion as seen (idempotent).
func (e *Expectations) DeletionObserved(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		delete(x.deletes, uid)
	}
}

// Delete forgets key (the controller object is gone).
func (e *Expectations) Delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
