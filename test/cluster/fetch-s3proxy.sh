#!/usr/bin/env bash
# Fetches the pinned S3Proxy (org.gaul:s3proxy, its self-contained jar-with-dependencies) from Maven
# Central into
#   $MERIDIAN_CACHE/s3proxy/<version>/s3proxy.jar   (default: <repo>/.cache)
# the S3-compatible server the tests start on loopback with its file-system backend, so Flink's
# checkpoints and savepoints travel over the real S3 API (test/cluster/s3/). Resolved by Maven
# (dependency:copy, --strict-checksums), so the mirrors, proxies and credentials of the user's
# ~/.m2/settings.xml are honoured. Idempotent: a complete, unmodified cache is left alone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
version=$(tr -d '[:space:]' < "$here/s3proxy-version")
cache=${MERIDIAN_CACHE:-$repo/.cache}
out="$cache/s3proxy/$version"
dep_plugin=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
start=$(date +%s)

if [ -f "$out/.complete" ] && (cd "$out" && sha1sum --quiet -c SHA1SUMS) >/dev/null 2>&1; then
  echo "fetch-s3proxy: S3Proxy $version cached in $out ($(( $(date +%s) - start ))s)"
  exit 0
fi

echo "fetch-s3proxy: fetching S3Proxy $version with Maven (Maven Central or your settings.xml mirror) into $out"
work="$out.tmp"
rm -rf "$work"
mkdir -p "$work"
# dependency:copy needs a project only for its own settings; an empty pom in the work dir will do.
cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.meridian.test</groupId>
  <artifactId>s3proxy-fetch</artifactId>
  <version>$version</version>
  <packaging>pom</packaging>
</project>
POM
mvn --batch-mode --no-transfer-progress --strict-checksums -Dmaven.repo.local="$cache/m2" -f "$work/pom.xml" \
  "$dep_plugin:copy" -Dartifact="org.gaul:s3proxy:$version:jar:jar-with-dependencies" \
  -DoutputDirectory="$work" -Dmdep.stripVersion=true -Dmdep.stripClassifier=true >"$work/mvn.log" 2>&1 ||
  { tail -40 "$work/mvn.log" >&2; echo "fetch-s3proxy: resolving S3Proxy failed; full log in $work/mvn.log" >&2; exit 1; }
(cd "$work" && sha1sum s3proxy.jar > SHA1SUMS)
touch "$work/.complete"
rm -rf "$out"
mv "$work" "$out"
echo "fetch-s3proxy: $(du -sh "$out/s3proxy.jar" | cut -f1) in $out ($(( $(date +%s) - start ))s)"
