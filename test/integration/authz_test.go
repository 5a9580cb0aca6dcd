package integration

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/server"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// authzEnv is a server with one identity of each kind the table covers.
type authzEnv struct {
	s       *testserver.Server
	clients map[string]kubernetes.Interface
	configs map[string]*rest.Config
}

const authzNS = "team"

// newAuthzEnv starts a server with a token file (dave in group devs, nobody in
// no group), and sets up: namespace team with a pod, a deployment and a
// secret; ServiceAccount team/bot bound to Role pod-reader; ClusterRoleBinding
// devs → view; Role team/rbac-writer (create/update roles and rolebindings)
// bound to dave.
func newAuthzEnv(t *testing.T) *authzEnv {
	t.Helper()
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte("tok-dave,dave,1001,devs\ntok-nobody,nobody,1002\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := testserver.StartWith(t, server.Options{TokenFile: tokens})
	ctx, c := context.Background(), s.Client
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: authzNS}}, metav1.CreateOptions{}))
	must(c.CoreV1().Pods(authzNS).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}, metav1.CreateOptions{}))
	must(c.AppsV1().Deployments(authzNS).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "app"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}}}, metav1.CreateOptions{}))
	must(c.CoreV1().Secrets(authzNS).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}}, metav1.CreateOptions{}))
	must(c.CoreV1().ServiceAccounts(authzNS).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "bot"}}, metav1.CreateOptions{}))
	must(c.RbacV1().Roles(authzNS).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"}, Rules: []rbacv1.PolicyRule{
		{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}}}}, metav1.CreateOptions{}))
	must(c.RbacV1().RoleBindings(authzNS).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bot-reads"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "bot", Namespace: authzNS}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"}}, metav1.CreateOptions{}))
	must(c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "devs-view"},
		Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "devs"}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}}, metav1.CreateOptions{}))
	must(c.RbacV1().Roles(authzNS).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "rbac-writer"}, Rules: []rbacv1.PolicyRule{
		{Verbs: []string{"create", "update"}, APIGroups: []string{rbacv1.GroupName}, Resources: []string{"roles", "rolebindings"}}}}, metav1.CreateOptions{}))
	must(c.RbacV1().RoleBindings(authzNS).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "dave-rbac"},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "dave"}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "rbac-writer"}}, metav1.CreateOptions{}))
	tr, err := c.CoreV1().ServiceAccounts(authzNS).CreateToken(ctx, "bot", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	token := func(tok string) *rest.Config {
		cfg := rest.AnonymousClientConfig(s.Config)
		cfg.BearerToken = tok
		return cfg
	}
	asDave := rest.CopyConfig(admin)
	asDave.Impersonate = rest.ImpersonationConfig{UserName: "dave", Groups: []string{"devs"}}
	nobodyAsDave := token("tok-nobody")
	nobodyAsDave.Impersonate = rest.ImpersonationConfig{UserName: "dave"}
	env := &authzEnv{s: s, clients: map[string]kubernetes.Interface{}, configs: map[string]*rest.Config{
		"admin":          admin,
		"sa-bot":         token(tr.Status.Token),
		"dave":           token("tok-dave"),
		"nobody":         token("tok-nobody"),
		"anonymous":      rest.AnonymousClientConfig(s.Config),
		"admin-as-dave":  asDave,
		"nobody-as-dave": nobodyAsDave,
	}}
	for name, cfg := range env.configs {
		env.clients[name] = kubernetes.NewForConfigOrDie(cfg)
	}
	// The RBAC index follows the watch cache: wait until the last binding shows.
	waitAllowed(t, env.clients["dave"], "create", rbacv1.GroupName, "roles", authzNS)
	waitAllowed(t, env.clients["sa-bot"], "list", "", "pods", authzNS)
	return env
}

// waitAllowed polls SelfSubjectAccessReview until the verb is allowed.
func waitAllowed(t *testing.T, c kubernetes.Interface, verb, group, resource, ns string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: verb, Group: group, Resource: resource, Namespace: ns}}}, metav1.CreateOptions{})
		if err == nil && r.Status.Allowed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s in %q never allowed: %v %+v", verb, resource, ns, err, r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// authzRequest is one row's request; it returns the API error (nil = success).
type authzRequest struct {
	name string
	do   func(ctx context.Context, c kubernetes.Interface) error
}

