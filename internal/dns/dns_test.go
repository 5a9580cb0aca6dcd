package dns

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"golang.org/x/net/dns/dnsmessage"
)

func objects() []any {
	str := func(s string) *string { return &s }
	b := func(v bool) *bool { return &v }
	p := func(v int32) *int32 { return &v }
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	web := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.20", Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: tcp}}}}
	db := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "db"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "pg", Port: 5432, Protocol: tcp}, {Name: "dns", Port: 53, Protocol: udp}}}}
	ext := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ext"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.org"}}
	dbSlice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "prod", Name: "db-1", Labels: map[string]string{discoveryv1.LabelServiceName: "db"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: str("pg"), Protocol: &tcp, Port: p(15432)}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.42.1.5"}, Hostname: str("db-0"), Conditions: discoveryv1.EndpointConditions{Ready: b(true)}},
			{Addresses: []string{"10.42.2.6"}, Conditions: discoveryv1.EndpointConditions{Ready: b(true)}},
			{Addresses: []string{"10.42.2.7"}, Hostname: str("db-2"), Conditions: discoveryv1.EndpointConditions{Ready: b(false)}},
		},
	}
	return []any{web, db, ext, dbSlice}
}

// startServer serves the objects through a fake clientset's informers, the way
// Run does, with upstream as the forwarder.
func startServer(t *testing.T, upstream string) string {
	t.Helper()
	objs := objects()
	client := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Service:
			_, err = client.CoreV1().Services(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *discoveryv1.EndpointSlice:
			_, err = client.DiscoveryV1().EndpointSlices(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	f := informers.NewSharedInformerFactory(client, 0)
	src := ListerSource{Services: f.Core().V1().Services().Lister(), EndpointSlices: f.Discovery().V1().EndpointSlices().Lister()}
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), f.Core().V1().Services().Informer().HasSynced, f.Discovery().V1().EndpointSlices().Informer().HasSynced) {
		t.Fatal("informers did not sync")
	}
	ups := []string{}
	if upstream != "" {
		ups = []string{upstream}
	}
	srv, err := Listen(Config{Addr: "127.0.0.1:0", Upstreams: ups, Source: src, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ctx)
	return srv.Addr()
}

type result struct {
	rcode   dnsmessage.RCode
	answers []string // "A 1.2.3.4", "SRV 10 target. 5432", "CNAME x."
	extra   []string
	soa     bool
}

func query(t *testing.T, addr, name string, qt dnsmessage.Type, overTCP bool) result {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 4242, RecursionDesired: true})
	_ = b.StartQuestions()
	_ = b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: qt, Class: dnsmessage.ClassINET})
	msg, _ := b.Finish()
	network := "udp"
	if overTCP {
		network = "tcp"
	}
	c, err := net.DialTimeout(network, addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var resp []byte
	if overTCP {
		_, _ = c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...))
		var l uint16
		if err := binary.Read(c, binary.BigEndian, &l); err != nil {
			t.Fatal(err)
		}
		resp = make([]byte, l)
		if _, err := io.ReadFull(c, resp); err != nil {
			t.Fatal(err)
		}
	} else {
		_, _ = c.Write(msg)
		buf := make([]byte, 4096)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("query %s: %v", name, err)
		}
		resp = buf[:n]
	}
	var m dnsmessage.Message
	if err := m.Unpack(resp); err != nil {
		t.Fatal(err)
	}
	if m.ID != 4242 {
		t.Fatalf("reply ID %d", m.ID)
	}
	r := result{rcode: m.RCode}
	str := func(rr dnsmessage.Resource) string {
		switch b := rr.Body.(type) {
		case *dnsmessage.AResource:
			return "A " + net.IP(b.A[:]).String()
		case *dnsmessage.SRVResource:
			return "SRV " + b.Target.String() + " " + strconv.Itoa(int(b.Port))
		case *dnsmessage.CNAMEResource:
			return "CNAME " + b.CNAME.String()
		}
		return rr.Header.Type.String()
	}
	for _, a := range m.Answers {
		r.answers = append(r.answers, str(a))
	}
	for _, a := range m.Additionals {
		r.extra = append(r.extra, str(a))
	}
	for _, a := range m.Authorities {
		r.soa = r.soa || a.Header.Type == dnsmessage.TypeSOA
	}
	sort.Strings(r.answers)
	sort.Strings(r.extra)
	return r
}

