// Command authz measures what authorization costs:
//
//  1. the RBAC decision against a store of 10,000 RoleBindings (in process: the
//     index the API server keeps, plus the bootstrap policy), p50/p99/max;
//  2. the same question over the wire (SubjectAccessReview round trips against
//     `skiff apiserver` holding those 10,000 bindings), p50/p99;
//  3. pod creates/s by a token-file user allowed through a RoleBinding, with
//     --authorization-mode=Node,RBAC (10,000 bindings stored) against
//     --authorization-mode=AlwaysAllow.
//
// go run ./bench/authz -skiff bin/skiff
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync/atomic"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/bench/benchutil"
	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/authz"
	"github.com/skiff-sh/skiff/internal/authz/bootstrappolicy"
)

const (
	namespaces = 100
	benchToken = "bench-token-0123456789"
	benchUser  = "bencher"
)

func main() {
	bin := flag.String("skiff", "bin/skiff", "skiff binary")
	bindings := flag.Int("bindings", 10000, "RoleBindings in the store")
	creates := flag.Int("creates", 4000, "pods to create per mode")
	flag.Parse()

	decisionLatency(*bindings)

	rbacRate := func() float64 {
		cmd, dir, c, admin := start(*bin, "Node,RBAC")
		defer os.RemoveAll(dir)
		defer benchutil.Kill(cmd)
		fill(admin, *bindings)
		sarLatency(admin, *bindings)
		return createRate(c, *creates, "Node,RBAC")
	}()
	allowRate := func() float64 {
		cmd, dir, c, _ := start(*bin, "AlwaysAllow")
		defer os.RemoveAll(dir)
		defer benchutil.Kill(cmd)
		return createRate(c, *creates, "AlwaysAllow")
	}()
	fmt.Printf("RBAC cost on pod creates: %.1f %%\n", 100*(allowRate-rbacRate)/allowRate)
}

// decisionLatency: one RBAC decision for a random user of n, each bound by its
// own RoleBinding, with the bootstrap policy loaded too.
func decisionLatency(n int) {
	ix := authz.NewRBACIndex()
	p := bootstrappolicy.Default()
	for _, r := range p.ClusterRoles {
		ix.Set(r)
	}
	for _, b := range p.ClusterRoleBindings {
		ix.Set(b)
	}
	for i := range n {
		ix.Set(roleBinding(i))
	}
	r := authz.NewRBAC(ix)
	const samples = 200000
	lat := make([]time.Duration, samples)
	for i := range samples {
		u := rand.Intn(n)
		a := authz.Attributes{User: &auth.User{Name: userName(u), Groups: []string{auth.AuthenticatedGroup}},
			ResourceRequest: true, Verb: "list", APIVersion: "v1", Resource: "pods", Namespace: nsName(u)}
		t := time.Now()
		d, _, _ := r.Authorize(context.Background(), a)
		lat[i] = time.Since(t)
		if d != authz.Allow {
			panic("not allowed")
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("RBAC decision, %d RoleBindings + bootstrap policy, %d samples: p50 %v, p99 %v, max %v\n",
		n, samples, lat[samples/2], lat[samples*99/100], lat[samples-1])
}

func userName(i int) string { return fmt.Sprintf("user-%05d", i) }
func nsName(i int) string   { return fmt.Sprintf("ns-%03d", i%namespaces) }

func roleBinding(i int) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: nsName(i), Name: fmt.Sprintf("rb-%05d", i)},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: userName(i)}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}}
}

// start runs `skiff apiserver` with a token file holding the bench user, who
// is granted edit in default; it returns the bench user's and the admin's clients.
func start(bin, modes string) (*exec.Cmd, string, *kubernetes.Clientset, *kubernetes.Clientset) {
	dir := benchutil.TempDir("skiff-bench-authz")
	tokens := filepath.Join(dir, "tokens.csv")
	benchutil.Must(os.WriteFile(tokens, []byte(benchToken+","+benchUser+",1000\n"), 0o600))
	cmd := benchutil.Start(bin, "apiserver", "--data-dir", dir, "--https-port", "0", "--bind-address", "127.0.0.1",
		"--authorization-mode", modes, "--token-auth-file", tokens)
	admin := benchutil.Client(dir, 100000, 100000)
	_, err := admin.RbacV1().RoleBindings("default").Create(context.Background(), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "bencher-edit"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: benchUser}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"}}, metav1.CreateOptions{})
	benchutil.Must(err)
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	benchutil.Must(err)
	user := rest.AnonymousClientConfig(cfg)
	user.BearerToken = benchToken
	user.QPS, user.Burst = 100000, 100000
	c := kubernetes.NewForConfigOrDie(user)
	// The index follows the watch cache: wait until the grant is visible.
	for {
		r, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: "default", Verb: "create", Resource: "pods"}}}, metav1.CreateOptions{})
		if err == nil && r.Status.Allowed {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd, dir, c, admin
}

// fill stores n RoleBindings in 100 namespaces.
func fill(admin *kubernetes.Clientset, n int) {
	ctx := context.Background()
	for i := range namespaces {
		_, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName(i)}}, metav1.CreateOptions{})
		benchutil.Must(err)
	}
	t := time.Now()
	benchutil.Parallel(n, func(i int) {
		_, err := admin.RbacV1().RoleBindings(nsName(i)).Create(ctx, roleBinding(i), metav1.CreateOptions{})
		benchutil.Must(err)
	})
	fmt.Printf("stored %d RoleBindings in %v\n", n, time.Since(t).Round(time.Millisecond))
}

// sarLatency: SubjectAccessReview round trips for random users of the store.
func sarLatency(admin *kubernetes.Clientset, n int) {
	const samples = 2000
	lat := make([]time.Duration, samples)
	for i := range samples {
		u := rand.Intn(n)
		t := time.Now()
		r, err := admin.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: userName(u), ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: nsName(u), Verb: "list", Resource: "pods"}}}, metav1.CreateOptions{})
		lat[i] = time.Since(t)
		benchutil.Must(err)
		if !r.Status.Allowed {
			panic("SAR not allowed for " + userName(u))
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("SubjectAccessReview round trip, %d samples: p50 %v, p99 %v\n", samples,
		benchutil.Percentile(lat, 50), lat[samples*99/100].Round(10*time.Microsecond))
}

var seq atomic.Int64

// createRate: 16 workers create n pods as the bench user.
func createRate(c *kubernetes.Clientset, n int, mode string) float64 {
	var lat []time.Duration
	lats := make([][]time.Duration, n)
	t := time.Now()
	benchutil.Parallel(n, func(i int) {
		s := time.Now()
		_, err := c.CoreV1().Pods("default").Create(context.Background(), &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%06d", seq.Add(1))},
			Spec: corev1.PodSpec{Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
				Containers: []corev1.Container{{Name: "c", Image: "skiff.local/pause:1"}}}}, metav1.CreateOptions{})
		benchutil.Must(err)
		lats[i] = []time.Duration{time.Since(s)}
	})
	el := time.Since(t)
	for _, l := range lats {
		lat = append(lat, l...)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	rate := float64(n) / el.Seconds()
	fmt.Printf("pod creates as %s (%s), 16 workers, %d pods: %.0f /s, p50 %v, p99 %v\n", benchUser, mode, n, rate,
		benchutil.Percentile(lat, 50), benchutil.Percentile(lat, 99))
	return rate
}
