#!/usr/bin/env bash
# The README's two commands:
#   bash test/dev.sh demo   # the whole system on a local cluster and control plane
#   bash test/dev.sh test   # type-check, lint and every test, then the real-node suite
# Both first install what they need (idempotent, cached in .cache/): npm packages with
# Node 24, the Kubernetes binaries built from the official Go modules, Apache Flink (with its S3
# plugin) and S3Proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-}
case "$what" in demo|test|setup) ;; *) echo "usage: bash test/dev.sh demo|test|setup" >&2; exit 2 ;; esac
t0=$(date +%s)
step() { printf '\n== %s (+%ss)\n' "$*" "$(( $(date +%s) - t0 ))"; }

missing=()
for c in openssl go java mvn gcc; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "missing tools: ${missing[*]} (Debian: apt-get install openssl golang openjdk-17-jre-headless maven gcc)" >&2
  exit 1
fi

if [ ! -x node_modules/.bin/node ] || ! cmp -s package-lock.json node_modules/.package-lock.json.meridian 2>/dev/null; then
  step "npm packages (Node 24 comes from the pinned 'node' devDependency)"
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.package-lock.json.meridian
fi
export PATH="$PWD/node_modules/.bin:$PATH"
node --version | grep -q '^v24\.' || { echo "expected Node 24 from node_modules/.bin, got $(node --version)" >&2; exit 1; }

step "Kubernetes binaries"
bash test/cluster/build-kube.sh
step "Real node runtime (containerd v2, CoreDNS, pause; runc and CNI plugins come from Debian)"
bash test/cluster/real-node/build.sh
if [ -f test/cluster/fetch-flink.sh ]; then
  step "Apache Flink runtime"
  bash test/cluster/fetch-flink.sh
fi
step "S3Proxy (the tests' S3-compatible server)"
bash test/cluster/fetch-s3proxy.sh

case "$what" in
  demo) step "demo"; exec npm run demo ;;
  test)
    step "npm test"; npm test
    # The real node needs root and runs one at a time (docs/testing.md); MERIDIAN_REAL_NODE=0 leaves it out.
    if [ "${MERIDIAN_REAL_NODE:-1}" != 0 ]; then step "real-node suite"; npm run test:real-node; fi
    step "tests done" ;;
  setup) step "set up" ;;
esac
