#!/usr/bin/env bash
# A Spark standalone cluster on this machine, from the pip-installed pyspark: one master and two
# workers (1 core, 2g each), everything bound to 127.0.0.1. Used by tests/test_cluster.py and by
# hand to try a spark-submit run the way the data center runs it.
#
#   scripts/cluster.sh start    start, then wait until both workers have registered
#   scripts/cluster.sh stop     stop by PID (each daemon and the executors it started)
#   scripts/cluster.sh status   what is running, and the master's URL
#
# Settings (environment): VAXCLEAN_CLUSTER_DIR (run folder: logs, PID files, work dirs; default
# out/cluster), VAXCLEAN_MASTER_PORT (7077), VAXCLEAN_MASTER_UI_PORT (8080),
# VAXCLEAN_WORKER_UI_PORTS ("8081 8082"), VAXCLEAN_WORKER_MEMORY (2g), VAXCLEAN_CLUSTER_TIMEOUT
# (seconds to wait for registration, 120). Other engineers run Spark on the same machine, so
# ports can be moved and memory stays small.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-.venv/bin/python}
RUN_DIR=${VAXCLEAN_CLUSTER_DIR:-out/cluster}
MASTER_PORT=${VAXCLEAN_MASTER_PORT:-7077}
MASTER_UI_PORT=${VAXCLEAN_MASTER_UI_PORT:-8080}
read -r -a WORKER_UI_PORTS <<<"${VAXCLEAN_WORKER_UI_PORTS:-8081 8082}"
WORKER_MEMORY=${VAXCLEAN_WORKER_MEMORY:-2g}
TIMEOUT=${VAXCLEAN_CLUSTER_TIMEOUT:-120}
HOST=127.0.0.1
MASTER_URL="spark://$HOST:$MASTER_PORT"
DAEMONS=(master worker1 worker2)

die() {
  echo "cluster: $*" >&2
  exit 2
}

mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)

spark_home() {
  # The pip-installed pyspark package is a complete Spark distribution (bin/, jars/).
  [ -x "$PY" ] || die "$PY not found; run scripts/setup.sh first (or set PYTHON)"
  "$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))'
}

pid_of() {
  local file="$RUN_DIR/$1.pid"
  [ -s "$file" ] && cat "$file"
}

alive() {
  # The PID file holds our own process; kill -0 only asks whether it still exists.
  local pid
  pid=$(pid_of "$1") || return 1
  kill -0 "$pid" 2>/dev/null
}

