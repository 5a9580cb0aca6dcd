package storage

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
)

// Claim is a plain etcd key (not an object) held by an owner: an allocation record
// such as a Service's ClusterIP, /registry/ranges/serviceips/10.43.0.7 = "ns/name".
type Claim struct {
	Key, Owner string
}

// Effects are the claims an object write takes and frees. They commit in the same
// etcd transaction as the write, so an object and its allocations never disagree:
// a failed write takes nothing, a delete frees its claims or fails as a whole.
type Effects struct {
	// Reserve: each key must be free or already held by the same owner; the write
	// fails (and is retried, see EffectsFunc) if another owner holds one.
	Reserve []Claim
	// Release: each key still held by its owner is deleted; a key held by someone
	// else (or gone) is left alone and does not fail the write.
	Release []Claim
}

// Keys reads claims; an EffectsFunc uses it to pick free keys.
type Keys interface {
	// Owner returns who holds key ("" when it is free).
	Owner(ctx context.Context, key string) (string, error)
}

// EffectsFunc computes the claims of a write to one object: old is nil on create,
// obj is nil on delete. It may set fields of obj (the values it allocated) and must
// be deterministic enough to be called again: when another writer takes a key first,
// the store calls it again on the same input. Its errors are returned as they are.
type EffectsFunc func(ctx context.Context, keys Keys, old, obj runtime.Object) (Effects, error)

// etcdKeys implements Keys on etcd.
type etcdKeys struct{ client *clientv3.Client }

func (k etcdKeys) Owner(ctx context.Context, key string) (string, error) {
	resp, err := k.client.Get(ctx, key)
	if err != nil {
		return "", errFromEtcd(err)
	}
	if len(resp.Kvs) == 0 {
		return "", nil
	}
	return string(resp.Kvs[0].Value), nil
}

// txnParts turns effects into the compares and operations of the write's transaction.
// A key already held by its owner is compared (so a concurrent release fails the
// write) but not written again.
func txnParts(ctx context.Context, keys Keys, eff Effects) ([]clientv3.Cmp, []clientv3.Op, error) {
	var cmps []clientv3.Cmp
	var ops []clientv3.Op
	for _, c := range eff.Reserve {
		owner, err := keys.Owner(ctx, c.Key)
		if err != nil {
			return nil, nil, err
		}
		if owner == c.Owner {
			cmps = append(cmps, clientv3.Compare(clientv3.Value(c.Key), "=", c.Owner))
			continue
		}
		// Taken by another owner (or free): the compare fails if it is taken, and
		// the store asks the EffectsFunc again, which then sees the key as taken.
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(c.Key), "=", 0))
		ops = append(ops, clientv3.OpPut(c.Key, c.Owner))
	}
	for _, c := range eff.Release {
		// A nested transaction: releasing a key someone else holds must not fail the write.
		ops = append(ops, clientv3.OpTxn(
			[]clientv3.Cmp{clientv3.Compare(clientv3.Value(c.Key), "=", c.Owner)},
			[]clientv3.Op{clientv3.OpDelete(c.Key)}, nil))
	}
	return cmps, ops, nil
}

// maxEffectRetries bounds how often a write is retried because another writer took
// one of its keys first (each retry recomputes the effects).
const maxEffectRetries = 16

// ClaimKV is a claim as stored, with its mod revision.
type ClaimKV struct {
	Claim
	ModRevision int64
}

// ListClaims reads every claim under prefix at etcd revision rev (0: latest).
func ListClaims(ctx context.Context, client *clientv3.Client, prefix string, rev int64) ([]ClaimKV, error) {
	opts := []clientv3.OpOption{clientv3.WithPrefix()}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	resp, err := client.Get(ctx, prefix, opts...)
	if err != nil {
		return nil, errFromEtcd(err)
	}
	out := make([]ClaimKV, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, ClaimKV{Claim: Claim{Key: string(kv.Key), Owner: string(kv.Value)}, ModRevision: kv.ModRevision})
	}
	return out, nil
}

// ReleaseClaim deletes a claim if it is unchanged since it was read; it reports
// whether it did.
func ReleaseClaim(ctx context.Context, client *clientv3.Client, c ClaimKV) (bool, error) {
	resp, err := client.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(c.Key), "=", c.ModRevision)).
		Then(clientv3.OpDelete(c.Key)).Commit()
	if err != nil {
		return false, errFromEtcd(err)
	}
	return resp.Succeeded, nil
}

// ReserveClaim takes a free key for its owner, provided the object at objectKey is
// still at revision objectRev (the owner has not changed or gone since it was read).
// It reports whether the key is now the owner's.
func ReserveClaim(ctx context.Context, client *clientv3.Client, c Claim, objectKey string, objectRev int64) (bool, error) {
	resp, err := client.Txn(ctx).If(
		clientv3.Compare(clientv3.CreateRevision(c.Key), "=", 0),
		clientv3.Compare(clientv3.ModRevision(objectKey), "=", objectRev)).
		Then(clientv3.OpPut(c.Key, c.Owner)).Commit()
	if err != nil {
		return false, errFromEtcd(err)
	}
	return resp.Succeeded, nil
}
