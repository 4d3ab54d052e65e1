#!/usr/bin/env bash
# A local Spark standalone cluster from the pyspark package: one master and N workers (default 2,
# one core and 2 GiB each), each a separate JVM process, all bound to 127.0.0.1.
#
#   engines/spark-cluster.sh start     # master spark://127.0.0.1:7077, web UI http://127.0.0.1:8080
#   engines/spark-cluster.sh status    # the master's view: workers ALIVE, cores, running apps
#   engines/spark-cluster.sh stop
#
# Logs, pid files and the workers' scratch space are under $CORPUSFLOW_ENGINES/spark-cluster.
# Settings: CORPUSFLOW_SPARK_MASTER_PORT, CORPUSFLOW_SPARK_WEBUI_PORT, CORPUSFLOW_SPARK_WORKERS,
# CORPUSFLOW_SPARK_WORKER_CORES, CORPUSFLOW_SPARK_WORKER_MEMORY. Run engines/fetch.sh first.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"
[ -x "$SPARK_HOME/bin/spark-class" ] || { echo "no Spark at $SPARK_HOME: run engines/fetch.sh" >&2; exit 2; }
export SPARK_LOG_DIR="$SPARK_CLUSTER_DIR/logs" SPARK_PID_DIR="$SPARK_CLUSTER_DIR/pids"
export SPARK_LOCAL_IP=127.0.0.1 SPARK_MASTER_HOST=127.0.0.1 SPARK_IDENT_STRING=corpusflow
# Every application copies the job-server jar (~260 MB) into each worker's work dir: remove the
# folders of finished applications after 10 minutes (checked every 5) instead of Spark's 7 days.
export SPARK_WORKER_OPTS="-Dspark.worker.cleanup.enabled=true -Dspark.worker.cleanup.interval=300 -Dspark.worker.cleanup.appDataTtl=600"
daemon="$SPARK_HOME/sbin/spark-daemon.sh"
master_class=org.apache.spark.deploy.master.Master
worker_class=org.apache.spark.deploy.worker.Worker

alive_workers() {  # how many workers the master reports ALIVE (its JSON status page)
  python - "$SPARK_MASTER_WEBUI_PORT" <<'PY'
import json, sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/json/", timeout=5) as r:
        print(sum(w.get("state") == "ALIVE" for w in json.load(r).get("workers", [])))
except OSError:
    print(0)
PY
}

case "${1:-}" in
  start)
    mkdir -p "$SPARK_LOG_DIR" "$SPARK_PID_DIR"
    "$daemon" start "$master_class" 1 --host 127.0.0.1 --port "$SPARK_MASTER_PORT" \
      --webui-port "$SPARK_MASTER_WEBUI_PORT"
    for i in $(seq 1 "$SPARK_WORKERS"); do
      mkdir -p "$SPARK_CLUSTER_DIR/work-$i"
      "$daemon" start "$worker_class" "$i" --host 127.0.0.1 --cores "$SPARK_WORKER_CORES" \
        --memory "$SPARK_WORKER_MEMORY" --work-dir "$SPARK_CLUSTER_DIR/work-$i" \
        --webui-port $((SPARK_MASTER_WEBUI_PORT + i)) "$SPARK_MASTER_URL"
    done
    for _ in $(seq 1 60); do  # wait until every worker has registered with the master
      [ "$(alive_workers)" -ge "$SPARK_WORKERS" ] && break
      sleep 1
    done
    n="$(alive_workers)"
    [ "$n" -ge "$SPARK_WORKERS" ] || { echo "only $n of $SPARK_WORKERS workers registered; see $SPARK_LOG_DIR" >&2; exit 1; }
    echo "Spark master $SPARK_MASTER_URL with $n workers (web UI http://127.0.0.1:$SPARK_MASTER_WEBUI_PORT)"
    ;;
  stop)
    for i in $(seq 1 "$SPARK_WORKERS"); do "$daemon" stop "$worker_class" "$i" || true; done
    "$daemon" stop "$master_class" 1 || true
    ;;
  status)
    python - "$SPARK_MASTER_WEBUI_PORT" <<'PY'
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/json/", timeout=5) as r:
    s = json.load(r)
print(f"master {s['url']} {s['status']}: {s['aliveworkers']} worker(s) alive, {s['cores']} core(s), "
      f"{len(s['activeapps'])} running app(s), {len(s['completedapps'])} completed")
for w in s["workers"]:
    print(f"  worker {w['id']} {w['state']} cores {w['coresused']}/{w['cores']} memory {w['memoryused']}/{w['memory']} MB")
PY
    ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
