#!/usr/bin/env bash
# Installs what Skiff needs from the OS: containerd + runc + CNI plugins (the node's
# container runtime), nftables/iptables (service rules), iproute2 (routes, test
# namespaces) and etcd-server (the storage tests also run against an external etcd).
# Idempotent; run as root. Go itself must already be installed (see README).
set -euo pipefail

pkgs=(containerd runc containernetworking-plugins nftables iptables iproute2 etcd-server ca-certificates)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's etcd-server package starts a system etcd on 2379; Skiff's tests start their
# own on free ports, so keep the system one out of the way.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
  systemctl disable --now etcd >/dev/null 2>&1 || true
fi
echo "install-deps: ok (${missing[*]:-nothing new})"
