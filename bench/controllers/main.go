// Command controllers-bench measures a ReplicaSet scaling from 0 to N pods on a
// full `skiff server` (API server, scheduler, controller manager in one
// process), the way ../../ANCHORS.md measured upstream: seconds from the scale
// request until all N pods exist, until all are bound, and until all are
// Running.
//
//	./hack/build.sh && go run ./bench/controllers -skiff bin/skiff
//
// There are no real kubelets: M Node objects (110 pods allocatable each,
// Ready, Leases renewed) and a fake kubelet in this process that marks each
// bound pod Running and Ready through pods/status, as a kubelet (or KWOK)
// would. Its writes share the server with the controllers, like upstream's
// KWOK run did.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/skiff-sh/skiff/bench/benchutil"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

type result struct{ exist, bound, running time.Duration }

func main() {
	bin := flag.String("skiff", "bin/skiff", "skiff binary")
	nodes := flag.Int("nodes", 100, "Node objects")
	pods := flag.Int("pods", 1000, "ReplicaSet replicas")
	runs := flag.Int("runs", 3, "runs, each on a fresh server; the median is reported")
	flag.Parse()
	fmt.Printf("# Skiff controller benchmark: ReplicaSet 0 → %d pods on %d nodes, %d runs (%s)\n\n",
		*pods, *nodes, *runs, time.Now().UTC().Format(time.RFC3339))
	var all []result
	for i := range *runs {
		r := run(*bin, *nodes, *pods)
		fmt.Printf("run %d: exist %v, bound %v, Running %v\n", i+1, sec(r.exist), sec(r.bound), sec(r.running))
		all = append(all, r)
	}
	med := median(all)
	fmt.Printf("\n| figure | Skiff (median of %d) | upstream (ANCHORS) |\n|---|---|---|\n", len(all))
	fmt.Printf("| ReplicaSet 0 → %d: all exist | %v | 4.1 s |\n", *pods, sec(med.exist))
	fmt.Printf("| ReplicaSet 0 → %d: all bound | %v | 6.6 s |\n", *pods, sec(med.bound))
	fmt.Printf("| ReplicaSet 0 → %d: all Running | %v | 10.9 s |\n", *pods, sec(med.running))
	fmt.Printf("\nspeed-up against upstream: exist %.1f×, bound %.1f×, Running %.1f×\n",
		4.1/med.exist.Seconds(), 6.6/med.bound.Seconds(), 10.9/med.running.Seconds())
}

func sec(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func median(rs []result) result {
	pick := func(f func(result) time.Duration) time.Duration {
		v := make([]time.Duration, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		return v[len(v)/2]
	}
	return result{pick(func(r result) time.Duration { return r.exist }),
		pick(func(r result) time.Duration { return r.bound }),
		pick(func(r result) time.Duration { return r.running })}
}

func run(bin string, nodes, pods int) result {
	dir, err := os.MkdirTemp("", "skiff-cm-bench-")
	benchutil.Must(err)
	defer os.RemoveAll(dir)
	srv := benchutil.Start(bin, "server", "--data-dir", dir, "--https-port", "0", "--bind-address", "127.0.0.1", "--disable-agent")
	defer benchutil.Kill(srv)
	c := benchutil.Client(dir, 100000, 100000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	names := makeNodes(c, nodes)
	go renewLeases(ctx, c, names)
	go fakeKubelet(ctx, c)

	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "bench"}, Spec: appsv1.ReplicaSetSpec{Replicas: ptr(int32(0)),
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bench"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "bench"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "skiff.local/pause:1",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")}}}}}}}}
	_, err = c.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{})
	benchutil.Must(err)
	time.Sleep(time.Second) // let every component see the empty ReplicaSet
	p := newProgress(c, pods)
	begin := time.Now()
	_, err = c.AppsV1().ReplicaSets("default").UpdateScale(ctx, "bench", &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: "default"}, Spec: autoscalingv1.ScaleSpec{Replicas: int32(pods)}}, metav1.UpdateOptions{})
	benchutil.Must(err)
	r := p.wait(begin)
	check(c, pods)
	return r
}

// progress records when the N-th pod existed, was bound and was Running, as seen by a watch.
type progress struct{ exist, bound, running chan time.Time }

func newProgress(c kubernetes.Interface, want int) *progress {
	w, err := c.CoreV1().Pods("default").Watch(context.Background(), metav1.ListOptions{LabelSelector: "app=bench"})
	benchutil.Must(err)
	p := &progress{exist: make(chan time.Time, 1), bound: make(chan time.Time, 1), running: make(chan time.Time, 1)}
	go func() {
		defer w.Stop()
		seen, bound, running := map[string]bool{}, map[string]bool{}, map[string]bool{}
		mark := func(set map[string]bool, name string, ch chan time.Time) {
			if !set[name] {
				set[name] = true
				if len(set) == want {
					ch <- time.Now()
				}
			}
		}
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			mark(seen, pod.Name, p.exist)
			if pod.Spec.NodeName != "" {
				mark(bound, pod.Name, p.bound)
			}
			if pod.Status.Phase == corev1.PodRunning {
				mark(running, pod.Name, p.running)
			}
			if len(running) == want {
				return
			}
		}
		panic("pod watch ended early")
	}()
	return p
}

