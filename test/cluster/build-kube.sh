#!/usr/bin/env bash
# Builds the local cluster's Kubernetes binaries (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, and for the real node
# kubelet and kube-proxy) from the official Go modules pinned in kube/go.mod,
# and caches them in
#   $MERIDIAN_CACHE/kubernetes/<version>/   (default: <repo>/.cache)
# Idempotent: if the cache for the pinned version is complete, does nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
version=$(tr -d '[:space:]' < "$here/kube-version")
cache=${MERIDIAN_CACHE:-$repo/.cache}
out="$cache/kubernetes/$version"
bins=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)

# The pin lives in two places that must agree: kube-version and kube/go.mod.
if ! grep -q "k8s.io/kubernetes $version\$" "$here/kube/go.mod"; then
  echo "build-kube: kube-version says $version but kube/go.mod requires another k8s.io/kubernetes; update both" >&2
  exit 1
fi

complete=1
for b in "${bins[@]}"; do [ -x "$out/$b" ] || complete=0; done
if [ "$complete" = 1 ] && [ -f "$out/.stamp" ] && cmp -s "$out/.stamp" "$here/kube/go.sum"; then
  echo "build-kube: Kubernetes $version binaries cached in $out"
  exit 0
fi

major=${version#v}; major=${major%%.*}
minor=${version#v*.}; minor=${minor%%.*}
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor \
 -X $pkg.gitTreeState=clean -X $pkg.gitCommit=meridian-local \
 -X $pkg.buildDate=1970-01-01T00:00:00Z"

echo "build-kube: building Kubernetes $version into $out (a cold build takes a long while on 2 cores)"
start=$(date +%s)
mkdir -p "$out.tmp"
cd "$here/kube"
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0
go build -trimpath -ldflags "$ldflags" -o "$out.tmp/" ./cmd/...
cp "$here/kube/go.sum" "$out.tmp/.stamp"
rm -rf "$out"; mv "$out.tmp" "$out"
echo "build-kube: built in $(( $(date +%s) - start ))s"
