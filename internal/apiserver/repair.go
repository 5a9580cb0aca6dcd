package apiserver

import (
	"context"
	"log"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/registry"
	"github.com/skiff-sh/skiff/internal/storage"
)

var servicesGR = schema.GroupResource{Resource: "services"}

// repairLoop reconciles Service IP and NodePort claims with the Services every
// interval, as upstream's repair controllers do. Writes keep the two in step (they
// share a transaction); the loop catches what an older version, a restore from
// backup or a manual etcd edit left behind.
func (s *Server) repairLoop(ctx context.Context, a *registry.ServiceAllocator, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rep, err := s.repairServices(ctx, a)
		if err != nil {
			if ctx.Err() == nil {
				log.Printf("apiserver: service allocation repair: %v", err)
			}
			continue
		}
		for _, k := range rep.Conflicts {
			log.Printf("apiserver: service allocation repair: %s is claimed by another Service", k)
		}
	}
}

// repairReport is what one repair pass did.
type repairReport struct {
	// Released are claims no Service holds any more; Reserved are values Services
	// hold that had no claim; Conflicts are values held by two Services.
	Released, Reserved, Conflicts []string
}

// repairServices runs one repair pass. It reads the Services and the claims at one
// etcd revision, so a Service written meanwhile is never mistaken for a leak; every
// change it makes is conditional on what it read.
func (s *Server) repairServices(ctx context.Context, a *registry.ServiceAllocator) (repairReport, error) {
	var rep repairReport
	list, err := s.stores[servicesGR].List(ctx, s.cfg.Prefix+"/services/", storage.ListOptions{})
	if err != nil {
		return rep, err
	}
	rev := int64(list.ResourceVersion)
	type holder struct {
		claim storage.Claim
		svc   *corev1.Service
	}
	want := map[string]holder{}
	for _, o := range list.Items {
		svc := o.(*corev1.Service)
		for _, c := range a.Claims(svc) {
			if h, dup := want[c.Key]; dup && h.claim.Owner != c.Owner {
				rep.Conflicts = append(rep.Conflicts, c.Key)
				continue
			}
			want[c.Key] = holder{claim: c, svc: svc}
		}
	}
	have := map[string]bool{}
	for _, prefix := range []string{a.IPPrefix, a.PortPrefix} {
		claims, err := storage.ListClaims(ctx, s.cfg.Etcd, prefix, rev)
		if err != nil {
			return rep, err
		}
		for _, c := range claims {
			if h, ok := want[c.Key]; ok && h.claim.Owner == c.Owner {
				have[c.Key] = true
				continue
			}
			released, err := storage.ReleaseClaim(ctx, s.cfg.Etcd, c)
			if err != nil {
				return rep, err
			}
			if released {
				rep.Released = append(rep.Released, c.Key)
			}
		}
	}
	for key, h := range want {
		if have[key] {
			continue
		}
		svcKey := s.cfg.Prefix + "/services/" + h.svc.Namespace + "/" + h.svc.Name
		svcRev, _ := strconv.ParseInt(h.svc.ResourceVersion, 10, 64)
		ok, err := storage.ReserveClaim(ctx, s.cfg.Etcd, h.claim, svcKey, svcRev)
		if err != nil {
			return rep, err
		}
		if ok {
			rep.Reserved = append(rep.Reserved, key)
		} else {
			rep.Conflicts = append(rep.Conflicts, key)
		}
	}
	return rep, nil
}
