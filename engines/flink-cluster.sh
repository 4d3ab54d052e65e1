#!/usr/bin/env bash
# A separate local Flink 1.19 session cluster: a JobManager and a TaskManager (2 slots), each its own
# JVM, bound to 127.0.0.1, run from the Flink classes inside the Flink job-server jar that
# engines/fetch.sh builds (Flink's own distribution, flink-dist, is not served by the registries here).
#
#   engines/flink-cluster.sh start     # REST endpoint http://127.0.0.1:8081 (submit with --flink_master=127.0.0.1:8081)
#   engines/flink-cluster.sh status    # TaskManagers, slots, jobs (Flink's REST API)
#   engines/flink-cluster.sh stop
#
# Settings: CORPUSFLOW_FLINK_REST_PORT (8081), CORPUSFLOW_FLINK_RPC_PORT (6123),
# CORPUSFLOW_FLINK_SLOTS (2). Logs and pid files under $CORPUSFLOW_ENGINES/flink-cluster.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"
[ -s "$FLINK_JOB_SERVER_JAR" ] || { echo "no $FLINK_JOB_SERVER_JAR: run engines/fetch.sh" >&2; exit 2; }
dir="${CORPUSFLOW_FLINK_CLUSTER:-$ENGINES_HOME/flink-cluster}"
rest="${CORPUSFLOW_FLINK_REST_PORT:-8081}"
rpc="${CORPUSFLOW_FLINK_RPC_PORT:-6123}"
slots="${CORPUSFLOW_FLINK_SLOTS:-2}"
# The add-opens Flink's own launch scripts pass on Java 17 (env.java.opts.all in Flink 1.19's config).
opens=(--add-exports=java.base/sun.net.util=ALL-UNNAMED --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED
       --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED
       --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED
       --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
       --add-opens=java.base/java.text=ALL-UNNAMED --add-opens=java.base/java.time=ALL-UNNAMED
       --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
       --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED)

rest_get() {  # GET a path of the REST API and print the JSON, or fail
  python - "$rest" "$1" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}{sys.argv[2]}", timeout=5) as r:
    print(r.read().decode())
PY
}

resource_params() {  # JVM flags and -D settings for JM|TM, computed as Flink's own jobmanager.sh/taskmanager.sh do
  java -cp "$FLINK_JOB_SERVER_JAR" org.apache.flink.runtime.util.bash.BashJavaUtils "GET_$1_RESOURCE_PARAMS" \
    --configDir "$dir/conf" 2>/dev/null | sed -n 's/^BASH_JAVA_UTILS_EXEC_RESULT://p'
}

start_jvm() {  # start_jvm NAME JM|TM MAIN_CLASS: a daemon JVM with its pid file and log
  local name="$1" kind="$2" main="$3" params jvm dyn
  params="$(resource_params "$kind")"
  jvm="$(sed -n 1p <<<"$params")"
  dyn="$(sed -n 2p <<<"$params")"
  [ -n "$jvm" ] || { echo "could not compute Flink's $kind memory settings" >&2; exit 1; }
  # shellcheck disable=SC2086  # the JVM flags and -D settings are word lists
  nohup java "${opens[@]}" $jvm -cp "$FLINK_JOB_SERVER_JAR" "$main" --configDir "$dir/conf" $dyn \
    > "$dir/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$dir/pids/$name.pid"
}

case "${1:-}" in
  start)
    mkdir -p "$dir/conf" "$dir/logs" "$dir/pids" "$dir/tmp"
    cat > "$dir/conf/flink-conf.yaml" <<CONF
jobmanager.rpc.address: 127.0.0.1
jobmanager.rpc.port: $rpc
jobmanager.bind-host: 127.0.0.1
jobmanager.memory.process.size: 1024m
rest.address: 127.0.0.1
rest.bind-address: 127.0.0.1
rest.port: $rest
taskmanager.host: 127.0.0.1
taskmanager.bind-host: 127.0.0.1
taskmanager.numberOfTaskSlots: $slots
taskmanager.memory.process.size: 3072m
# A Beam batch job has many operators, each with its own exchanges: Flink's default network
# memory (10% of the process) fails it with "Insufficient number of network buffers".
taskmanager.memory.network.min: 512mb
taskmanager.memory.network.max: 512mb
parallelism.default: $slots
io.tmp.dirs: $dir/tmp
CONF
    start_jvm jobmanager JM org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint
    start_jvm taskmanager TM org.apache.flink.runtime.taskexecutor.TaskManagerRunner
    for _ in $(seq 1 90); do  # wait until the TaskManager has registered its slots
      n="$(rest_get /overview 2>/dev/null | python -c 'import json,sys; print(json.load(sys.stdin)["slots-total"])' 2>/dev/null || echo 0)"
      [ "$n" -ge "$slots" ] && break
      sleep 1
    done
    [ "${n:-0}" -ge "$slots" ] || { echo "Flink did not come up; see $dir/logs" >&2; exit 1; }
    echo "Flink session cluster at 127.0.0.1:$rest with $n slot(s) (REST http://127.0.0.1:$rest)"
    ;;
  stop)
    for name in taskmanager jobmanager; do
      f="$dir/pids/$name.pid"
      [ -f "$f" ] || continue
      pid="$(cat "$f")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$f"
    done
    ;;
  status)
    rest_get /overview
    ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