func rawGet(c kubernetes.Interface, path string) error {
	return c.CoreV1().RESTClient().Get().AbsPath(path).Do(context.Background()).Error()
}

var authzRequests = map[string]authzRequest{
	"get pod": {"get pod", func(ctx context.Context, c kubernetes.Interface) error {
		_, err := c.CoreV1().Pods(authzNS).Get(ctx, "web", metav1.GetOptions{})
		return err
	}},
	"list pods": {"list pods", func(ctx context.Context, c kubernetes.Interface) error {
		_, err := c.CoreV1().Pods(authzNS).List(ctx, metav1.ListOptions{})
		return err
	}},
	"watch pods": {"watch pods", func(ctx context.Context, c kubernetes.Interface) error {
		w, err := c.CoreV1().Pods(authzNS).Watch(ctx, metav1.ListOptions{})
		if err == nil {
			w.Stop()
		}
		return err
	}},
	"list pods all namespaces": {"list pods -A", func(ctx context.Context, c kubernetes.Interface) error {
		_, err := c.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		return err
	}},
	"create pod": {"create pod", func(ctx context.Context, c kubernetes.Interface) error {
		_, err := c.CoreV1().Pods(authzNS).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "p-"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}},
	"patch pod": {"patch pod", func(ctx context.Context, c kubernetes.Interface) error {
		_, err := c.CoreV1().Pods(authzNS).Patch(ctx, "web", types.MergePatchType, []byte(`{"metadata":{"labels":{"x":"y"}}}`),
			metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}},
	"update pod": {"update pod", func(ctx context.Context, c kubernetes.Interface) error {
		p, err := c.CoreV1().Pods(authzNS).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			p = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: authzNS},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}
		}
		_, err = c.CoreV1().Pods(authzNS).Update(ctx, p, metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}},
	"delete pod": {"delete pod", func(ctx context.Context, c kubernetes.Interface) error {
		return c.CoreV1().Pods(authzNS).Delete(ctx, "web", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
	}},
	"pods/log": {"get pods/log", func(ctx context.Context, c kubernetes.Interface) error {
		return c.CoreV1().Pods(authzNS).GetLogs("web", &corev1.PodLogOptions{}).Do(ctx).Error()
	}},
	"pods/exec": {"create pods/exec", func(ctx context.Context, c kubernetes.Interface) error {
		return c.CoreV1().RESTClient().Post().Namespace(authzNS).Resource("pods").Name("web").SubResource("exec").
			Param("command", "true").Param("stdout", "true").Do(ctx).Error()
	}},
	"get secret": {"get secret", func(ctx context.Context, c kubernetes.Interface) error {
		_, err := c.CoreV1().Secrets(authzNS).Get(ctx, "s", metav1.GetOptions{})
		return err
	}},
	"list secrets all namespaces": {"list secrets -A", func(ctx context.Context, c kubernetes.Interface) error {
		_, err := c.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
		return err
	}},
	"get deployments/scale": {"get deployments/scale", func(ctx context.Context, c kubernetes.Interface) error {
		_, err := c.AppsV1().Deployments(authzNS).GetScale(ctx, "app", metav1.GetOptions{})
		return err
	}},
	"update deployments/scale": {"update deployments/scale", func(ctx context.Context, c kubernetes.Interface) error {
		_, err := c.AppsV1().Deployments(authzNS).UpdateScale(ctx, "app", &autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: authzNS}, Spec: autoscalingv1.ScaleSpec{Replicas: 2}},
			metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}},
	"list nodes": {"list nodes", func(ctx context.Context, c kubernetes.Interface) error {
		_, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		return err
	}},
	"delete node": {"delete node", func(ctx context.Context, c kubernetes.Interface) error {
		err := c.CoreV1().Nodes().Delete(ctx, "nope", metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil // authorized; there is just no such node
		}
		return err
	}},
	"bind cluster-admin": {"create clusterrolebinding to cluster-admin", func(ctx context.Context, c kubernetes.Interface) error {
		_, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{GenerateName: "pwn-"},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "nobody"}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"}},
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}},
	"GET /healthz": {"GET /healthz", func(_ context.Context, c kubernetes.Interface) error { return rawGet(c, "/healthz") }},
	"GET /version": {"GET /version", func(_ context.Context, c kubernetes.Interface) error { return rawGet(c, "/version") }},
	"GET /api":     {"GET /api", func(_ context.Context, c kubernetes.Interface) error { return rawGet(c, "/api") }},
	"GET /metrics": {"GET /metrics", func(_ context.Context, c kubernetes.Interface) error { return rawGet(c, "/metrics") }},
}

