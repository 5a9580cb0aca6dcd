package agent

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// A taken kubelet port must end Run at once with an error naming the address,
// before containerd is started (the local node of `skiff server` used to hang).
func TestRunFailsFastWhenKubeletPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	errc := make(chan error, 1)
	go func() {
		errc <- Run(context.Background(), Config{DataDir: t.TempDir(), NodeName: "n", KubeletAddress: addr,
			RuntimeEndpoint: "unix:///nonexistent.sock"}, &rest.Config{Host: "https://127.0.0.1:1"})
	}()
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "cannot listen on "+addr) {
			t.Fatalf("want a listen error naming %s, got %v", addr, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s with the kubelet port taken")
	}
}
