#!/bin/bash
# The test Flink image's entrypoint (test/images/flink-image.ts): the official image's commands as
# Meridian uses them — `standalone-job [--job-classname C ...]`, `jobmanager`, `taskmanager` — with
# its environment (JOB_MANAGER_RPC_ADDRESS, TASK_MANAGER_NUMBER_OF_TASK_SLOTS, FLINK_PROPERTIES,
# ENABLE_BUILT_IN_PLUGINS), then what bin/jobmanager.sh, standalone-job.sh and taskmanager.sh do:
# Flink's own BashJavaUtils turns the configuration into the JVM's memory flags and dynamic options,
# and the JVM runs the role's main class in the foreground as PID 1's replacement (exec), so it gets
# the kubelet's SIGTERM. Configuration is passed as -D options, never written: /opt/flink/conf is a
# read-only ConfigMap under Meridian.
set -euo pipefail
FLINK_HOME=${FLINK_HOME:-/opt/flink}
conf=${FLINK_CONF_DIR:-$FLINK_HOME/conf}
log4j=$conf/log4j-console.properties
[ -f "$log4j" ] || log4j=$FLINK_HOME/conf-default/log4j-console.properties

dynamic=()
[ -n "${JOB_MANAGER_RPC_ADDRESS:-}" ] && dynamic+=(-D "jobmanager.rpc.address=$JOB_MANAGER_RPC_ADDRESS")
[ -n "${TASK_MANAGER_NUMBER_OF_TASK_SLOTS:-}" ] && dynamic+=(-D "taskmanager.numberOfTaskSlots=$TASK_MANAGER_NUMBER_OF_TASK_SLOTS")
while IFS= read -r line; do
  [[ "$line" =~ ^[[:space:]]*([^:#[:space:]][^:]*):[[:space:]]*(.*)$ ]] || continue
  dynamic+=(-D "${BASH_REMATCH[1]}=${BASH_REMATCH[2]}")
done <<< "${FLINK_PROPERTIES:-}"

# As the official entrypoint: link each ENABLE_BUILT_IN_PLUGINS jar from opt/ into plugins/<name>/.
plugins=${ENABLE_BUILT_IN_PLUGINS:-}
for jar in ${plugins//;/ }; do
  [ -f "$FLINK_HOME/opt/$jar" ] || { echo "ENABLE_BUILT_IN_PLUGINS: $FLINK_HOME/opt/$jar does not exist" >&2; exit 1; }
  mkdir -p "$FLINK_HOME/plugins/${jar%.jar}"
  ln -fs "$FLINK_HOME/opt/$jar" "$FLINK_HOME/plugins/${jar%.jar}/$jar"
done

role=${1:-help}
case "$role" in
  standalone-job) main=org.apache.flink.container.entrypoint.StandaloneApplicationClusterEntryPoint; params=GET_JM_RESOURCE_PARAMS ;;
  jobmanager) main=org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint; params=GET_JM_RESOURCE_PARAMS ;;
  taskmanager) main=org.apache.flink.runtime.taskexecutor.TaskManagerRunner; params=GET_TM_RESOURCE_PARAMS ;;
  help) echo "usage: $0 (standalone-job [--job-classname C] [args] | jobmanager | taskmanager | <command>)"; exit 0 ;;
  *) exec "$@" ;;
esac
shift

classpath="$FLINK_HOME/lib/*"
results=()
while IFS= read -r line; do
  [[ "$line" == BASH_JAVA_UTILS_EXEC_RESULT:* ]] && results+=("${line#BASH_JAVA_UTILS_EXEC_RESULT:}")
done < <(java -Xmx128m -classpath "$classpath" org.apache.flink.runtime.util.bash.BashJavaUtils \
  "$params" --configDir "$conf" "${dynamic[@]}" 2>&1)
if [ "${#results[@]}" -lt 2 ]; then
  echo "Flink's BashJavaUtils could not compute the $role's memory from $conf/config.yaml" >&2
  java -Xmx128m -classpath "$classpath" org.apache.flink.runtime.util.bash.BashJavaUtils "$params" --configDir "$conf" "${dynamic[@]}" >&2 || true
  exit 1
fi
read -r -a memory <<< "${results[0]}"
read -r -a resources <<< "${results[1]}"

# The module flags Flink's shipped config.yaml puts into env.java.opts.all for Java 17 (Meridian's
# ConfigMap replaces that file, so they would otherwise be missing).
modules=(--add-exports=java.base/sun.net.util=ALL-UNNAMED --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED)
for p in java.lang java.net java.io java.nio sun.nio.ch java.lang.reflect java.text java.time java.util \
  java.util.concurrent java.util.concurrent.atomic java.util.concurrent.locks; do
  modules+=("--add-opens=java.base/$p=ALL-UNNAMED")
done
read -r -a extra <<< "${FLINK_ENV_JAVA_OPTS:-}"

echo "Starting $role: $main"
exec java "${memory[@]}" "${modules[@]}" "${extra[@]}" \
  "-Dlog.file=$FLINK_HOME/log/flink-$role-${HOSTNAME:-flink}.log" \
  "-Dlog4j.configuration=file:$log4j" "-Dlog4j.configurationFile=file:$log4j" \
  -classpath "$classpath" "$main" --configDir "$conf" "${resources[@]}" "${dynamic[@]}" "$@"
