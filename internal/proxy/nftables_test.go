package proxy

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

func render(t *testing.T, svcs []*corev1.Service, slices []*discoveryv1.EndpointSlice) *nftState {
	t.Helper()
	return nftRenderer{ClusterCIDR: "10.42.0.0/16"}.render(buildServicePorts(svcs, slices, "node-a"))
}

func TestClusterIPBalancesOverReadyEndpointsOnly(t *testing.T) {
	s := render(t, []*corev1.Service{svc("default", "web", "10.43.0.20", tcpPort("http", 80, "http"))},
		[]*discoveryv1.EndpointSlice{slice("default", "web", "web-1", map[string]int32{"http": 8080},
			readyEP("10.42.1.2", "node-a"), readyEP("10.42.2.2", "node-b"),
			ep{ip: "10.42.1.3", node: "node-a"}, // not ready
			ep{ip: "10.42.1.4", serving: true, terminating: true},
		)})
	if got := s.elems[mapServiceIPs]["10.43.0.20 . tcp . 80"]; got != "goto svc-default/web/tcp/http" {
		t.Fatalf("service-ips element = %q", got)
	}
	rules := s.chains["svc-default/web/tcp/http"]
	want := []string{
		"ip saddr != 10.42.0.0/16 meta mark set meta mark | 0x4000",
		"meta l4proto tcp dnat ip to numgen random mod 2 map { 0 : 10.42.1.2 . 8080, 1 : 10.42.2.2 . 8080 }",
	}
	if !equalStrings(rules, want) {
		t.Fatalf("chain rules:\n%s\nwant:\n%s", strings.Join(rules, "\n"), strings.Join(want, "\n"))
	}
	if _, ok := s.elems[setHairpin]["10.42.1.2 . 10.42.1.2"]; !ok {
		t.Fatalf("hairpin pair missing: %v", s.elems[setHairpin])
	}
}

func TestTerminatingFallbackAndNoEndpoints(t *testing.T) {
	s := render(t, []*corev1.Service{
		svc("default", "drain", "10.43.0.21", tcpPort("http", 80, "8080")),
		svc("default", "empty", "10.43.0.22", tcpPort("http", 80, "8080")),
	}, []*discoveryv1.EndpointSlice{slice("default", "drain", "d-1", map[string]int32{"http": 8080},
		ep{ip: "10.42.1.4", serving: true, terminating: true},
		ep{ip: "10.42.1.5", serving: false, terminating: true})})
	if got := s.chains["svc-default/drain/tcp/http"]; len(got) != 2 || got[1] != "meta l4proto tcp dnat ip to 10.42.1.4:8080" {
		t.Fatalf("fallback chain = %q", got)
	}
	if _, ok := s.elems[setNoEndpoints]["10.43.0.22 . tcp . 80"]; !ok {
		t.Fatalf("empty service not in no-endpoints: %v", s.elems[setNoEndpoints])
	}
	if _, ok := s.elems[mapServiceIPs]["10.43.0.22 . tcp . 80"]; ok {
		t.Fatal("empty service still has a service-ips element")
	}
}

func TestHeadlessAndExternalNameGetNoRules(t *testing.T) {
	h := svc("default", "db", corev1.ClusterIPNone, tcpPort("pg", 5432, "5432"))
	x := svc("default", "ext", "", tcpPort("http", 80, "80"))
	x.Spec.Type, x.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
	s := render(t, []*corev1.Service{h, x}, []*discoveryv1.EndpointSlice{
		slice("default", "db", "db-1", map[string]int32{"pg": 5432}, readyEP("10.42.1.9", "node-a"))})
	if len(s.chains) != 0 || len(s.elems[mapServiceIPs]) != 0 {
		t.Fatalf("headless/ExternalName produced rules: %v %v", s.chains, s.elems[mapServiceIPs])
	}
}