// TestAuthorizationTable: identity × request → allowed or forbidden, with real
// client-go. "Allowed" means the request got past authorization: a request
// that then fails for another reason (no kubelet for pods/log) is allowed.
func TestAuthorizationTable(t *testing.T) {
	env := newAuthzEnv(t)
	all := func(except ...string) map[string]bool {
		m := map[string]bool{}
		for k := range authzRequests {
			m[k] = true
		}
		for _, e := range except {
			m[e] = false
		}
		return m
	}
	only := func(allowed ...string) map[string]bool {
		m := map[string]bool{}
		for k := range authzRequests {
			m[k] = false
		}
		for _, a := range allowed {
			m[a] = true
		}
		return m
	}
	public := []string{"GET /healthz", "GET /version"}
	authenticated := append([]string{"GET /api"}, public...)
	viewer := append([]string{"get pod", "list pods", "watch pods", "list pods all namespaces", "pods/log", "get deployments/scale"}, authenticated...)
	want := map[string]map[string]bool{
		"admin":          all(),
		"sa-bot":         only(append([]string{"get pod", "list pods", "watch pods", "pods/log"}, authenticated...)...),
		"dave":           only(viewer...),
		"admin-as-dave":  only(viewer...),
		"nobody":         only(authenticated...),
		"nobody-as-dave": only(), // impersonation itself is refused
		"anonymous":      only(public...),
	}
	for who, rows := range want {
		for req, allowed := range rows {
			t.Run(who+"/"+req, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				err := authzRequests[req].do(ctx, env.clients[who])
				if forbidden := apierrors.IsForbidden(err); forbidden == allowed {
					t.Fatalf("%s %s: want allowed=%v, got %v", who, authzRequests[req].name, allowed, err)
				}
				if !allowed && who == "anonymous" && !apierrors.IsForbidden(err) {
					t.Fatalf("anonymous must get 403, got %v", err)
				}
			})
		}
	}
}

// TestForbiddenMessages: the 403 bodies carry upstream's wording.
func TestForbiddenMessages(t *testing.T) {
	env := newAuthzEnv(t)
	ctx := context.Background()
	cases := []struct {
		who, req, msg string
	}{
		{"nobody", "list pods", `pods is forbidden: User "nobody" cannot list resource "pods" in API group "" in the namespace "team"`},
		{"nobody", "list nodes", `nodes is forbidden: User "nobody" cannot list resource "nodes" in API group "" at the cluster scope`},
		{"sa-bot", "get secret", `secrets "s" is forbidden: User "system:serviceaccount:team:bot" cannot get resource "secrets" in API group "" in the namespace "team"`},
		{"dave", "update deployments/scale", `deployments.apps "app" is forbidden: User "dave" cannot update resource "deployments/scale" in API group "apps" in the namespace "team"`},
		{"nobody", "GET /metrics", `forbidden: User "nobody" cannot get path "/metrics"`},
		{"nobody-as-dave", "get pod", `users "dave" is forbidden: User "nobody" cannot impersonate resource "users" in API group "" at the cluster scope`},
	}
	for _, c := range cases {
		err := authzRequests[c.req].do(ctx, env.clients[c.who])
		var se *apierrors.StatusError
		if !apierrors.IsForbidden(err) || !asStatus(err, &se) || se.ErrStatus.Message != c.msg {
			t.Errorf("%s %s: got %v, want message %q", c.who, c.req, err, c.msg)
		}
	}
}

func asStatus(err error, se **apierrors.StatusError) bool {
	s, ok := err.(*apierrors.StatusError)
	*se = s
	return ok
}

