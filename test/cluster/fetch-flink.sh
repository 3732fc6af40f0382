#!/usr/bin/env bash
# Fetches the pinned Apache Flink runtime from Maven Central into
#   $MERIDIAN_CACHE/flink/<version>/   (default: <repo>/.cache)
# laid out like a Flink home:
#   lib/      runtime jars (flink-runtime, flink-clients, flink-container, datagen and file connectors,
#             RocksDB state backend, Kubernetes HA (flink-kubernetes, in the official image's flink-dist),
#             log4j 2): what the official image's lib/ holds that jobs use
#   usrlib/   the job jar: flink-examples-streaming (TopSpeedWindowing runs forever with keyed window state)
#   opt/      Flink's S3 and Azure file-system plugins (flink-s3-fs-hadoop, flink-azure-fs-hadoop),
#             where the official image keeps its built-in plugins: a pod's ENABLE_BUILT_IN_PLUGINS
#             links them into plugins/ (the node simulator's Flink image does what the image's
#             entrypoint does)
#   plugins/  empty (plugins are enabled per pod)
#   SHA1SUMS  sha1 of every jar; re-checked on each run
# Maven Central has no flink-dist jar (it is assembled only for the binary tarball), so the runtime
# is resolved module by module with Maven, which checks every download against the .sha1 Maven
# Central publishes (--strict-checksums); the example jar is resolved by Maven too (dependency:copy),
# so every download honours the mirrors, proxies and credentials in the user's ~/.m2/settings.xml.
# Idempotent: a complete, unmodified cache is left alone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
version=$(tr -d '[:space:]' < "$here/flink-version")
cache=${MERIDIAN_CACHE:-$repo/.cache}
out="$cache/flink/$version"
log4j=2.25.3 # flink-parent's log4j.version for Flink 2.3.0
dep_plugin=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
start=$(date +%s)

pom=$(cat <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.meridian.test</groupId>
  <artifactId>flink-runtime-classpath</artifactId>
  <version>$version</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.flink</groupId><artifactId>flink-clients</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.flink</groupId><artifactId>flink-streaming-java</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.flink</groupId><artifactId>flink-container</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.flink</groupId><artifactId>flink-connector-datagen</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.flink</groupId><artifactId>flink-connector-files</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.flink</groupId><artifactId>flink-statebackend-rocksdb</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.flink</groupId><artifactId>flink-kubernetes</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$log4j</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-api</artifactId><version>$log4j</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$log4j</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-1.2-api</artifactId><version>$log4j</version></dependency>
  </dependencies>
</project>
POM
)

opt_jars=("flink-s3-fs-hadoop" "flink-azure-fs-hadoop")

# Cached, unmodified, and fetched with the same dependency list: nothing to do.
if [ -f "$out/.complete" ] && [ "$(cat "$out/pom.xml" 2>/dev/null)" = "$pom" ] &&
  [ "$(cat "$out/opt.list" 2>/dev/null)" = "${opt_jars[*]}" ] &&
  (cd "$out" && sha1sum --quiet -c SHA1SUMS) >/dev/null 2>&1; then
  echo "fetch-flink: Flink $version cached in $out ($(( $(date +%s) - start ))s)"
  exit 0
fi

echo "fetch-flink: fetching Flink $version with Maven (Maven Central or your settings.xml mirror) into $out"
work="$out.tmp"
rm -rf "$work"
mkdir -p "$work/lib" "$work/usrlib" "$work/opt" "$work/plugins" "$work/log"
printf '%s\n' "$pom" > "$work/pom.xml"

mvn=(mvn --batch-mode --no-transfer-progress --strict-checksums -Dmaven.repo.local="$cache/m2" -f "$work/pom.xml")
"${mvn[@]}" "$dep_plugin:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$work/lib" >"$work/mvn.log" 2>&1 ||
  { tail -40 "$work/mvn.log" >&2; echo "fetch-flink: resolving the Flink runtime failed; full log in $work/mvn.log" >&2; exit 1; }
# The example jar alone, not its dependencies (dependency:copy is not transitive): the job runs on lib/.
# Flink does not publish its parent, org.apache.flink:flink-examples (a build-only aggregator), and
# Maven reads the jar's pom (for relocations) before it resolves the jar, so it is given a stand-in
# in the local repository: the real one's coordinates and parent, nothing else. A file the local
# repository holds without a _remote.repositories entry counts as installed and is never downloaded.
stub="$cache/m2/org/apache/flink/flink-examples/$version"
mkdir -p "$stub"
rm -f "$stub"/*.lastUpdated "$stub/_remote.repositories"
cat >"$stub/flink-examples-$version.pom" <<STUB
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent><groupId>org.apache.flink</groupId><artifactId>flink-parent</artifactId><version>$version</version></parent>
  <artifactId>flink-examples</artifactId>
  <packaging>pom</packaging>
</project>
STUB
"${mvn[@]}" "$dep_plugin:copy" -Dartifact="org.apache.flink:flink-examples-streaming:$version:jar" \
  -DoutputDirectory="$work/usrlib" >>"$work/mvn.log" 2>&1 ||
  { tail -40 "$work/mvn.log" >&2; echo "fetch-flink: resolving the example job jar failed; full log in $work/mvn.log" >&2; exit 1; }

# The built-in plugins: self-contained (shaded) jars, so without their dependencies.
for jar in "${opt_jars[@]}"; do
  "${mvn[@]}" "$dep_plugin:copy" -Dartifact="org.apache.flink:$jar:$version:jar" \
    -DoutputDirectory="$work/opt" >>"$work/mvn.log" 2>&1 ||
    { tail -40 "$work/mvn.log" >&2; echo "fetch-flink: resolving the plugin $jar failed; full log in $work/mvn.log" >&2; exit 1; }
done
printf '%s' "${opt_jars[*]}" > "$work/opt.list"

# slf4j must bind to log4j 2 only; anything else on the classpath would swallow the log.
rm -f "$work"/lib/slf4j-reload4j-*.jar "$work"/lib/slf4j-log4j12-*.jar "$work"/lib/logback-*.jar
(cd "$work" && find lib usrlib opt -name '*.jar' -print0 | sort -z | xargs -0 sha1sum > SHA1SUMS)
touch "$work/.complete"
rm -rf "$out"
mv "$work" "$out"
echo "fetch-flink: $(wc -l < "$out/SHA1SUMS") jars, $(du -sh "$out" | cut -f1) in $out ($(( $(date +%s) - start ))s)"
