package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Config describes the store of one resource type.
type Config struct {
	Client *clientv3.Client
	// Prefix is the key prefix of the resource, e.g. "/registry/pods/"; it must end in "/".
	Prefix string
	// Resource names the resource in error messages: pods "x" not found.
	Resource schema.GroupResource
	// NewFunc returns an empty object of the kind.
	NewFunc func() runtime.Object
	// Codec encodes what is written to etcd and decodes what is read (JSON or protobuf).
	Codec runtime.Codec
	// WatchCacheSize is how many recent events the watch cache keeps for watches that
	// resume from a resource version. 0 means 1000; values below 100 are raised to 100.
	WatchCacheSize int
	// DeleteOnUpdate, when set, says whether an updated object is to be deleted instead
	// of written (its deletion has nothing left to wait for: last finalizer removed).
	// The API server owns that rule (namespaces, pods' grace periods); nil never deletes.
	DeleteOnUpdate func(obj runtime.Object) bool
	// Effects, when set, returns the claims (allocation keys) each write of an object
	// takes and frees; they commit in the write's own transaction. Nil: none.
	Effects EffectsFunc
}

const (
	defaultWatchCacheSize = 1000
	minWatchCacheSize     = 100
	// waitLimit bounds how long a request waits for the watch cache to reach a
	// resource version before it fails with 504.
	waitLimit = 3 * time.Second
)

// store implements Interface for one resource type.
type store struct {
	client   *clientv3.Client
	prefix   string
	resource schema.GroupResource
	label    string // resource name for metrics
	newFunc  func() runtime.Object
	codec    runtime.Codec
	cache    *watchCache
	// deleteOnUpdate is Config.DeleteOnUpdate.
	deleteOnUpdate func(runtime.Object) bool
	// effects is Config.Effects; keys reads claims for it.
	effects EffectsFunc
	keys    Keys
}

// New returns the store of one resource type. It lists cfg.Prefix once (failing if
// etcd cannot be read) and then starts the watch cache, which runs until ctx ends.
func New(ctx context.Context, cfg Config) (Interface, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("storage: Config.Client is nil")
	case !strings.HasSuffix(cfg.Prefix, "/"):
		return nil, fmt.Errorf("storage: prefix %q must end in /", cfg.Prefix)
	case cfg.NewFunc == nil || cfg.Codec == nil:
		return nil, errors.New("storage: Config.NewFunc and Config.Codec are required")
	}
	size := cfg.WatchCacheSize
	if size == 0 {
		size = defaultWatchCacheSize
	}
	size = max(size, minWatchCacheSize)
	s := &store{
		client:   cfg.Client,
		prefix:   cfg.Prefix,
		resource: cfg.Resource,
		label:    cfg.Resource.String(),
		newFunc:  cfg.NewFunc,
		codec:    cfg.Codec,

		deleteOnUpdate: cfg.DeleteOnUpdate,
		effects:        cfg.Effects,
		keys:           etcdKeys{cfg.Client},
	}
	s.cache = newWatchCache(s, size)
	if err := s.cache.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// checkKey rejects keys outside this store's prefix: they are programming errors in the
// caller and would otherwise read or write another resource's data.
func (s *store) checkKey(key string) error {
	if !strings.HasPrefix(key, s.prefix) || len(key) == len(s.prefix) {
		return apierrors.NewInternalError(fmt.Errorf("key %q is not under %q", key, s.prefix))
	}
	return nil
}

// decode turns a stored value into an object whose resourceVersion is its mod revision.
func (s *store) decode(kv *mvccpb.KeyValue) (runtime.Object, error) {
	obj, _, err := s.codec.Decode(kv.Value, nil, s.newFunc())
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("decoding %s: %w", kv.Key, err))
	}
	if err := setRV(obj, kv.ModRevision); err != nil {
		return nil, err
	}
	return obj, nil
}

// encode serializes obj without its resourceVersion, which is never stored: the mod
// revision is the source of truth. obj must be owned by the caller (it is modified).
func (s *store) encode(obj runtime.Object) ([]byte, error) {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	acc.SetResourceVersion("")
	var buf bytes.Buffer
	if err := s.codec.Encode(obj, &buf); err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("encoding %s: %w", acc.GetName(), err))
	}
	return buf.Bytes(), nil
}

