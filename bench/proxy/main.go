// Command proxybench measures Skiff's service proxy against the real kernel, in a
// throwaway network namespace (root + nft required):
//
//   - rule sync time for N Services × K endpoints: the first (full) sync, one
//     endpoint change (incremental), one service added;
//
//   - requests/s to a tiny Go HTTP backend through a ClusterIP versus straight to
//     the backend IP, with new connections and with keep-alive.
//
//     go run ./bench/proxy -services 1000 -endpoints 10
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/proxy"
)

func main() {
	services := flag.Int("services", 1000, "number of Services")
	endpoints := flag.Int("endpoints", 10, "endpoints per Service")
	changes := flag.Int("changes", 20, "single-endpoint changes to time")
	reqTime := flag.Duration("req-time", 3*time.Second, "duration of each requests/s run")
	conc := flag.Int("concurrency", 8, "concurrent HTTP clients")
	mode := flag.String("mode", "nftables", "nftables or iptables")
	flag.Parse()

	name := fmt.Sprintf("skiff-bench-%d", os.Getpid())
	must(sh("ip", "netns", "add", name))
	defer sh("ip", "netns", "del", name)
	cleanupOnFatal = func() { _ = sh("ip", "netns", "del", name) }
	// Interrupted (or stdout closed by `| head`): still remove the namespace.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	go func() {
		<-sig
		_ = sh("ip", "netns", "del", name)
		os.Exit(1)
	}()
	for _, c := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "d0", "type", "veth", "peer", "name", "d1"},
		{"link", "set", "d0", "up"}, {"link", "set", "d1", "up"},
		{"addr", "add", "10.42.0.1/24", "dev", "d0"},
		{"addr", "add", "10.42.0.5/32", "dev", "d0"},
		{"route", "add", "10.43.0.0/16", "dev", "d0"},
	} {
		must(sh(append([]string{"ip", "-n", name}, c...)...))
	}

	// Everything below runs on one OS thread inside the namespace: the nft and
	// iptables-restore children inherit it, and so do the sockets.
	runtime.LockOSThread()
	h, err := netns.GetFromName(name)
	must(err)
	must(netns.Set(h))

	ctx := context.Background()
	rules, err := proxy.NewRules(ctx, proxy.RulesConfig{NodeName: "bench-node", ClusterCIDR: "10.42.0.0/16", Mode: proxy.Mode(*mode)})
	must(err)
	svcs, slices := generate(*services, *endpoints)

	fmt.Printf("## Service proxy (%s), %d Services × %d endpoints, kernel %s\n\n", rules.Mode(), *services, *endpoints, kernel())
	st, err := rules.Sync(ctx, svcs, slices)
	must(err)
	fmt.Printf("| step | render+diff | kernel apply | total | script |\n|---|---|---|---|---|\n")
	row := func(what string, st proxy.SyncStats) {
		fmt.Printf("| %s | %s | %s | %s | %d B |\n", what, ms(st.Render), ms(st.Apply), ms(st.Render+st.Apply), st.ScriptBytes)
	}
	row("full sync (first)", st)

	var totals, renders, applies []time.Duration
	var last proxy.SyncStats
	for i := 0; i < *changes; i++ {
		k := (i * 37) % len(slices)
		s := slices[k].DeepCopy()
		f := false
		s.Endpoints[i%len(s.Endpoints)].Conditions.Ready = &f // one endpoint turns unready
		slices[k] = s
		last, err = rules.Sync(ctx, svcs, slices)
		must(err)
		totals = append(totals, last.Render+last.Apply)
		renders = append(renders, last.Render)
		applies = append(applies, last.Apply)
	}
	for _, d := range [][]time.Duration{totals, renders, applies} {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	}
	mid := len(totals) / 2
	fmt.Printf("| one endpoint change, median of %d | %s | %s | %s | %d B |\n", len(totals), ms(renders[mid]), ms(applies[mid]), ms(totals[mid]), last.ScriptBytes)
	fmt.Printf("| one endpoint change, worst | %s | %s | %s | |\n", ms(renders[len(renders)-1]), ms(applies[len(applies)-1]), ms(totals[len(totals)-1]))

	extraSvc, extraSlices := generate(*services+1, *endpoints)
	ns := append(svcs[:len(svcs):len(svcs)], extraSvc[len(svcs)])
	nsl := append(slices[:len(slices):len(slices)], extraSlices[len(slices)])
	st, err = rules.Sync(ctx, ns, nsl)
	must(err)
	row("one service added", st)
	rules.ForceFullSync()
	st, err = rules.Sync(ctx, ns, nsl)
	must(err)
	row("full resync (table exists)", st)
	fmt.Println()

	// Requests/s: one backend at 10.42.0.5:8080 behind a ClusterIP with that
	// single endpoint (so the comparison isolates the DNAT path).
	ln, err := net.Listen("tcp", "10.42.0.5:8080")
	must(err)
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") }))
	bench := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: "rps"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.43.250.250", Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}}
	ns = append(ns, bench)
	nsl = append(nsl, slice("rps", []string{"10.42.0.5"}, 8080))
	_, err = rules.Sync(ctx, ns, nsl)
	must(err)
	fmt.Printf("| requests/s (%d clients, %s each) | new connection per request | keep-alive |\n|---|---|---|\n", *conc, *reqTime)
	for _, target := range []struct{ what, url string }{
		{"straight to backend 10.42.0.5:8080", "http://10.42.0.5:8080/"},
		{"through ClusterIP 10.43.250.250:80", "http://10.43.250.250:80/"},
	} {
		fmt.Printf("| %s | %.0f | %.0f |\n", target.what, rps(target.url, *conc, *reqTime, false), rps(target.url, *conc, *reqTime, true))
	}
	must(proxy.Cleanup(ctx, nil))
}

