package proxy

import (
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// nftTable is the applied state of table `ip skiff`, kept per service so a sync
// only re-renders services whose objects changed. Informer caches never mutate an
// object in place — an update is a new pointer — so pointer identity of the
// Service and its EndpointSlices tells "unchanged" for free.
type nftTable struct {
	r        nftRenderer
	nodeName string
	services map[string]*svcEntry           // ns/name → what was rendered for it
	elems    map[string]map[string]*elemRef // map or set → key → value + users
}

type svcEntry struct {
	svc    *corev1.Service
	slices []*discoveryv1.EndpointSlice
	frag   *nftState // the chains, sets and elements this service contributes
}

// elemRef counts the services that want an element: the hairpin pair of a pod
// backing two services must stay until both are gone.
type elemRef struct {
	value string
	refs  int
}

func newNFTTable(r nftRenderer, nodeName string) *nftTable {
	t := &nftTable{r: r, nodeName: nodeName, services: map[string]*svcEntry{}, elems: map[string]map[string]*elemRef{}}
	for _, m := range elementSets {
		t.elems[m] = map[string]*elemRef{}
	}
	return t
}

// elemChange remembers an element's value before this sync's first change to it.
type elemChange struct {
	existed bool
	value   string
}

// update moves the table to the given objects and returns the nft commands that
// do the same to the kernel ("" when nothing changed) and how many service ports
// the table now holds. It mutates t: on a failed apply, discard t.
func (t *nftTable) update(services []*corev1.Service, slices []*discoveryv1.EndpointSlice) (string, int) {
	grouped := groupSlices(slices)
	oldChains, newChains := newNFTState(), newNFTState()
	touched := map[string]map[string]elemChange{}
	for _, m := range elementSets {
		touched[m] = map[string]elemChange{}
	}
	seen := make(map[string]bool, len(services))
	for _, svc := range services {
		key := svc.Namespace + "/" + svc.Name
		seen[key] = true
		sl := grouped[key]
		e := t.services[key]
		if e != nil && e.svc == svc && samePointers(e.slices, sl) {
			continue
		}
		frag := newNFTState()
		for _, sp := range sortedPorts(servicePortsFor(svc, sl, t.nodeName)) {
			t.r.renderPort(frag, sp)
		}
		var old *nftState
		if e != nil {
			old = e.frag
		}
		t.swap(old, frag, oldChains, newChains, touched)
		t.services[key] = &svcEntry{svc: svc, slices: sl, frag: frag}
	}
	for key, e := range t.services {
		if !seen[key] {
			t.swap(e.frag, nil, oldChains, newChains, touched)
			delete(t.services, key)
		}
	}
	var b strings.Builder
	writeDiff(&b, oldChains, newChains, t.elementDeltas(touched))
	n := 0
	for _, e := range t.services {
		n += countPorts(e.svc)
	}
	return b.String(), n
}

// swap replaces one service's fragment: its chains and sets are collected for the
// chain-level diff, its elements are counted in and out of the shared maps.
func (t *nftTable) swap(old, cur *nftState, oldChains, newChains *nftState, touched map[string]map[string]elemChange) {
	if old != nil {
		for n, r := range old.chains {
			oldChains.chains[n] = r
		}
		for n, v := range old.sets {
			oldChains.sets[n] = v
		}
		for m, keys := range old.elems {
			for k := range keys {
				ref := t.elems[m][k]
				if ref == nil {
					continue
				}
				t.touch(touched, m, k)
				if ref.refs--; ref.refs <= 0 {
					delete(t.elems[m], k)
				}
			}
		}
	}
	if cur != nil {
		for n, r := range cur.chains {
			newChains.chains[n] = r
		}
		for n, v := range cur.sets {
			newChains.sets[n] = v
		}
		for m, keys := range cur.elems {
			for k, v := range keys {
				t.touch(touched, m, k)
				if ref := t.elems[m][k]; ref != nil {
					ref.refs++
					ref.value = v // a map key belongs to one service; last writer wins
				} else {
					t.elems[m][k] = &elemRef{value: v, refs: 1}
				}
			}
		}
	}
}

func (t *nftTable) touch(touched map[string]map[string]elemChange, m, k string) {
	if _, ok := touched[m][k]; ok {
		return
	}
	ref := t.elems[m][k]
	if ref == nil {
		touched[m][k] = elemChange{}
	} else {
		touched[m][k] = elemChange{existed: true, value: ref.value}
	}
}

// elementDeltas compares each touched element with its value before the sync.
func (t *nftTable) elementDeltas(touched map[string]map[string]elemChange) map[string][2][]string {
	out := map[string][2][]string{}
	for m, keys := range touched {
		var del, add []string
		for k, before := range keys {
			ref := t.elems[m][k]
			switch {
			case ref == nil && before.existed:
				del = append(del, k)
			case ref != nil && !before.existed:
				add = append(add, elemText(k, ref.value))
			case ref != nil && ref.value != before.value:
				del = append(del, k)
				add = append(add, elemText(k, ref.value))
			}
		}
		sort.Strings(del)
		sort.Strings(add)
		out[m] = [2][]string{del, add}
	}
	return out
}

func elemText(k, v string) string {
	if v == "" {
		return k
	}
	return k + " : " + v
}

func groupSlices(slices []*discoveryv1.EndpointSlice) map[string][]*discoveryv1.EndpointSlice {
	out := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range slices {
		svc := s.Labels[discoveryv1.LabelServiceName]
		if svc == "" || s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue // the ip table is IPv4 only
		}
		k := s.Namespace + "/" + svc
		out[k] = append(out[k], s)
	}
	// Listers return objects in map order: sort so unchanged means same sequence.
	for _, l := range out {
		if len(l) > 1 {
			sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
		}
	}
	return out
}

func samePointers(a, b []*discoveryv1.EndpointSlice) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sortedPorts(sps []*servicePort) []*servicePort {
	sort.Slice(sps, func(i, j int) bool { return sps[i].id() < sps[j].id() })
	return sps
}

func countPorts(svc *corev1.Service) int {
	if svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return 0
	}
	return len(svc.Spec.Ports)
}