func setRV(obj runtime.Object, rev int64) error {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	acc.SetResourceVersion(strconv.FormatInt(rev, 10))
	return nil
}

// getKV reads one key with a quorum read; nil means not found.
func (s *store) getKV(ctx context.Context, op, key string) (*mvccpb.KeyValue, error) {
	defer observe(op, s.label, time.Now())
	resp, err := s.client.Get(ctx, key)
	if err != nil {
		return nil, errFromEtcd(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	return resp.Kvs[0], nil
}

// Create implements Interface. The object's claims (Config.Effects) are taken in
// the same transaction; when another writer takes one first, the effects are
// computed again on a fresh copy of obj.
func (s *store) Create(ctx context.Context, key string, obj runtime.Object, dryRun bool) (runtime.Object, error) {
	if err := s.checkKey(key); err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		out := obj.DeepCopyObject()
		cmps, ops, err := s.effectsOf(ctx, nil, out)
		if err != nil {
			return nil, err
		}
		data, err := s.encode(out)
		if err != nil {
			return nil, err
		}
		if dryRun {
			kv, err := s.getKV(ctx, "get", key)
			if err != nil {
				return nil, err
			}
			if kv != nil {
				return nil, apierrors.NewAlreadyExists(s.resource, nameOf(key))
			}
			return out, nil
		}
		start := time.Now()
		resp, err := s.client.Txn(ctx).
			If(append([]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", 0)}, cmps...)...).
			Then(append([]clientv3.Op{clientv3.OpPut(key, string(data))}, ops...)...).
			Else(clientv3.OpGet(key)).
			Commit()
		observe("create", s.label, start)
		if err != nil {
			return nil, errFromEtcd(err)
		}
		if resp.Succeeded {
			return out, setRV(out, resp.Header.Revision)
		}
		if len(resp.Responses[0].GetResponseRange().GetKvs()) > 0 || try >= maxEffectRetries {
			return nil, apierrors.NewAlreadyExists(s.resource, nameOf(key))
		}
		// The object is not there: another writer took one of its claims. Try again.
	}
}

// effectsOf computes a write's claims as transaction compares and operations.
func (s *store) effectsOf(ctx context.Context, old, obj runtime.Object) ([]clientv3.Cmp, []clientv3.Op, error) {
	if s.effects == nil {
		return nil, nil, nil
	}
	eff, err := s.effects(ctx, s.keys, old, obj)
	if err != nil {
		return nil, nil, err
	}
	return txnParts(ctx, s.keys, eff)
}

// Get implements Interface.
func (s *store) Get(ctx context.Context, key string, rv string) (runtime.Object, error) {
	if err := s.checkKey(key); err != nil {
		return nil, err
	}
	if rv == "" {
		kv, err := s.getKV(ctx, "get", key)
		if err != nil {
			return nil, err
		}
		if kv == nil {
			return nil, apierrors.NewNotFound(s.resource, nameOf(key))
		}
		return s.decode(kv)
	}
	n, err := parseRV(rv)
	if err != nil {
		return nil, err
	}
	if err := s.cache.waitFor(ctx, n); err != nil {
		return nil, err
	}
	obj := s.cache.get(key)
	if obj == nil {
		// Confirm a miss on etcd: before 3.5, etcd may report a watch's progress
		// at a revision whose events it has not delivered yet, so the cache can
		// believe it is current while a just-created object is still on its way.
		return s.Get(ctx, key, "")
	}
	return obj.DeepCopyObject(), nil
}

// checkPreconditions compares pre with the stored object (whose resourceVersion is set).
func (s *store) checkPreconditions(key string, pre *Preconditions, obj runtime.Object) error {
	if pre == nil {
		return nil
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if pre.UID != nil && *pre.UID != acc.GetUID() {
		return apierrors.NewConflict(s.resource, nameOf(key), fmt.Errorf(
			"Precondition failed: UID in precondition: %v, UID in object meta: %v", *pre.UID, acc.GetUID()))
	}
	if pre.ResourceVersion != nil && *pre.ResourceVersion != acc.GetResourceVersion() {
		return apierrors.NewConflict(s.resource, nameOf(key), fmt.Errorf(
			"Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v",
			*pre.ResourceVersion, acc.GetResourceVersion()))
	}
	return nil
}

// errModified is the conflict for a write based on an outdated resourceVersion.
func (s *store) errModified(key string) error {
	return apierrors.NewConflict(s.resource, nameOf(key), errors.New(
		"the object has been modified; please apply your changes to the latest version and try again"))
}

// casResult is the outcome of a compare-and-swap on a key's mod revision.
type casResult struct {
	ok  bool
	rev int64            // revision of the write when ok
	cur *mvccpb.KeyValue // the current value when !ok (nil: the key is gone)
}

// cas runs op (and the claims' ops) on key if its mod revision is still modRev and
// the claims' compares hold, else reads the key so the caller can retry without
// another round trip.
func (s *store) cas(ctx context.Context, opName, key string, modRev int64, op clientv3.Op, cmps []clientv3.Cmp, ops []clientv3.Op) (casResult, error) {
	defer observe(opName, s.label, time.Now())
	resp, err := s.client.Txn(ctx).
		If(append([]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", modRev)}, cmps...)...).
		Then(append([]clientv3.Op{op}, ops...)...).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return casResult{}, errFromEtcd(err)
	}
	if resp.Succeeded {
		return casResult{ok: true, rev: resp.Header.Revision}, nil
	}
	res := casResult{}
	if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
		res.cur = kvs[0]
	}
	return res, nil
}

// Update implements Interface. When Config.DeleteOnUpdate says so for fn's result, the
// object is deleted (compare-and-delete on the mod revision) instead of written, and the
// result is returned with the delete's revision.
//
// The first attempt starts from the watch cache's copy, as upstream's GuaranteedUpdate
// does: the compare-and-swap on the mod revision makes a stale guess harmless, and it
// saves an etcd round trip on every update. Any outcome other than a successful write
// (not found, conflict, failed precondition, an error from fn, no change) is decided
// again on a quorum read, so a stale cache never leaks into an answer.
func (s *store) Update(ctx context.Context, key string, pre *Preconditions, fn UpdateFunc, dryRun bool) (runtime.Object, error) {
	if err := s.checkKey(key); err != nil {
		return nil, err
	}
	kv, guessed := s.cachedKV(key)
	if !guessed {
		var err error
		if kv, err = s.getKV(ctx, "get", key); err != nil {
			return nil, err
		}
	}
	claimLosses := 0
	for {
		out, retry, wrote, err := s.updateOnce(ctx, key, kv, pre, fn, dryRun)
		switch {
		case wrote:
			return out, err
		case retry != nil: // lost the compare-and-swap: run fn again on the winner's state
			if kv != nil && retry.ModRevision == kv.ModRevision {
				// The object is unchanged: another writer took one of its claims.
				if claimLosses++; claimLosses > maxEffectRetries {
					return nil, s.errModified(key)
				}
			}
			kv, guessed = retry, false
			if kv == missingKV {
				kv = nil
			}
		case guessed: // decided on the cache's guess: decide again on the real state
			guessed = false
			if kv, err = s.getKV(ctx, "get", key); err != nil {
				return nil, err
			}
		default:
			return out, err
		}
	}
}

// cachedKV rebuilds the stored form of the cache's copy of key (the encoding is
// deterministic, so it equals the bytes in etcd when the cache is current).
func (s *store) cachedKV(key string) (*mvccpb.KeyValue, bool) {
	obj := s.cache.get(key)
	if obj == nil {
		return nil, false
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, false
	}
	rev, err := strconv.ParseInt(acc.GetResourceVersion(), 10, 64)
	if err != nil {
		return nil, false
	}
	data, err := s.encode(obj.DeepCopyObject())
	if err != nil {
		return nil, false
	}
	return &mvccpb.KeyValue{Key: []byte(key), Value: data, ModRevision: rev}, true
}

// updateOnce runs one attempt of Update on kv. wrote says etcd took the change; retry
// is the current state after a lost compare-and-swap, when fn must run again.
func (s *store) updateOnce(ctx context.Context, key string, kv *mvccpb.KeyValue, pre *Preconditions, fn UpdateFunc, dryRun bool) (out runtime.Object, retry *mvccpb.KeyValue, wrote bool, err error) {
	if kv == nil {
		return nil, nil, false, apierrors.NewNotFound(s.resource, nameOf(key))
	}
	cur, err := s.decode(kv)
	if err != nil {
		return nil, nil, false, err
	}
	if err := s.checkPreconditions(key, pre, cur); err != nil {
		return nil, nil, false, err
	}
	next, err := fn(cur.DeepCopyObject())
	if err != nil {
		return nil, nil, false, err
	}
	acc, err := meta.Accessor(next)
	if err != nil {
		return nil, nil, false, apierrors.NewInternalError(err)
	}
	if rv := acc.GetResourceVersion(); rv != "" && rv != strconv.FormatInt(kv.ModRevision, 10) {
		return nil, nil, false, s.errModified(key)
	}
	if s.deleteOnUpdate != nil && s.deleteOnUpdate(next) {
		cmps, ops, err := s.effectsOf(ctx, cur, nil)
		if err != nil || dryRun {
			return next, nil, false, err
		}
		res, err := s.cas(ctx, "delete", key, kv.ModRevision, clientv3.OpDelete(key), cmps, ops)
		if err != nil {
			return nil, nil, false, err
		}
		if res.ok {
			return next, nil, true, setRV(next, res.rev)
		}
		return nil, orMissing(res.cur), false, nil // someone else wrote first
	}
	cmps, ops, err := s.effectsOf(ctx, cur, next)
	if err != nil {
		return nil, nil, false, err
	}
	data, err := s.encode(next)
	if err != nil {
		return nil, nil, false, err
	}
	if bytes.Equal(data, kv.Value) {
		return cur, nil, false, nil // nothing changed: keep the resourceVersion, emit no event
	}
	if dryRun {
		return next, nil, false, setRV(next, kv.ModRevision)
	}
	res, err := s.cas(ctx, "update", key, kv.ModRevision, clientv3.OpPut(key, string(data)), cmps, ops)
	if err != nil {
		return nil, nil, false, err
	}
	if res.ok {
		return next, nil, true, setRV(next, res.rev)
	}
	return nil, orMissing(res.cur), false, nil
}

// missingKV stands for "the key is gone" where a retry needs a non-nil state to run on.
var missingKV = &mvccpb.KeyValue{}

func orMissing(kv *mvccpb.KeyValue) *mvccpb.KeyValue {
	if kv == nil {
		return missingKV
	}
	return kv
}

// Delete implements Interface.
func (s *store) Delete(ctx context.Context, key string, pre *Preconditions, dryRun bool) (runtime.Object, error) {
	if err := s.checkKey(key); err != nil {
		return nil, err
	}
	kv, err := s.getKV(ctx, "get", key)
	if err != nil {
		return nil, err
	}
	for {
		if kv == nil {
			return nil, apierrors.NewNotFound(s.resource, nameOf(key))
		}
		cur, err := s.decode(kv)
		if err != nil {
			return nil, err
		}
		if err := s.checkPreconditions(key, pre, cur); err != nil {
			return nil, err
		}
		if dryRun {
			return cur, nil
		}
		cmps, ops, err := s.effectsOf(ctx, cur, nil)
		if err != nil {
			return nil, err
		}
		res, err := s.cas(ctx, "delete", key, kv.ModRevision, clientv3.OpDelete(key), cmps, ops)
		if err != nil {
			return nil, err
		}
		if res.ok {
			return cur, setRV(cur, res.rev)
		}
		kv = res.cur
	}
}

// CurrentRevision implements Interface: the last revision the watch cache has seen.
func (s *store) CurrentRevision(ctx context.Context) (uint64, error) {
	return s.cache.revision(), nil
}

// etcdRevision is etcd's current revision, read with a linearizable request that
// touches a single key so it stays cheap however many objects exist.
func (s *store) etcdRevision(ctx context.Context) (uint64, error) {
	defer observe("revision", s.label, time.Now())
	resp, err := s.client.Get(ctx, s.prefix, clientv3.WithCountOnly())
	if err != nil {
		return 0, errFromEtcd(err)
	}
	return uint64(resp.Header.Revision), nil
}