// rps drives url with conc clients; each client dials inside the namespace
// because its goroutine is started from... not this thread, so the transport
// dials through a locked, namespaced helper instead.
func rps(url string, conc int, d time.Duration, keepAlive bool) float64 {
	nsh, err := netns.Get()
	must(err)
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		type res struct {
			c   net.Conn
			err error
		}
		ch := make(chan res, 1)
		go func() {
			runtime.LockOSThread() // not unlocked: the thread dies with the goroutine
			if err := netns.Set(nsh); err != nil {
				ch <- res{nil, err}
				return
			}
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			ch <- res{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{DialContext: dial, DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 1}
			c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			for time.Now().Before(stop) {
				resp, err := c.Get(url)
				if err != nil {
					log.Fatalf("GET %s: %v", url, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				n.Add(1)
			}
			tr.CloseIdleConnections()
		}()
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}

func generate(n, k int) ([]*corev1.Service, []*discoveryv1.EndpointSlice) {
	var svcs []*corev1.Service
	var slices []*discoveryv1.EndpointSlice
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("svc-%d", i)
		svcs = append(svcs, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: name},
			Spec: corev1.ServiceSpec{ClusterIP: fmt.Sprintf("10.43.%d.%d", i/250, i%250+1),
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}})
		var ips []string
		for j := 0; j < k; j++ {
			ips = append(ips, fmt.Sprintf("10.42.%d.%d", 1+i%250, 1+j+(i/250)*k%200))
		}
		slices = append(slices, slice(name, ips, 8080))
	}
	return svcs, slices
}

func slice(svc string, ips []string, port int32) *discoveryv1.EndpointSlice {
	pn, proto, t := "http", corev1.ProtocolTCP, true
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: svc + "-x",
		Labels: map[string]string{discoveryv1.LabelServiceName: svc}}, AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Name: &pn, Port: &port, Protocol: &proto}}}
	for _, ip := range ips {
		node := "bench-node"
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: &node,
			Conditions: discoveryv1.EndpointConditions{Ready: &t}})
	}
	return s
}

func sh(argv ...string) error {
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %v: %s", argv, err, out)
	}
	return nil
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return string(b[:len(b)-1])
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// cleanupOnFatal is set once the namespace exists, so fatal errors remove it too.
var cleanupOnFatal func()

func must(err error) {
	if err != nil {
		if cleanupOnFatal != nil {
			cleanupOnFatal()
		}
		log.Fatal(err)
	}
}
