// Command cluster brings up a multi-node Skiff on the network-namespace test bed
// (test/e2e/testbed) for the conformance run, and tears it down on SIGTERM or
// SIGINT: workloads deleted while the nodes run, then processes, containerd
// shims, namespaces, the bridge and the data.
//
//	go run ./test/conformance/cluster -bin bin/skiff -images DIR -kubeconfig OUT [-nodes 3]
//
// It writes the admin kubeconfig (server at n0's address) to OUT, then the
// marker OUT.ready once every node is Ready, and stays up until signalled.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/skiff-sh/skiff/test/e2e/testbed"
)

func main() {
	bin := flag.String("bin", "bin/skiff", "skiff binary")
	images := flag.String("images", "", "directory of image tarballs imported by every node")
	kubeconfig := flag.String("kubeconfig", "", "where to write the admin kubeconfig")
	nodes := flag.Int("nodes", 3, "nodes: one server and nodes-1 agents")
	logs := flag.String("logs", "", "copy the nodes' data dirs (logs) here at teardown")
	flag.Parse()
	if *kubeconfig == "" || *images == "" || *nodes < 2 {
		fmt.Fprintln(os.Stderr, "cluster: -kubeconfig and -images are required, -nodes at least 2")
		os.Exit(2)
	}
	if *logs != "" {
		os.Setenv("SKIFF_E2E_LOGS", *logs)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	p := &proc{}
	code := p.run(func() {
		c := testbed.StartCluster(p, testbed.ClusterConfig{Nodes: *nodes, Bin: *bin, Images: *images})
		b, err := os.ReadFile(c.Kubeconfig)
		if err != nil {
			p.Fatalf("%v", err)
		}
		if err := os.WriteFile(*kubeconfig, b, 0o600); err != nil {
			p.Fatalf("%v", err)
		}
		if err := os.WriteFile(*kubeconfig+".ready", []byte(c.String()+"\n"), 0o644); err != nil {
			p.Fatalf("%v", err)
		}
		fmt.Println("cluster ready:", c)
		<-sigs
		fmt.Println("cluster: tearing down")
		if *logs != "" {
			p.failed = true // keep the logs: the cleanup copies them only for failed runs
		}
	})
	os.Exit(code)
}

// proc is testbed.T for a whole process: Fatalf and Skip end the run (after the
// cleanups), which run in reverse order like a test's.
type proc struct {
	cleanups []func()
	failed   bool
}

type stop struct{ code int }

func (p *proc) run(fn func()) (code int) {
	defer func() {
		if r := recover(); r != nil {
			s, ok := r.(stop)
			if !ok {
				p.failed = true
				fmt.Fprintln(os.Stderr, "cluster: panic:", r)
				s.code = 1
			}
			code = s.code
		}
		for i := len(p.cleanups) - 1; i >= 0; i-- {
			p.cleanups[i]()
		}
	}()
	fn()
	return 0
}

func (p *proc) Helper()                 {}
func (p *proc) Cleanup(f func())        { p.cleanups = append(p.cleanups, f) }
func (p *proc) Failed() bool            { return p.failed }
func (p *proc) Logf(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
func (p *proc) Errorf(f string, a ...any) {
	p.failed = true
	p.Logf(f, a...)
}
func (p *proc) Fatalf(f string, a ...any) {
	p.Errorf(f, a...)
	panic(stop{1})
}
func (p *proc) Skip(a ...any) {
	fmt.Fprintln(os.Stderr, a...)
	panic(stop{3})
}
func (p *proc) Skipf(f string, a ...any) { p.Skip(fmt.Sprintf(f, a...)) }
