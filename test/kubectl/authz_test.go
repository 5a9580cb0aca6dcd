package kubectl_test

import (
	"context"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestAuthCanI: `kubectl auth can-i` (with --as, --as-group and --list) answers
// what RBAC really grants, and a refused request prints upstream's message.
func TestAuthCanI(t *testing.T) {
	srv := testserver.Start(t)
	eachKubectl(t, srv, func(t *testing.T, k *kubectl) {
		ctx := context.Background()
		user := "carol-" + k.sfx
		_, err := srv.Client.RbacV1().RoleBindings(k.ns).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "carol-view"},
			Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: user}},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		canI := func(args ...string) string {
			r := k.run(append([]string{"auth", "can-i"}, args...)...)
			return strings.TrimSpace(r.stdout)
		}
		deadline := time.Now().Add(10 * time.Second)
		for canI("list", "pods", "--as", user) != "yes" {
			if time.Now().After(deadline) {
				t.Fatalf("carol never allowed to list pods in %s", k.ns)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"get", "pods/log", "--as", user}, "yes"},
			{[]string{"get", "secrets", "--as", user}, "no"},
			{[]string{"create", "pods", "--as", user}, "no"},
			{[]string{"list", "pods", "--as", user, "-n", "default"}, "no"},
			{[]string{"list", "nodes", "--as", user}, "no"},
			{[]string{"get", "/healthz", "--as", user}, "yes"},
			{[]string{"get", "/metrics", "--as", user}, "no"},
			{[]string{"create", "pods", "--as", "someone", "--as-group", "system:masters"}, "yes"},
			{[]string{"delete", "nodes"}, "yes"},
		} {
			if got := canI(c.args...); got != c.want {
				t.Errorf("auth can-i %s = %q, want %q", strings.Join(c.args, " "), got, c.want)
			}
		}
		list := k.ok("auth", "can-i", "--list", "--as", user)
		mustContain(t, "can-i --list", list, "pods/log")
		if strings.Contains(list, "*.*") || strings.Contains(list, "secrets ") {
			t.Errorf("carol's --list shows more than view:\n%s", list)
		}
		out := k.fails("get", "secrets", "--as", user)
		mustContain(t, "forbidden get", out, `secrets is forbidden: User "`+user+`" cannot list resource "secrets" in API group "" in the namespace "`+k.ns+`"`)
	})
}
