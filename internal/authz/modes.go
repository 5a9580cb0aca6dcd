package authz

import (
	"fmt"
	"strings"
)

// The --authorization-mode values.
const (
	ModeNode        = "Node"
	ModeRBAC        = "RBAC"
	ModeAlwaysAllow = "AlwaysAllow"
	ModeAlwaysDeny  = "AlwaysDeny"
)

// DefaultModes is upstream kubeadm's and k3s's default: nodes by the Node
// authorizer, everyone else by RBAC.
var DefaultModes = []string{ModeNode, ModeRBAC}

// ParseModes splits a comma list ("Node,RBAC") and checks every name, refusing
// duplicates like upstream's flag validation.
func ParseModes(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, m := range strings.Split(s, ",") {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		switch m {
		case ModeNode, ModeRBAC, ModeAlwaysAllow, ModeAlwaysDeny:
		default:
			return nil, fmt.Errorf("authorization mode %q is not supported (want a comma list of %s, %s, %s, %s)",
				m, ModeNode, ModeRBAC, ModeAlwaysAllow, ModeAlwaysDeny)
		}
		if seen[m] {
			return nil, fmt.Errorf("authorization mode %q is given twice", m)
		}
		seen[m] = true
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("at least one authorization mode must be given")
	}
	return out, nil
}

// HasMode reports whether modes contains m.
func HasMode(modes []string, m string) bool {
	for _, x := range modes {
		if x == m {
			return true
		}
	}
	return false
}

// Chain builds the authorizer the API server asks: system:masters first (it
// bypasses every mode, as upstream), then each mode in the given order.
// byMode supplies the authorizers that need server state (RBAC, Node).
func Chain(modes []string, byMode map[string]Authorizer) (Authorizer, error) {
	u := Union{PrivilegedGroups(SystemMastersGroup)}
	for _, m := range modes {
		switch m {
		case ModeAlwaysAllow:
			u = append(u, AlwaysAllow)
		case ModeAlwaysDeny:
			u = append(u, AlwaysDeny)
		default:
			a, ok := byMode[m]
			if !ok || a == nil {
				return nil, fmt.Errorf("authorization mode %q has no authorizer", m)
			}
			u = append(u, a)
		}
	}
	return u, nil
}
