package testbed

import (
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestBedNodesReachEachOtherAndTheHost(t *testing.T) {
	bed := New(t, 3)
	var ln net.Listener
	bed.InNode(t, "n2", func() {
		var err error
		if ln, err = net.Listen("tcp", ":7000"); err != nil {
			t.Fatal(err)
		}
	})
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("hello from n2"))
			c.Close()
		}
	}()
	target := bed.Node("n2").IP + ":7000"
	dial := func() (string, error) {
		c, err := net.DialTimeout("tcp", target, time.Second)
		if err != nil {
			return "", err
		}
		defer c.Close()
		b, err := io.ReadAll(c)
		return string(b), err
	}
	var got string
	var err error
	bed.InNode(t, "n0", func() { got, err = dial() })
	if err != nil || got != "hello from n2" {
		t.Fatalf("n0 → n2: %q %v", got, err)
	}
	if got, err = dial(); err != nil || got != "hello from n2" { // from the host
		t.Fatalf("host → n2: %q %v", got, err)
	}
	bed.LinkDown(t, "n2")
	bed.InNode(t, "n0", func() { _, err = dial() })
	if err == nil {
		t.Fatal("n0 reached n2 with its link down")
	}
	bed.LinkUp(t, "n2")
	p := bed.Start(t, "n1", "sleep", "60")
	if err := Stop(p); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Fatalf("stopping a node process: %v", err)
	}
	ns := bed.Node("n1").Netns
	bed.teardown()
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), ns) {
		t.Fatalf("namespace %s left after teardown", ns)
	}
}
