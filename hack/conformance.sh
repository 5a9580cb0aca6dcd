#!/usr/bin/env bash
# Runs the upstream Kubernetes [Conformance] suite against Skiff and records the
# result in docs/conformance.md.
#
#   hack/conformance.sh [--focus REGEX] [--skip REGEX] [--procs N] [--nodes N]
#                       [--skip-build] [--report-dir DIR] [--no-doc]
#
# 1. builds e2e.test, ginkgo and kubectl of the Kubernetes version Skiff serves
#    (hack/conformance-build.sh; cached in ~/.cache/skiff-conformance/<version>),
#    and the e2e images under their upstream names (test/images/build -set conformance);
# 2. starts `skiff server` and agents on the network-namespace test bed
#    (test/conformance/cluster), each node importing the images;
# 3. runs ginkgo in parallel with --focus (default every [Conformance] test);
# 4. writes JUnit to the report dir and the summary to docs/conformance.md
#    (test/conformance/summarize);
# 5. tears the cluster down (also on failure or Ctrl-C): workloads, processes,
#    shims, namespaces, bridge, nftables tables, data.
#
# --skip-build reuses the cached binaries and images. Needs root and the packages
# of hack/install-deps.sh. Starts real nodes: do not run two at once on one machine.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

focus='\[Conformance\]'
skip=''
procs=3
nodes=3
skip_build=0
report=''
doc=1
while [ $# -gt 0 ]; do
  case "$1" in
  --focus) focus=$2; shift 2 ;;
  --skip) skip=$2; shift 2 ;;
  --procs) procs=$2; shift 2 ;;
  --nodes) nodes=$2; shift 2 ;;
  --skip-build) skip_build=1; shift ;;
  --report-dir) report=$2; shift 2 ;;
  --no-doc) doc=0; shift ;;
  -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
  *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "conformance: needs root (network namespaces, containerd)" >&2; exit 1; }

client_go=$(go list -m -f '{{.Version}}' k8s.io/client-go)
k8s_version="v1.${client_go#v0.}"
cache="${SKIFF_CONFORMANCE_CACHE:-$HOME/.cache/skiff-conformance}/$k8s_version"
report=${report:-$repo/_output/conformance/$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$report"
report=$(cd "$report" && pwd)
work=$(mktemp -d /tmp/skiff-conformance.XXXXXX)

# The commit under test, taken before anything is built from the tree.
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!docs/conformance.md' || echo "+dirty")
echo "== conformance: Kubernetes $k8s_version suite, focus '$focus', report $report"
if [ "$skip_build" = 0 ]; then
  start=$(date +%s)
  ./hack/conformance-build.sh
  echo "== images"
  nice go run ./test/images/build -set conformance -out "$cache/images.tmp" \
    -agnhost "$cache/agnhost" -nonewprivs "$cache/nnp" -k8s-src "$(cat "$cache/k8s-src")" \
    -cache "$cache/debs"
  rm -rf "$cache/images" && mv "$cache/images.tmp" "$cache/images"
  echo "== build took $(( $(date +%s) - start ))s"
fi
for f in e2e.test ginkgo kubectl images; do
  [ -e "$cache/$f" ] || { echo "conformance: $cache/$f missing: run without --skip-build" >&2; exit 1; }
done
./hack/build.sh "$work/skiff" >/dev/null
go build -o "$work/cluster" ./test/conformance/cluster
go build -o "$work/summarize" ./test/conformance/summarize

cluster_pid=''
teardown() {
  if [ -n "$cluster_pid" ]; then
    echo "== tearing the cluster down"
    kill -TERM "$cluster_pid" 2>/dev/null || true
    wait "$cluster_pid" || true
  fi
  rm -rf "$work"
}
trap teardown EXIT
trap 'exit 130' INT TERM

echo "== cluster ($nodes nodes)"
mkdir -p "$report/logs"
"$work/cluster" -bin "$work/skiff" -images "$cache/images" -nodes "$nodes" \
  -kubeconfig "$work/kubeconfig" -logs "$report/logs" >"$report/cluster.log" 2>&1 &
cluster_pid=$!
for _ in $(seq 600); do
  [ -e "$work/kubeconfig.ready" ] && break
  kill -0 "$cluster_pid" 2>/dev/null || { cat "$report/cluster.log"; echo "conformance: cluster failed to start" >&2; exit 1; }
  sleep 1
done
[ -e "$work/kubeconfig.ready" ] || { echo "conformance: cluster not ready in 10 minutes" >&2; exit 1; }
cat "$work/kubeconfig.ready"

echo "== ginkgo --procs $procs"
start=$(date +%s)
set +e
(
  cd "$report"
  PATH="$cache:$PATH" nice "$cache/ginkgo" --procs="$procs" --timeout=24h --no-color \
    "$cache/e2e.test" -- \
    --kubeconfig="$work/kubeconfig" --provider=skeleton --kubectl-path="$cache/kubectl" \
    --ginkgo.focus="$focus" ${skip:+--ginkgo.skip="$skip"} \
    --report-dir="$report" --dump-logs-on-failure=false
) 2>&1 | tee "$report/ginkgo.log" | grep -E '^(•|Ran |PASS|FAIL|\[FAIL\]|  \[FAIL\])' || true
set -e
wall=$(( $(date +%s) - start ))
wall_h=$(printf '%dm%02ds' $((wall / 60)) $((wall % 60)))
echo "== ginkgo took $wall_h"

junit=$(ls "$report"/junit_*.xml 2>/dev/null | head -1)
[ -n "$junit" ] || { echo "conformance: no JUnit report in $report (see ginkgo.log)" >&2; exit 1; }
target=docs/conformance.md
[ "$doc" = 1 ] || target="$report/conformance.md"
"$work/summarize" -junit "$junit" -focus "$focus" -k8s "$k8s_version" -commit "$commit" \
  -wall "$wall_h" -doc "$target" -failures "$report/failures.tsv"
echo "== summary in $target, failures in $report/failures.tsv"