// TestEscalationPrevention: dave may write Roles and RoleBindings in team, but
// only with rules he holds (view) and only to roles he holds.
func TestEscalationPrevention(t *testing.T) {
	env := newAuthzEnv(t)
	ctx, dave := context.Background(), env.clients["dave"]
	_, err := dave.RbacV1().Roles(authzNS).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("role within dave's rights: %v", err)
	}
	_, err = dave.RbacV1().Roles(authzNS).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "secrets"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}}}}, metav1.CreateOptions{})
	wantMsg := `roles.rbac.authorization.k8s.io "secrets" is forbidden: user "dave" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:
{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}`
	if !apierrors.IsForbidden(err) || err.Error() != wantMsg {
		t.Fatalf("escalating role: got %v\nwant %s", err, wantMsg)
	}
	bind := func(name, kind, role string) error {
		_, err := dave.RbacV1().RoleBindings(authzNS).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "nobody"}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role}}, metav1.CreateOptions{})
		return err
	}
	if err := bind("nobody-view", "ClusterRole", "view"); err != nil {
		t.Fatalf("binding a role dave holds: %v", err)
	}
	if err := bind("nobody-admin", "ClusterRole", "admin"); !apierrors.IsForbidden(err) ||
		!strings.Contains(err.Error(), `rolebindings.rbac.authorization.k8s.io "nobody-admin" is forbidden: user "dave"`) {
		t.Fatalf("binding admin: want 403, got %v", err)
	}
	// With `bind` on the admin ClusterRole, the same binding is allowed.
	_, err = env.s.Client.RbacV1().Roles(authzNS).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "bind-admin"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"bind"}, APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"}, ResourceNames: []string{"admin"}}}}, metav1.CreateOptions{})
	if err == nil {
		_, err = env.s.Client.RbacV1().RoleBindings(authzNS).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "dave-bind-admin"},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "dave"}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "bind-admin"}}, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for err := bind("nobody-admin", "ClusterRole", "admin"); err != nil; err = bind("nobody-admin", "ClusterRole", "admin") {
		if !apierrors.IsForbidden(err) || time.Now().After(deadline) {
			t.Fatalf("binding admin with bind: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAccessReviews: SubjectAccessReview, LocalSubjectAccessReview and
// SelfSubjectRulesReview answer from the same rules.
func TestAccessReviews(t *testing.T) {
	env := newAuthzEnv(t)
	ctx, admin := context.Background(), env.clients["admin"]
	sar := func(user string, groups []string, verb, resource string) authorizationv1.SubjectAccessReviewStatus {
		t.Helper()
		r, err := admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: user, Groups: groups, ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: authzNS, Verb: verb, Resource: resource}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	st := sar("dave", []string{"devs"}, "list", "pods")
	if !st.Allowed || st.Reason != `RBAC: allowed by ClusterRoleBinding "devs-view" of ClusterRole "view" to Group "devs"` {
		t.Fatalf("dave list pods: %+v", st)
	}
	if st := sar("dave", nil, "list", "pods"); st.Allowed || st.Denied {
		t.Fatalf("dave without his group: %+v", st)
	}
	st = sar("system:serviceaccount:team:bot", nil, "get", "pods")
	if !st.Allowed || st.Reason != `RBAC: allowed by RoleBinding "bot-reads/team" of Role "pod-reader" to ServiceAccount "bot/team"` {
		t.Fatalf("bot get pods: %+v", st)
	}
	_, err := admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods"}}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("SAR without user: want 422, got %v", err)
	}
	lsar, err := admin.AuthorizationV1().LocalSubjectAccessReviews(authzNS).Create(ctx, &authorizationv1.LocalSubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{User: "nobody", ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: authzNS, Verb: "get", Resource: "secrets"}}}, metav1.CreateOptions{})
	if err != nil || lsar.Status.Allowed {
		t.Fatalf("local SAR nobody get secrets: %v %+v", err, lsar)
	}
	// A plain user may not ask about others (SubjectAccessReview is not in basic-user).
	if _, err := env.clients["nobody"].AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{User: "dave", ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods"}}},
		metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("nobody creating a SAR: want 403, got %v", err)
	}
	rr, err := env.clients["sa-bot"].AuthorizationV1().SelfSubjectRulesReviews().Create(ctx, &authorizationv1.SelfSubjectRulesReview{
		Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: authzNS}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rr.Status.ResourceRules {
		if fmt.Sprint(r.Resources) == "[pods pods/log]" && fmt.Sprint(r.Verbs) == "[get list watch]" {
			found = true
		}
		if strings.Contains(fmt.Sprint(r.Resources), "secrets") || fmt.Sprint(r.Resources) == "[*]" {
			t.Fatalf("bot's rules list more than it has: %+v", rr.Status.ResourceRules)
		}
	}
	if !found {
		t.Fatalf("bot's rules: %+v", rr.Status.ResourceRules)
	}
}

// TestWebSocketExecNeedsCreate: a WebSocket GET of pods/exec is authorized as
// get and as create (upstream's AuthorizePodWebsocketUpgradeCreatePermission).
func TestWebSocketExecNeedsCreate(t *testing.T) {
	env := newAuthzEnv(t)
	tr, err := rest.TransportFor(env.configs["dave"]) // dave: view, which has no pods/exec at all
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = env.s.Client.RbacV1().Roles(authzNS).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "exec-get"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods/exec"}}}}, metav1.CreateOptions{})
	if err == nil {
		_, err = env.s.Client.RbacV1().RoleBindings(authzNS).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "dave-exec-get"},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "dave"}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "exec-get"}}, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	waitAllowed(t, env.clients["dave"], "get", "", "pods/exec", authzNS)
	req, _ := http.NewRequest("GET", env.s.URL+"/api/v1/namespaces/team/pods/web/exec?command=true&stdout=true", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("websocket exec with get only: %d, want 403", resp.StatusCode)
	}
}