func TestNamedPortsPickTheMatchingSlicePort(t *testing.T) {
	// Two service ports; the slice maps each name to a different container port.
	s := render(t, []*corev1.Service{svc("default", "multi", "10.43.0.23", tcpPort("http", 80, "web"), tcpPort("metrics", 9090, "prom"))},
		[]*discoveryv1.EndpointSlice{slice("default", "multi", "m-1", map[string]int32{"http": 8080, "metrics": 9100}, readyEP("10.42.1.2", "node-a"))})
	if got := s.chains["svc-default/multi/tcp/http"][1]; !strings.HasSuffix(got, "10.42.1.2:8080") {
		t.Fatalf("http → %q", got)
	}
	if got := s.chains["svc-default/multi/tcp/metrics"][1]; !strings.HasSuffix(got, "10.42.1.2:9100") {
		t.Fatalf("metrics → %q", got)
	}
}

func TestTrafficPolicies(t *testing.T) {
	np := svc("default", "np", "10.43.0.24", tcpPort("http", 80, "8080"))
	np.Spec.Type = corev1.ServiceTypeNodePort
	np.Spec.Ports[0].NodePort = 30080
	np.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	local := corev1.ServiceInternalTrafficPolicyLocal
	itp := svc("default", "itp", "10.43.0.25", tcpPort("http", 80, "8080"))
	itp.Spec.InternalTrafficPolicy = &local
	sl := func(name string) *discoveryv1.EndpointSlice {
		return slice("default", name, name+"-1", map[string]int32{"http": 8080}, readyEP("10.42.1.2", "node-a"), readyEP("10.42.2.2", "node-b"))
	}
	s := render(t, []*corev1.Service{np, itp}, []*discoveryv1.EndpointSlice{sl("np"), sl("itp")})

	if got := s.elems[mapNodePorts]["tcp . 30080"]; got != "goto ext-default/np/tcp/http" {
		t.Fatalf("nodeport element = %q", got)
	}
	// ClusterIP traffic of an ETP=Local service still uses every endpoint.
	if got := s.elems[mapServiceIPs]["10.43.0.24 . tcp . 80"]; got != "goto svc-default/np/tcp/http" {
		t.Fatalf("np clusterIP element = %q", got)
	}
	ext := s.chains["ext-default/np/tcp/http"]
	if len(ext) != 3 || ext[0] != "ip saddr 10.42.0.0/16 goto svc-default/np/tcp/http" || ext[2] != "goto local-default/np/tcp/http" {
		t.Fatalf("ext chain = %q", ext)
	}
	if got := s.chains["local-default/np/tcp/http"]; len(got) != 1 || got[0] != "meta l4proto tcp dnat ip to 10.42.1.2:8080" {
		t.Fatalf("local chain = %q", got)
	}
	if got := s.elems[mapServiceIPs]["10.43.0.25 . tcp . 80"]; got != "goto local-default/itp/tcp/http" {
		t.Fatalf("ITP=Local element = %q", got)
	}

	// No local endpoint: Local policy drops instead of leaving the node.
	s = render(t, []*corev1.Service{itp}, []*discoveryv1.EndpointSlice{
		slice("default", "itp", "itp-1", map[string]int32{"http": 8080}, readyEP("10.42.2.2", "node-b"))})
	if got := s.chains["local-default/itp/tcp/http"]; len(got) != 1 || got[0] != "drop" {
		t.Fatalf("local chain without local endpoints = %q", got)
	}
}

func TestSessionAffinityUsesPerEndpointSets(t *testing.T) {
	a := svc("default", "sticky", "10.43.0.26", tcpPort("http", 80, "8080"))
	a.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	s := render(t, []*corev1.Service{a}, []*discoveryv1.EndpointSlice{
		slice("default", "sticky", "s-1", map[string]int32{"http": 8080}, readyEP("10.42.1.2", "node-a"), readyEP("10.42.2.2", "node-b"))})
	set := "aff-default/sticky/tcp/http/10.42.1.2/8080"
	if s.sets[set] != defaultAffinityTimeout {
		t.Fatalf("affinity sets = %v", s.sets)
	}
	rules := s.chains["svc-default/sticky/tcp/http"]
	if len(rules) != 4 || rules[1] != "ip saddr @"+set+" goto sep-default/sticky/tcp/http/10.42.1.2/8080" ||
		!strings.HasPrefix(rules[3], "numgen random mod 2 vmap") {
		t.Fatalf("affinity chain = %q", rules)
	}
	if sep := s.chains["sep-default/sticky/tcp/http/10.42.1.2/8080"]; sep[0] != "update @"+set+" { ip saddr }" {
		t.Fatalf("endpoint chain = %q", sep)
	}
}

