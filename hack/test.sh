#!/usr/bin/env bash
# Runs every Skiff test: unit, integration (in-process API server on embedded etcd,
# real client-go and kubectl) and, as root with the OS packages installed, the
# storage tests again against an external etcd from Debian's etcd-server package.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ]; then
  ./hack/install-deps.sh
fi

echo "== build"
go build ./...
go vet ./...
./hack/build.sh bin/skiff
export SKIFF_BIN="$PWD/bin/skiff"   # tests that run the binary use this one build

echo "== unit and integration tests"
go test -count=1 -timeout 20m ./...

ETCD_BIN=$(command -v etcd || true)
if [ -n "$ETCD_BIN" ]; then
  echo "== storage tests against an external etcd ($($ETCD_BIN --version | head -1))"
  dir=$(mktemp -d)
  port=$(( 20000 + RANDOM % 20000 ))
  "$ETCD_BIN" --data-dir "$dir" --listen-client-urls "http://127.0.0.1:$port" \
    --advertise-client-urls "http://127.0.0.1:$port" --listen-peer-urls "http://127.0.0.1:$((port+1))" \
    >"$dir/etcd.log" 2>&1 &
  etcd_pid=$!
  trap 'kill $etcd_pid 2>/dev/null || true; rm -rf "$dir"' EXIT
  for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.2
  done
  SKIFF_TEST_ETCD_ENDPOINTS="http://127.0.0.1:$port" go test -count=1 ./internal/storage/ ./internal/etcd/
else
  echo "== SKIPPED: storage tests against an external etcd (no etcd binary; run as root so hack/install-deps.sh installs etcd-server)"
fi
echo "== all tests passed"
