package integration

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/skiff-sh/skiff/internal/controllermanager"
	"github.com/skiff-sh/skiff/internal/hollow"
	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/scheduler"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestHollowNodesRunDeployment: 5 hollow nodes (real kubelets over the in-memory
// runtime) register Ready, keep their Leases fresh, run a Deployment of 20 pods
// scheduled onto them with IPs from their podCIDRs, and clean up on scale-down.
func TestHollowNodesRunDeployment(t *testing.T) {
	s := testserver.Start(t)
	c := fastClient(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cluster, waitHollow, err := hollow.Start(ctx, s.Config, hollow.Options{Nodes: 5, StartDelay: 50 * time.Millisecond,
		Kubelet: func(k *kubelet.Config) { k.LeasePeriod, k.StatusPeriod = time.Second, 2*time.Second }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = waitHollow() })
	startScheduler(t, s, scheduler.Options{})
	startControllerManager(t, s, controllermanager.Options{})
	select {
	case <-cluster.Registered:
	case <-time.After(30 * time.Second):
		t.Fatal("hollow nodes did not register")
	}

	// The node IPAM controller gives each node a podCIDR; the kubelet hands it to
	// the runtime, which allocates pod IPs from it.
	eventually(t, 30*time.Second, "podCIDRs on every node", func() (bool, error) {
		l, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, n := range l.Items {
			if n.Spec.PodCIDR == "" {
				return false, nil
			}
		}
		return len(l.Items) == 5, nil
	})
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "hollow"}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr(int32(20)), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "hollow"}},
		Template: pauseTemplate("hollow")}}
	if _, err := c.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pods []corev1.Pod
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=hollow"})
		if err != nil {
			return false, err
		}
		pods = l.Items
		running := 0
		for _, p := range l.Items {
			if p.Status.Phase == corev1.PodRunning && podReady(&p) {
				running++
			}
		}
		return running == 20 && len(l.Items) == 20, nil
	})
	if err != nil {
		t.Fatalf("pods not all Running: %v\n%s", err, podSummary(pods))
	}
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cidrs := map[string]*net.IPNet{}
	for _, n := range nodes.Items {
		if !strings.HasPrefix(n.Name, "hollow-") || n.Labels["skiff.sh/hollow"] != "true" {
			t.Fatalf("unexpected node %s", n.Name)
		}
		if nodeReady(&n) != corev1.ConditionTrue {
			t.Fatalf("node %s not Ready: %+v", n.Name, n.Status.Conditions)
		}
		if n.Status.NodeInfo.ContainerRuntimeVersion != "hollow://0.1.0" {
			t.Fatalf("node %s runtime %q", n.Name, n.Status.NodeInfo.ContainerRuntimeVersion)
		}
		if _, cidr, err := net.ParseCIDR(n.Spec.PodCIDR); err == nil {
			cidrs[n.Name] = cidr
		}
	}
	if len(nodes.Items) != 5 {
		t.Fatalf("%d nodes, want 5", len(nodes.Items))
	}
	if len(cidrs) != 5 {
		t.Fatalf("podCIDRs %v, want one per node", cidrs)
	}
	ips := map[string]bool{}
	for _, p := range pods {
		if !strings.HasPrefix(p.Spec.NodeName, "hollow-") {
			t.Fatalf("pod %s on %q", p.Name, p.Spec.NodeName)
		}
		if ips[p.Status.PodIP] {
			t.Fatalf("pod IP %s given twice", p.Status.PodIP)
		}
		ips[p.Status.PodIP] = true
		if cidr := cidrs[p.Spec.NodeName]; cidr != nil && !cidr.Contains(net.ParseIP(p.Status.PodIP)) {
			t.Fatalf("pod %s IP %s outside its node's podCIDR %s", p.Name, p.Status.PodIP, cidr)
		}
		if cs := p.Status.ContainerStatuses; len(cs) != 1 || cs[0].State.Running == nil || !strings.HasPrefix(cs[0].ContainerID, "hollow://") {
			t.Fatalf("pod %s container statuses %+v", p.Name, cs)
		}
	}
	if _, running := cluster.Counts(); running != 20 {
		t.Fatalf("runtimes report %d running containers, want 20", running)
	}

	// Leases renew (every second here): every renewTime advances.
	before := leaseTimes(t, s)
	if len(before) != 5 {
		t.Fatalf("%d node leases, want 5", len(before))
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		after := leaseTimes(t, s)
		for n, t0 := range before {
			if !after[n].After(t0) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("leases not renewed: before %v now %v", before, leaseTimes(t, s))
	}

	// Scale to zero: the kubelets stop and remove every sandbox and container.
	scale, err := c.AppsV1().Deployments("default").GetScale(ctx, "hollow", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 0
	if _, err := c.AppsV1().Deployments("default").UpdateScale(ctx, "hollow", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=hollow"})
		sandboxes, running := cluster.Counts()
		return err == nil && len(l.Items) == 0 && sandboxes == 0 && running == 0, nil
	})
	if err != nil {
		sandboxes, running := cluster.Counts()
		t.Fatalf("after scale-down: %d sandboxes, %d running containers left: %v", sandboxes, running, err)
	}
}

func leaseTimes(t *testing.T, s *testserver.Server) map[string]time.Time {
	t.Helper()
	l, err := s.Client.CoordinationV1().Leases("kube-node-lease").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]time.Time{}
	for _, le := range l.Items {
		if le.Spec.RenewTime != nil {
			out[le.Name] = le.Spec.RenewTime.Time
		}
	}
	return out
}

func podSummary(pods []corev1.Pod) string {
	var b strings.Builder
	for _, p := range pods {
		b.WriteString(p.Name + " " + p.Spec.NodeName + " " + string(p.Status.Phase))
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Waiting != nil {
				b.WriteString(" waiting:" + cs.State.Waiting.Reason + " " + cs.State.Waiting.Message)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
