package proxy

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// flatten rebuilds a whole-table nftState from the per-service table.
func flatten(t *nftTable) *nftState {
	s := newNFTState()
	for _, e := range t.services {
		for n, r := range e.frag.chains {
			s.chains[n] = r
		}
		for n, v := range e.frag.sets {
			s.sets[n] = v
		}
	}
	for m, keys := range t.elems {
		for k, ref := range keys {
			s.elems[m][k] = ref.value
		}
	}
	return s
}

func TestIncrementalTableTouchesOnlyChangedServices(t *testing.T) {
	r := nftRenderer{ClusterCIDR: "10.42.0.0/16"}
	svcs, slices := manyServices(200, 10)
	tbl := newNFTTable(r, "node-a")
	full, n := tbl.update(svcs, slices)
	if n != 200 || !strings.Contains(full, "add chain ip skiff svc-bench/svc-199/tcp/http") {
		t.Fatalf("first update: %d ports, script starts %q", n, full[:200])
	}
	if again, _ := tbl.update(svcs, slices); again != "" {
		t.Fatalf("no change produced a script:\n%s", again)
	}

	slices[42] = slice("bench", "svc-42", "svc-42-abc", map[string]int32{"http": 8080}, readyEP("10.42.250.1", "node-a"))
	script, _ := tbl.update(svcs, slices)
	for _, l := range strings.Split(strings.TrimSpace(script), "\n") {
		if !strings.Contains(l, "svc-bench/svc-42/") && !strings.Contains(l, " "+setHairpin+" ") {
			t.Fatalf("incremental script touches another service: %s\n%s", l, script)
		}
	}
	if !strings.Contains(script, "add element ip skiff hairpin { 10.42.250.1 . 10.42.250.1 }") {
		t.Fatalf("new endpoint's hairpin pair not added:\n%s", script)
	}

	// Delete a service: the per-service table must equal a from-scratch render.
	svcs, slices = svcs[1:], slices[1:]
	script, _ = tbl.update(svcs, slices)
	if !strings.Contains(script, "delete chain ip skiff svc-bench/svc-0/tcp/http") {
		t.Fatalf("deleted service's chain kept:\n%s", script)
	}
	want := r.render(buildServicePorts(svcs, slices, "node-a"))
	if got := flatten(tbl); !reflect.DeepEqual(got, want) {
		t.Fatalf("incremental state differs from a full render: %d/%d chains, %d/%d service-ips",
			len(got.chains), len(want.chains), len(got.elems[mapServiceIPs]), len(want.elems[mapServiceIPs]))
	}
}

func TestSharedHairpinPairOutlivesOneService(t *testing.T) {
	tbl := newNFTTable(nftRenderer{ClusterCIDR: "10.42.0.0/16"}, "n")
	a, b := svc("default", "a", "10.43.0.1", tcpPort("http", 80, "80")), svc("default", "b", "10.43.0.2", tcpPort("http", 80, "80"))
	sa := slice("default", "a", "a-1", map[string]int32{"http": 80}, readyEP("10.42.0.9", "n"))
	sb := slice("default", "b", "b-1", map[string]int32{"http": 80}, readyEP("10.42.0.9", "n"))
	tbl.update([]*corev1.Service{a, b}, []*discoveryv1.EndpointSlice{sa, sb})
	script, _ := tbl.update([]*corev1.Service{b}, []*discoveryv1.EndpointSlice{sb})
	if strings.Contains(script, "hairpin") {
		t.Fatalf("pair still used by b was touched:\n%s", script)
	}
	script, _ = tbl.update(nil, nil)
	if !strings.Contains(script, "delete element ip skiff hairpin { 10.42.0.9 . 10.42.0.9 }") {
		t.Fatalf("pair not removed with its last user:\n%s", script)
	}
}
