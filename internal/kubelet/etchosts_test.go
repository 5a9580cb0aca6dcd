package kubelet

import (
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodHostnameTruncatedLikeUpstream(t *testing.T) {
	k := &Kubelet{}
	long := strings.Repeat("a", 62) + "-bcd"
	for _, tc := range []struct{ name, hostname, subdomain, want, wantDomain string }{
		{name: "web-0", want: "web-0"},
		{name: long, want: strings.Repeat("a", 62)}, // cut at 63 leaves a trailing '-'
		{name: strings.Repeat("b", 70), want: strings.Repeat("b", 63)},
		{name: "p", hostname: "h", subdomain: "s", want: "h", wantDomain: "s.ns.svc.cluster.local"},
	} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: "ns"},
			Spec: corev1.PodSpec{Hostname: tc.hostname, Subdomain: tc.subdomain}}
		if h, d := k.podHostname(p); h != tc.want || d != tc.wantDomain {
			t.Errorf("%s: got %q %q, want %q %q", tc.name, h, d, tc.want, tc.wantDomain)
		}
	}
}

func TestEtcHostsManagedWithAliases(t *testing.T) {
	k := &Kubelet{cfg: Config{RootDir: t.TempDir()}}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"},
		Spec:   corev1.PodSpec{HostAliases: []corev1.HostAlias{{IP: "1.2.3.4", Hostnames: []string{"foo", "bar"}}}},
		Status: corev1.PodStatus{PodIP: "10.42.0.5"}}
	w := &worker{k: k, pod: p}
	m, err := w.etcHostsMount(&corev1.Container{Name: "c"}, nil)
	if err != nil || m == nil || m.ContainerPath != "/etc/hosts" {
		t.Fatalf("mount %+v %v", m, err)
	}
	b, _ := os.ReadFile(m.HostPath)
	got := string(b)
	for _, want := range []string{managedHostsHeader + "\n", "127.0.0.1\tlocalhost\n", "10.42.0.5\tp\n", "1.2.3.4\tfoo\tbar\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts file lacks %q:\n%s", want, got)
		}
	}
	own := &corev1.Container{Name: "c", VolumeMounts: []corev1.VolumeMount{{Name: "v", MountPath: "/etc/hosts"}}}
	if m, _ := w.etcHostsMount(own, nil); m != nil {
		t.Errorf("a container mounting its own /etc/hosts got the managed one")
	}
	p.Spec.HostNetwork, p.Spec.HostAliases = true, nil
	if m, _ := w.etcHostsMount(&corev1.Container{Name: "c"}, nil); m != nil {
		t.Errorf("host-network pod without aliases got a managed /etc/hosts")
	}
}
