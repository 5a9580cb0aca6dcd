#!/usr/bin/env bash
# Builds the upstream conformance tooling for the Kubernetes version Skiff serves:
# e2e.test, ginkgo, kubectl and the programs of the e2e images (agnhost,
# nonewprivs), from the Go module proxy, in a scratch module outside the
# repository. Nothing of upstream is committed; the binaries are cached per
# version and rebuilt only when the version or this recipe changes.
#
# Usage: hack/conformance-build.sh     prints the cache directory on its last line
# Env:   SKIFF_CONFORMANCE_CACHE       cache root (default ~/.cache/skiff-conformance)
set -euo pipefail
cd "$(dirname "$0")/.."

recipe=3 # bump when what is built, or how, changes
client_go=$(go list -m -f '{{.Version}}' k8s.io/client-go) # v0.37.2
k8s_version="v1.${client_go#v0.}"                         # v1.37.2
cache="${SKIFF_CONFORMANCE_CACHE:-$HOME/.cache/skiff-conformance}/$k8s_version"
mod="$cache/mod"
bins=(e2e.test ginkgo kubectl agnhost nnp)

fresh=1
for b in "${bins[@]}"; do [ -x "$cache/$b" ] || fresh=0; done
if [ "$fresh" = 1 ] && [ "$(cat "$cache/recipe" 2>/dev/null)" = "$recipe" ]; then
  echo "$cache"
  exit 0
fi
mkdir -p "$mod"
cd "$mod"

# The staging modules are the ones k8s.io/kubernetes's go.mod replaces with
# ./staging/src/...; each is published on its own as v0.Y.Z.
upstream_mod=$(go mod download -json "k8s.io/kubernetes@$k8s_version" | sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p')
staging=$(sed -n 's#^\s*\(k8s.io/[^ ]*\) => ./staging/src/.*#\1#p' "$upstream_mod")
go_line=$(sed -n 's/^go \(.*\)/\1/p' "$upstream_mod")
{
  echo "module skiff.local/conformance"
  echo
  echo "go $go_line"
  echo
  echo "require k8s.io/kubernetes $k8s_version"
  echo
  echo "replace ("
  for m in $staging; do echo "	$m => $m $client_go"; done
  echo ")"
} >go.mod
# Importing the main packages pins them (and their dependencies) in go.mod/go.sum;
# ginkgo comes at the version k8s.io/kubernetes requires.
cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "github.com/onsi/ginkgo/v2/ginkgo"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/test/e2e"
	_ "k8s.io/kubernetes/test/images/agnhost"
	_ "k8s.io/kubernetes/test/images/nonewprivs"
)
GO
go mod tidy >/dev/null 2>&1 || go mod tidy
nice go test -c -vet=off -o "$cache/e2e.test.tmp" k8s.io/kubernetes/test/e2e
mv "$cache/e2e.test.tmp" "$cache/e2e.test"
nice go build -o "$cache/ginkgo" github.com/onsi/ginkgo/v2/ginkgo
# kubectl reports its version from these variables (placeholders otherwise).
ldflags=""
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ldflags="$ldflags -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$(echo "$k8s_version" | cut -d. -f2) -X $pkg.gitTreeState=clean"
done
nice go build -ldflags "$ldflags" -o "$cache/kubectl" k8s.io/kubernetes/cmd/kubectl
# The image programs are static, as upstream builds them.
CGO_ENABLED=0 nice go build -o "$cache/agnhost" k8s.io/kubernetes/test/images/agnhost
CGO_ENABLED=0 nice go build -o "$cache/nnp" k8s.io/kubernetes/test/images/nonewprivs
go list -m -f '{{.Dir}}' k8s.io/kubernetes >"$cache/k8s-src"
echo "$recipe" >"$cache/recipe"
echo "$cache"