func TestClusterRecords(t *testing.T) {
	addr := startServer(t, "")
	for _, tc := range []struct {
		name   string
		qt     dnsmessage.Type
		rcode  dnsmessage.RCode
		answer string // joined by "|"
	}{
		{"web.default.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "A 10.43.0.20"},
		{"WEB.Default.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "A 10.43.0.20"},
		{"web.default.svc.cluster.local.", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, ""},
		{"db.prod.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "A 10.42.1.5|A 10.42.2.6"},
		{"db-0.db.prod.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "A 10.42.1.5"},
		{"10-42-2-6.db.prod.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "A 10.42.2.6"},
		{"db-2.db.prod.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeNameError, ""}, // not ready
		{"_http._tcp.web.default.svc.cluster.local.", dnsmessage.TypeSRV, dnsmessage.RCodeSuccess, "SRV web.default.svc.cluster.local. 80"},
		{"_pg._tcp.db.prod.svc.cluster.local.", dnsmessage.TypeSRV, dnsmessage.RCodeSuccess,
			"SRV 10-42-2-6.db.prod.svc.cluster.local. 15432|SRV db-0.db.prod.svc.cluster.local. 15432"},
		{"_pg._udp.db.prod.svc.cluster.local.", dnsmessage.TypeSRV, dnsmessage.RCodeNameError, ""},
		{"ext.default.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "CNAME example.org."},
		{"10-42-0-9.default.pod.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "A 10.42.0.9"},
		{"nope.default.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeNameError, ""},
		{"web.default.svc.cluster.local.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeNameError, ""},
		{"default.svc.cluster.local.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, ""},
	} {
		for _, overTCP := range []bool{false, true} {
			r := query(t, addr, tc.name, tc.qt, overTCP)
			if r.rcode != tc.rcode || strings.Join(r.answers, "|") != tc.answer {
				t.Errorf("%s %s (tcp=%v): rcode %v answers %q; want %v %q", tc.name, tc.qt, overTCP, r.rcode, r.answers, tc.rcode, tc.answer)
			}
			if tc.answer == "" && !r.soa {
				t.Errorf("%s %s: negative answer without SOA", tc.name, tc.qt)
			}
		}
	}
	r := query(t, addr, "_pg._tcp.db.prod.svc.cluster.local.", dnsmessage.TypeSRV, false)
	if strings.Join(r.extra, "|") != "A 10.42.1.5|A 10.42.2.6" {
		t.Errorf("SRV additionals = %q", r.extra)
	}
}

func TestForwardsOtherNames(t *testing.T) {
	// The upstream is a second server whose zone is "example": it answers
	// svc-style names under it, standing in for the node's resolver.
	up, err := Listen(Config{Addr: "127.0.0.1:0", Zone: "example", Upstreams: []string{}, Source: staticSource{}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go up.Serve(ctx)
	addr := startServer(t, up.Addr())
	for _, overTCP := range []bool{false, true} {
		r := query(t, addr, "10-1-2-3.x.pod.example.", dnsmessage.TypeA, overTCP)
		if r.rcode != dnsmessage.RCodeSuccess || strings.Join(r.answers, "|") != "A 10.1.2.3" {
			t.Fatalf("forwarded (tcp=%v): %v %q", overTCP, r.rcode, r.answers)
		}
	}
	// No upstream at all: SERVFAIL, not silence.
	lonely := startServer(t, "")
	if r := query(t, lonely, "example.com.", dnsmessage.TypeA, false); r.rcode != dnsmessage.RCodeServerFailure {
		t.Fatalf("no upstream: rcode %v", r.rcode)
	}
}

type staticSource struct{}

func (staticSource) Service(string, string) (*corev1.Service, bool)     { return nil, false }
func (staticSource) Slices(string, string) []*discoveryv1.EndpointSlice { return nil }

func TestResolvConf(t *testing.T) {
	got := string(ResolvConf("shop", "10.43.0.10"))
	want := "nameserver 10.43.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
	if got != want {
		t.Fatalf("got %q", got)
	}
}

func TestPublish(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "uid-1"}})
	for i := 0; i < 2; i++ { // idempotent
		if err := Publish(ctx, client, "n1", "192.168.1.10", 53, "10.43.0.10"); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := client.CoreV1().Services(ServiceNamespace).Get(ctx, ServiceName, metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP != "10.43.0.10" || *svc.Spec.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyLocal || svc.Spec.Selector != nil {
		t.Fatalf("service: %v %+v", err, svc)
	}
	sl, err := client.DiscoveryV1().EndpointSlices(ServiceNamespace).Get(ctx, "kube-dns-n1", metav1.GetOptions{})
	if err != nil || sl.Labels[discoveryv1.LabelServiceName] != ServiceName || sl.Endpoints[0].Addresses[0] != "192.168.1.10" ||
		*sl.Endpoints[0].NodeName != "n1" || len(sl.OwnerReferences) != 1 || sl.OwnerReferences[0].UID != "uid-1" {
		t.Fatalf("slice: %v %+v", err, sl)
	}
}