port_busy() {
  # Connecting succeeds only if something listens there; bash's /dev/tcp needs no extra tool.
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

master_json() {
  # The master's UI serves its state as JSON; loopback only.
  curl --silent --show-error --max-time 5 "http://$HOST:$MASTER_UI_PORT/json/"
}

alive_workers() {
  master_json 2>/dev/null | "$PY" -c '
import json, sys
try:
    state = json.load(sys.stdin)
except ValueError:
    print(0)
else:
    print(sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE"))
' 2>/dev/null || echo 0
}

launch() {
  # launch NAME ARGS...: run spark-class in its own session, so that stop can signal the daemon
  # together with every process it started (a worker's executors), by the PID recorded here.
  local name=$1
  shift
  local log="$RUN_DIR/$name.log" pidfile="$RUN_DIR/$name.pid"
  # setsid makes the child a session (and process group) leader; it writes its own PID and then
  # execs spark-class, which execs java: the recorded PID is the JVM's and the group's.
  # shellcheck disable=SC2016 # $$ and $@ are the inner shell's, hence the single quotes
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidfile" \
    "$SPARK_HOME/bin/spark-class" "$@" >"$log" 2>&1 </dev/null &
  local waited=0
  until [ -s "$pidfile" ]; do
    sleep 0.1
    waited=$((waited + 1))
    [ "$waited" -lt 100 ] || die "$name did not start; see $log"
  done
}

stop_one() {
  local name=$1 pid
  pid=$(pid_of "$name") || return 0
  if kill -0 "$pid" 2>/dev/null; then
    # TERM lets a worker kill its executors and the master close cleanly; KILL after 20 s.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "cluster: $name (pid $pid) ignored TERM; killing it" >&2
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  # Anything left in the daemon's process group (an executor mid-shutdown) goes too.
  if pgrep -g "$pid" >/dev/null 2>&1; then
    sleep 1
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$RUN_DIR/$name.pid"
  echo "cluster: stopped $name (pid $pid)"
}

cmd_stop() {
  local name
  for name in worker2 worker1 master; do
    stop_one "$name"
  done
}

cmd_start() {
  local name
  for name in "${DAEMONS[@]}"; do
    if alive "$name"; then
      die "$name is already running (pid $(pid_of "$name")); run '$0 stop' first"
    fi
  done
  [ ${#WORKER_UI_PORTS[@]} -eq 2 ] || die "VAXCLEAN_WORKER_UI_PORTS must name two ports"
  local port
  for port in "$MASTER_PORT" "$MASTER_UI_PORT" "${WORKER_UI_PORTS[@]}"; do
    if port_busy "$port"; then
      die "port $port on $HOST is in use (another Spark?); free it or move ours with VAXCLEAN_MASTER_PORT, VAXCLEAN_MASTER_UI_PORT, VAXCLEAN_WORKER_UI_PORTS"
    fi
  done
  SPARK_HOME=$(spark_home)
  export SPARK_HOME
  # Everything on loopback: RPC endpoints and web UIs bind to SPARK_LOCAL_IP.
  export SPARK_LOCAL_IP=$HOST SPARK_MASTER_HOST=$HOST
  export SPARK_LOG_DIR="$RUN_DIR" SPARK_LOCAL_DIRS="$RUN_DIR/tmp"
  # The daemons themselves are small; the executors get their memory from the worker's share.
  export SPARK_DAEMON_MEMORY=${SPARK_DAEMON_MEMORY:-512m}
  # No REST submission server: it would take port 6066, which another cluster here may hold.
  export SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false ${SPARK_MASTER_OPTS:-}"
  # Don't pick up a conf/ folder of some other Spark install.
  export SPARK_CONF_DIR="$RUN_DIR/conf"
  mkdir -p "$SPARK_LOCAL_DIRS" "$SPARK_CONF_DIR" "$RUN_DIR/work1" "$RUN_DIR/work2"

  # If anything below fails, leave nothing running.
  trap 'cmd_stop >/dev/null 2>&1 || true' ERR

  launch master org.apache.spark.deploy.master.Master \
    --host "$HOST" --port "$MASTER_PORT" --webui-port "$MASTER_UI_PORT"
  local waited=0
  until master_json >/dev/null 2>&1; do
    alive master || { tail -n 30 "$RUN_DIR/master.log" >&2; die "the master exited; see $RUN_DIR/master.log"; }
    [ "$waited" -lt "$TIMEOUT" ] || { cmd_stop >/dev/null; die "the master did not answer on http://$HOST:$MASTER_UI_PORT within ${TIMEOUT}s"; }
    sleep 1
    waited=$((waited + 1))
  done

  local i
  for i in 1 2; do
    launch "worker$i" org.apache.spark.deploy.worker.Worker "$MASTER_URL" \
      --host "$HOST" --cores 1 --memory "$WORKER_MEMORY" \
      --webui-port "${WORKER_UI_PORTS[$((i - 1))]}" --work-dir "$RUN_DIR/work$i"
  done

  waited=0
  until [ "$(alive_workers)" -ge 2 ]; do
    for name in "${DAEMONS[@]}"; do
      alive "$name" || { tail -n 30 "$RUN_DIR/$name.log" >&2; cmd_stop >/dev/null; die "$name exited; see $RUN_DIR/$name.log"; }
    done
    if [ "$waited" -ge "$TIMEOUT" ]; then
      cmd_stop >/dev/null
      die "workers did not register with $MASTER_URL within ${TIMEOUT}s; see $RUN_DIR/*.log"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  trap - ERR
  echo "cluster: $MASTER_URL up with 2 workers (UI http://$HOST:$MASTER_UI_PORT, logs in $RUN_DIR)"
}

cmd_status() {
  local name rc=0
  for name in "${DAEMONS[@]}"; do
    if alive "$name"; then
      echo "$name: running (pid $(pid_of "$name"))"
    else
      echo "$name: stopped"
      rc=3
    fi
  done
  if alive master; then
    echo "master: $MASTER_URL, $(alive_workers) worker(s) registered"
  fi
  return "$rc"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
