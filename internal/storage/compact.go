package storage

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// CompactRevKey is the key API servers use to agree on who compacts: its version is a
// logical clock that only the winner of each tick advances.
const CompactRevKey = "/registry/compact_rev_key"

// StartCompactor compacts etcd every interval, each time up to the revision observed at
// the previous tick, so roughly one interval of history stays available for watches
// and paged lists. Several API servers may run it: a transaction on CompactRevKey lets
// one of them compact per tick. It stops when ctx ends.
func StartCompactor(ctx context.Context, c *clientv3.Client, interval time.Duration) {
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		var version, rev int64
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			var err error
			version, rev, err = compactOnce(ctx, c, version, rev)
			if err != nil && ctx.Err() == nil {
				slog.Warn("storage: compaction failed", "rev", rev, "err", err)
			}
		}
	}()
}

// compactOnce claims this tick by moving CompactRevKey from version to version+1 and,
// if it won, compacts to rev. It returns the clock and the revision for the next tick.
func compactOnce(ctx context.Context, c *clientv3.Client, version, rev int64) (int64, int64, error) {
	start := time.Now()
	resp, err := c.Txn(ctx).
		If(clientv3.Compare(clientv3.Version(CompactRevKey), "=", version)).
		Then(clientv3.OpPut(CompactRevKey, strconv.FormatInt(rev, 10))).
		Else(clientv3.OpGet(CompactRevKey)).
		Commit()
	observe("compact_txn", "", start)
	if err != nil {
		return version, rev, err
	}
	current := resp.Header.Revision
	if !resp.Succeeded {
		// Another server moved the clock: follow it and compact at a later tick if we win.
		var v int64
		if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
			v = kvs[0].Version
		}
		return v, current, nil
	}
	if rev == 0 {
		return version + 1, current, nil // first tick: nothing known to be old enough
	}
	start = time.Now()
	_, err = c.Compact(ctx, rev)
	observe("compact", "", start)
	if err != nil && !isCompacted(err) {
		return version + 1, current, err
	}
	slog.Info("storage: compacted etcd", "rev", rev)
	return version + 1, current, nil
}
