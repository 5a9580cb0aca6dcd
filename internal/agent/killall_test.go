package agent

import (
	"slices"
	"testing"
)

func TestIsSkiffComponent(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"/usr/local/bin/skiff", "server", "--data-dir", "/d"}, true},
		{[]string{"skiff", "agent", "--data-dir=/d/", "--node-name", "x"}, true},
		{[]string{"skiff", "agent", "--data-dir", "/d2"}, false},
		{[]string{"skiff", "server"}, false},                         // default data dir is /var/lib/skiff
		{[]string{"skiff", "kubectl", "--data-dir", "/d"}, false},    // a client, not a component
		{[]string{"/bin/bash", "server", "--data-dir", "/d"}, false}, // not skiff
		{[]string{"skiff"}, false},
	} {
		if got := isSkiffComponent(proc{args: tc.args}, "/d", "/var/lib/skiff"); got != tc.want {
			t.Errorf("%v: got %v, want %v", tc.args, got, tc.want)
		}
	}
	if !isSkiffComponent(proc{args: []string{"skiff", "server"}}, "/var/lib/skiff", "/var/lib/skiff") {
		t.Error("a server without --data-dir runs on the default data dir")
	}
}

func TestMentions(t *testing.T) {
	dir := "/tmp/x/n2/agent"
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"containerd", "--config", dir + "/containerd.toml"}, true},
		{[]string{"containerd-shim-runc-v2", "-namespace", "k8s.io", "-address", dir + "/containerd.sock"}, true},
		{[]string{"containerd", "--config=" + dir + "/containerd.toml"}, true},
		{[]string{"containerd", "--config", "/tmp/x/n20/agent/containerd.toml"}, false}, // a sibling node
		{[]string{"containerd", "--config", "/tmp/x/n2/agentX/containerd.toml"}, false},
	} {
		if got := mentions(proc{args: tc.args}, dir); got != tc.want {
			t.Errorf("%v: got %v, want %v", tc.args, got, tc.want)
		}
	}
}

func TestWithDescendants(t *testing.T) {
	procs := []proc{{pid: 10, ppid: 1}, {pid: 11, ppid: 10}, {pid: 12, ppid: 11}, {pid: 20, ppid: 1}, {pid: 13, ppid: 10}}
	got := withDescendants(procs, []int{10})
	slices.Sort(got)
	if want := []int{10, 11, 12, 13}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/var/lib/with\040space/x`); got != "/var/lib/with space/x" {
		t.Errorf("got %q", got)
	}
}