func (p *progress) wait(begin time.Time) result {
	get := func(ch chan time.Time) time.Duration {
		select {
		case t := <-ch:
			return t.Sub(begin)
		case <-time.After(5 * time.Minute):
			panic("not done within 5 minutes")
		}
	}
	return result{get(p.exist), get(p.bound), get(p.running)}
}

// check verifies the end state: exactly N pods, all bound, Running and Ready, status to match.
func check(c kubernetes.Interface, want int) {
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rs, err := c.AppsV1().ReplicaSets("default").Get(ctx, "bench", metav1.GetOptions{})
		benchutil.Must(err)
		if rs.Status.ReadyReplicas == int32(want) && rs.Status.AvailableReplicas == int32(want) {
			break
		}
		if time.Now().After(deadline) {
			panic(fmt.Sprintf("ReplicaSet status %+v", rs.Status))
		}
		time.Sleep(200 * time.Millisecond)
	}
	l, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=bench"})
	benchutil.Must(err)
	if len(l.Items) != want {
		panic(fmt.Sprintf("%d pods, want %d", len(l.Items), want))
	}
	for _, p := range l.Items {
		if p.Spec.NodeName == "" || p.Status.Phase != corev1.PodRunning {
			panic(fmt.Sprintf("pod %s: node %q phase %s", p.Name, p.Spec.NodeName, p.Status.Phase))
		}
	}
}

// fakeKubelet marks every bound pod Running and Ready through pods/status.
func fakeKubelet(ctx context.Context, c kubernetes.Interface) {
	w, err := c.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName!="})
	benchutil.Must(err)
	work := make(chan *corev1.Pod, 100000)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for p := range work {
				markRunning(ctx, c, p)
			}
		})
	}
	for ev := range w.ResultChan() {
		if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Deleted && p.Status.Phase != corev1.PodRunning && p.DeletionTimestamp == nil {
			work <- p
		}
	}
	close(work)
	wg.Wait()
}

var ipSeq struct {
	sync.Mutex
	n int
}

func markRunning(ctx context.Context, c kubernetes.Interface, p *corev1.Pod) {
	ipSeq.Lock()
	ipSeq.n++
	ip := fmt.Sprintf("10.42.%d.%d", ipSeq.n/250, ipSeq.n%250+2)
	ipSeq.Unlock()
	for {
		p = p.DeepCopy()
		now := metav1.Now()
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIP, p.Status.PodIPs, p.Status.HostIP, p.Status.StartTime = ip, []corev1.PodIP{{IP: ip}}, "192.168.0.1", &now
		p.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", Image: p.Spec.Containers[0].Image, ImageID: "sha256:0",
			ContainerID: "fake://" + string(p.UID), Ready: true, Started: ptr(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}
		_, err := c.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			return
		}
		if p, err = c.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{}); err != nil || p.Status.Phase == corev1.PodRunning {
			return
		}
	}
}

func makeNodes(c kubernetes.Interface, n int) []string {
	names := make([]string, n)
	benchutil.Parallel(n, func(i int) {
		names[i] = fmt.Sprintf("node-%04d", i)
		rl := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("64Gi"), corev1.ResourcePods: resource.MustParse("110")}
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: names[i], Labels: map[string]string{"kubernetes.io/hostname": names[i]}},
			Status: corev1.NodeStatus{Allocatable: rl, Capacity: rl,
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}}}}
		_, err := c.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{})
		benchutil.Must(err)
	})
	return names
}

// renewLeases keeps the nodes alive for the node lifecycle controller, every 10 s as a kubelet does.
func renewLeases(ctx context.Context, c kubernetes.Interface, names []string) {
	leases := c.CoordinationV1().Leases("kube-node-lease")
	for {
		benchutil.Parallel(len(names), func(i int) {
			now := metav1.NewMicroTime(time.Now())
			l, err := leases.Get(ctx, names[i], metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				_, _ = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: names[i]},
					Spec: coordinationv1.LeaseSpec{HolderIdentity: &names[i], LeaseDurationSeconds: ptr(int32(40)), RenewTime: &now}}, metav1.CreateOptions{})
				return
			}
			if err == nil {
				l.Spec.RenewTime = &now
				_, _ = leases.Update(ctx, l, metav1.UpdateOptions{})
			}
		})
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Second):
		}
	}
}

func ptr[T any](v T) *T { return &v }
