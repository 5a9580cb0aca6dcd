package storage

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

const (
	continueVersion = "skiff/v1"
	// maxBatch caps one etcd range read: unlimited lists and selector-filtered pages
	// read in batches of at most this many keys.
	maxBatch = 10000
)

// continueToken is the opaque state of a paged list: the revision every page is read
// at (so all pages show one snapshot) and the first key of the next page, relative to
// the list prefix so a token cannot reach outside it.
type continueToken struct {
	Version string `json:"v"`
	RV      int64  `json:"rv"`
	Start   string `json:"start"`
}

func encodeContinue(rev int64, prefix, nextKey string) string {
	b, _ := json.Marshal(continueToken{Version: continueVersion, RV: rev, Start: strings.TrimPrefix(nextKey, prefix)})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(token string) (continueToken, error) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Version != continueVersion || t.RV <= 0 {
		return t, apierrors.NewBadRequest("continue key is not valid")
	}
	return t, nil
}

// List implements Interface.
func (s *store) List(ctx context.Context, prefix string, opts ListOptions) (*ListResult, error) {
	if !strings.HasPrefix(prefix, s.prefix) {
		return nil, apierrors.NewInternalError(fmt.Errorf("list prefix %q is not under %q", prefix, s.prefix))
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/" // "…/pods/default" must not also list namespace "default2"
	}
	if opts.Continue != "" {
		if opts.ResourceVersion != "" {
			return nil, apierrors.NewBadRequest("specifying resource version is not allowed when using continue")
		}
		t, err := decodeContinue(opts.Continue)
		if err != nil {
			return nil, err
		}
		return s.listEtcd(ctx, prefix, prefix+t.Start, t.RV, true, opts)
	}
	if opts.ResourceVersion == "" {
		if opts.ResourceVersionMatch != "" {
			return nil, apierrors.NewBadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
		}
		return s.listEtcd(ctx, prefix, prefix, 0, false, opts)
	}
	n, err := parseRV(opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	switch metav1.ResourceVersionMatch(opts.ResourceVersionMatch) {
	case metav1.ResourceVersionMatchExact:
		if n == 0 {
			return nil, apierrors.NewBadRequest(`resourceVersionMatch "Exact" is forbidden for resourceVersion "0"`)
		}
		return s.listEtcd(ctx, prefix, prefix, int64(n), false, opts)
	case metav1.ResourceVersionMatchNotOlderThan:
		return s.listCache(ctx, prefix, n, opts)
	case "":
		// Documented legacy rule: a paged list at a non-zero resourceVersion without
		// resourceVersionMatch is served at exactly that revision.
		if n != 0 && opts.Limit > 0 {
			return s.listEtcd(ctx, prefix, prefix, int64(n), false, opts)
		}
		return s.listCache(ctx, prefix, n, opts)
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("unknown resourceVersionMatch %q", opts.ResourceVersionMatch))
	}
}

// listCache serves a list from the watch cache once it has reached minRev. It ignores
// the limit (like upstream for resourceVersion=0): the result is one complete page.
func (s *store) listCache(ctx context.Context, prefix string, minRev uint64, opts ListOptions) (*ListResult, error) {
	if err := s.cache.waitFor(ctx, minRev); err != nil {
		return nil, err
	}
	objs, rev := s.cache.snapshot(prefix)
	res := &ListResult{ResourceVersion: rev, Items: make([]runtime.Object, 0, len(objs))}
	for _, obj := range objs {
		ok, err := opts.Predicate.Matches(obj)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		if ok {
			res.Items = append(res.Items, obj.DeepCopyObject())
		}
	}
	return res, nil
}

// listEtcd reads one page from etcd starting at key start. rev 0 reads the latest
// revision (a consistent read) and pins the following reads to the revision seen;
// otherwise every read is at rev. fromContinue says rev came from a continue token, which
// changes the message when it has been compacted.
func (s *store) listEtcd(ctx context.Context, prefix, start string, rev int64, fromContinue bool, opts ListOptions) (*ListResult, error) {
	defer observe("list", s.label, time.Now())
	end := clientv3.GetPrefixRangeEnd(prefix)
	filtered := !predicateEmpty(opts.Predicate)
	res := &ListResult{Items: []runtime.Object{}}
	batch := int64(maxBatch)
	if opts.Limit > 0 {
		batch = min(opts.Limit, maxBatch)
	}
	key := start
	for {
		readOpts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(batch)}
		if rev > 0 {
			readOpts = append(readOpts, clientv3.WithRev(rev))
		}
		resp, err := s.client.Get(ctx, key, readOpts...)
		switch {
		case err == nil:
		case isCompacted(err) && fromContinue:
			return nil, errContinueExpired()
		case isCompacted(err):
			return nil, errTooOld(uint64(rev))
		case isFutureRev(err):
			return nil, errTooLarge(uint64(rev), s.cache.revision())
		default:
			return nil, errFromEtcd(err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		res.ResourceVersion = uint64(rev)
		for i, kv := range resp.Kvs {
			obj, err := s.decode(kv)
			if err != nil {
				return nil, err
			}
			ok, err := opts.Predicate.Matches(obj)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			if !ok {
				continue
			}
			res.Items = append(res.Items, obj)
			if opts.Limit > 0 && int64(len(res.Items)) == opts.Limit {
				more := i < len(resp.Kvs)-1 || resp.More
				if more {
					res.Continue = encodeContinue(rev, prefix, string(kv.Key)+"\x00")
					if !filtered {
						left := resp.Count - int64(i+1)
						res.RemainingItemCount = &left
					}
				}
				return res, nil
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return res, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		if filtered {
			batch = min(batch*2, maxBatch) // sparse matches: read more per round trip
		}
	}
}

func predicateEmpty(p Predicate) bool {
	return (p.Label == nil || p.Label.Empty()) && (p.Field == nil || p.Field.Empty())
}