// TestImpersonationParts: every part of an impersonated identity is checked on
// its own (users, groups, uids, userextras/<key>, serviceaccounts), and the
// request then runs as exactly that identity.
func TestImpersonationParts(t *testing.T) {
	env := newAuthzEnv(t)
	ctx := context.Background()
	whoami := func(cfg *rest.Config) (*authenticationv1.SelfSubjectReview, error) {
		return kubernetes.NewForConfigOrDie(cfg).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	}
	as := rest.CopyConfig(env.configs["admin"])
	as.Impersonate = rest.ImpersonationConfig{UserName: "erin", UID: "u-1", Groups: []string{"g1"}, Extra: map[string][]string{"scopes": {"a", "b"}}}
	r, err := whoami(as)
	if err != nil {
		t.Fatal(err)
	}
	u := r.Status.UserInfo
	if u.Username != "erin" || u.UID != "u-1" || fmt.Sprint(u.Groups) != "[g1 system:authenticated]" || fmt.Sprint(u.Extra["scopes"]) != "[a b]" {
		t.Fatalf("impersonated identity: %+v", u)
	}
	sa := rest.CopyConfig(env.configs["admin"])
	sa.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:team:bot"}
	if r, err = whoami(sa); err != nil || fmt.Sprint(r.Status.UserInfo.Groups) != "[system:serviceaccounts system:serviceaccounts:team system:authenticated]" {
		t.Fatalf("impersonated service account: %+v %v", r, err)
	}
	// dave may impersonate users, but not uids: the uid part alone is refused.
	_, err = env.s.Client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "impersonate-users"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"impersonate"}, APIGroups: []string{""}, Resources: []string{"users"}}}}, metav1.CreateOptions{})
	if err == nil {
		_, err = env.s.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "dave-impersonates"},
			Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: rbacv1.GroupName, Name: "dave"}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "impersonate-users"}}, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	waitAllowed(t, env.clients["dave"], "impersonate", "", "users", "")
	daveAs := rest.CopyConfig(env.configs["dave"])
	daveAs.Impersonate = rest.ImpersonationConfig{UserName: "nobody"}
	if r, err := whoami(daveAs); err != nil || r.Status.UserInfo.Username != "nobody" {
		t.Fatalf("dave as nobody: %+v %v", r, err)
	}
	daveAs.Impersonate.UID = "u-2"
	_, err = whoami(daveAs)
	want := `uids.authentication.k8s.io "u-2" is forbidden: User "dave" cannot impersonate resource "uids" in API group "authentication.k8s.io" at the cluster scope`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Fatalf("dave impersonating a uid: got %v\nwant %s", err, want)
	}
	// Impersonating a user does not carry the impersonator's rights: nobody cannot list pods.
	daveAs.Impersonate.UID = ""
	if _, err := kubernetes.NewForConfigOrDie(daveAs).CoreV1().Pods(authzNS).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("dave as nobody listing pods: want 403, got %v", err)
	}
}
