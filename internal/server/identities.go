package server

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/authz"
	"github.com/skiff-sh/skiff/internal/authz/bootstrappolicy"
)

// Upstream's user names of the control-plane components.
const (
	SchedulerUser         = "system:kube-scheduler"
	ControllerManagerUser = "system:kube-controller-manager"
)

// identities are the in-process components' credentials: a random bearer
// token each, known only to this process, mapped to the component's upstream
// identity so RBAC gives it its bootstrap role and nothing more.
type identities struct {
	tokens      map[string]*auth.User // token → user
	scheduler   string
	controllers string
	perSA       map[string]string // kube-system service account → token
}

func newIdentities() *identities {
	id := &identities{tokens: map[string]*auth.User{}, perSA: map[string]string{}}
	id.scheduler = id.add(&auth.User{Name: SchedulerUser})
	id.controllers = id.add(&auth.User{Name: ControllerManagerUser})
	for _, sa := range controllerServiceAccounts() {
		id.perSA[sa] = id.add(&auth.User{Name: authz.ServiceAccountUsername("kube-system", sa),
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system"}})
	}
	return id
}

func (id *identities) add(u *auth.User) string {
	t := randomToken()
	id.tokens[t] = u
	return t
}

// controllerServiceAccounts are the kube-system service accounts the bootstrap
// policy binds a system:controller:* role to: the controllers' identities.
func controllerServiceAccounts() []string {
	p := bootstrappolicy.Default()
	var subjects [][]rbacv1.Subject
	for _, b := range p.ClusterRoleBindings {
		if strings.HasPrefix(b.Name, "system:controller:") {
			subjects = append(subjects, b.Subjects)
		}
	}
	// Some controllers are granted only in one namespace (the token cleaner in kube-system).
	for _, b := range p.RoleBindings {
		if strings.HasPrefix(b.Name, "system:controller:") {
			subjects = append(subjects, b.Subjects)
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, ss := range subjects {
		for _, s := range ss {
			if s.Kind == rbacv1.ServiceAccountKind && s.Namespace == "kube-system" && !seen[s.Name] {
				seen[s.Name] = true
				out = append(out, s.Name)
			}
		}
	}
	return out
}

// withToken is base with its bearer token replaced.
func withToken(base *rest.Config, token string) *rest.Config {
	c := rest.CopyConfig(base)
	c.BearerToken = token
	return c
}
