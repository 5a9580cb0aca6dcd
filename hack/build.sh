#!/usr/bin/env bash
# Builds bin/skiff (or the path given). The embedded kubectl reports its version from client-go's build
# variables, so they are set here (a plain `go build` leaves them at placeholders and
# `skiff kubectl version` then fails to parse its own version).
set -euo pipefail
cd "$(dirname "$0")/.."
KUBE_VERSION=v$(go list -m -f '{{.Version}}' k8s.io/client-go | sed 's/^v0\./1./')
minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
ldflags="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ldflags="$ldflags -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
out=${1:-bin/skiff}
mkdir -p "$(dirname "$out")"
go build -ldflags "$ldflags" -o "$out" ./cmd/skiff
echo "built $out (kubectl $KUBE_VERSION)"