func TestDiffTouchesOnlyTheChangedService(t *testing.T) {
	svcs, slices := manyServices(100, 10)
	r := nftRenderer{ClusterCIDR: "10.42.0.0/16"}
	before := r.render(buildServicePorts(svcs, slices, "node-a"))
	if diffScript(before, before) != "" {
		t.Fatal("diff of equal states is not empty")
	}
	slices[42] = slice("bench", "svc-42", "svc-42-abc", map[string]int32{"http": 8080}, readyEP("10.42.99.1", "node-a"))
	after := r.render(buildServicePorts(svcs, slices, "node-a"))
	script := diffScript(before, after)
	lines := strings.Split(strings.TrimSpace(script), "\n")
	want := []string{
		"flush chain ip skiff svc-bench/svc-42/tcp/http",
		"add rule ip skiff svc-bench/svc-42/tcp/http ip saddr != 10.42.0.0/16 meta mark set meta mark | 0x4000",
		"add rule ip skiff svc-bench/svc-42/tcp/http meta l4proto tcp dnat ip to 10.42.99.1:8080",
	}
	if len(lines) < 3 || !equalStrings(lines[:3], want) {
		t.Fatalf("diff script:\n%s", script)
	}
	for _, l := range lines[3:] { // the rest may only be hairpin set updates
		if !strings.Contains(l, " "+setHairpin+" ") {
			t.Fatalf("unexpected command in incremental diff: %s", l)
		}
	}

	// Deleting a service removes its element before its chain.
	after2 := r.render(buildServicePorts(svcs[1:], slices[1:], "node-a"))
	script = diffScript(before, after2)
	del := strings.Index(script, "delete element ip skiff service-ips { 10.43.0.1 . tcp . 80 }")
	chain := strings.Index(script, "delete chain ip skiff svc-bench/svc-0/tcp/http")
	if del < 0 || chain < 0 || del > chain {
		t.Fatalf("delete order wrong:\n%s", script)
	}
}

func TestIPTablesRender(t *testing.T) {
	a := svc("default", "web", "10.43.0.20", tcpPort("http", 80, "8080"))
	a.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	out := iptRenderer{ClusterCIDR: "10.42.0.0/16"}.render(buildServicePorts([]*corev1.Service{a, svc("default", "empty", "10.43.0.22", tcpPort("http", 80, "8080"))},
		[]*discoveryv1.EndpointSlice{slice("default", "web", "w", map[string]int32{"http": 8080}, readyEP("10.42.1.2", "a"), readyEP("10.42.1.3", "a"))}, "a"))
	svcChain := iptChain("SKIFF-SVC-", "default/web/tcp/http")
	for _, want := range []string{
		"-A SKIFF-SERVICES -m comment --comment \"default/web/tcp/http\" -d 10.43.0.20/32 -p tcp --dport 80 -j " + svcChain,
		"-m statistic --mode random --probability 0.5000000000",
		"-j DNAT --to-destination 10.42.1.3:8080",
		"-m recent --name SKIFF-SEP-",
		"-A SKIFF-FILTER -m comment --comment \"default/empty/tcp/http\" -d 10.43.0.22/32 -p tcp --dport 80 -m conntrack --ctstate NEW -j REJECT",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("iptables script lacks %q:\n%s", want, out)
		}
	}
	if len(svcChain) > 28 {
		t.Fatalf("chain name too long: %s", svcChain)
	}
}
