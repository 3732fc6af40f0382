#!/usr/bin/env bash
# Builds what the real node runs besides the Kubernetes binaries (build-kube.sh builds the kubelet
# and kube-proxy with the rest) and caches it in
#   $MERIDIAN_CACHE/real-node/bin/   (default: <repo>/.cache)
#   containerd, containerd-shim-runc-v2, ctr  from the containerd v2 Go module (containerd/go.mod)
#   coredns                                   from the CoreDNS Go module (coredns/go.mod)
#   pause                                     from build/pause/linux/pause.c in the k8s.io/kubernetes
#                                             module that kube/go.mod pins (gcc, static)
# runc and the CNI plugins come from Debian (runc, containernetworking-plugins; .ci/run installs them).
# Idempotent: if the cache matches the pinned modules, does nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
cache=${MERIDIAN_CACHE:-$repo/.cache}
out="$cache/real-node/bin"
bins=(containerd containerd-shim-runc-v2 ctr coredns pause)
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0

kube_version=$(tr -d '[:space:]' < "$here/../kube-version")
containerd_version=$(awk '$1 == "github.com/containerd/containerd/v2" { print $2 }' "$here/containerd/go.mod")
pause_c=$(cd "$here/../kube" && go mod download -json "k8s.io/kubernetes@$kube_version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')/build/pause/linux/pause.c
[ -f "$pause_c" ] || { echo "real-node build: $pause_c not found (go mod download k8s.io/kubernetes failed?)" >&2; exit 1; }
stamp=$(cat "$here/containerd/go.sum" "$here/coredns/go.sum" "$here/coredns/main.go" "$pause_c" "$0" | sha256sum | cut -c1-16)

complete=1
for b in "${bins[@]}"; do [ -x "$out/$b" ] || complete=0; done
if [ "$complete" = 1 ] && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "real-node build: containerd $containerd_version, CoreDNS and pause cached in $out"
  exit 0
fi

echo "real-node build: building containerd $containerd_version, CoreDNS and pause into $out"
start=$(date +%s)
rm -rf "$out.tmp"; mkdir -p "$out.tmp"
(
  cd "$here/containerd"
  pkg=github.com/containerd/containerd/v2
  # No btrfs, devmapper or zfs snapshotters: the node uses overlayfs, and these need cgo headers.
  go build -trimpath -tags "no_btrfs no_devmapper no_zfs" \
    -ldflags "-s -w -X $pkg/version.Version=$containerd_version -X $pkg/version.Revision=meridian-local" \
    -o "$out.tmp/" "$pkg/cmd/containerd" "$pkg/cmd/containerd-shim-runc-v2" "$pkg/cmd/ctr"
)
(cd "$here/coredns" && go build -trimpath -ldflags "-s -w" -o "$out.tmp/coredns" .)
gcc -Os -Wall -Werror -static -DVERSION="v3.10.1-meridian" -o "$out.tmp/pause" "$pause_c"
strip "$out.tmp/pause"
echo "$stamp" > "$out.tmp/.stamp"
rm -rf "$out"; mv "$out.tmp" "$out"
echo "real-node build: built in $(( $(date +%s) - start ))s"
