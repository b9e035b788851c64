# scripts/brokers.d/cluster.sh: three-node clusters on loopback, sourced by scripts/brokers (issue 17).
#
#   scripts/brokers cluster up NAME          start (or finish starting) the three nodes of NAME's cluster
#   scripts/brokers cluster down [NAME...]   stop them (TERM, then KILL), keeping their data
#   scripts/brokers cluster kill NAME NODE   SIGKILL node NODE (1-3): a crash, not a clean shutdown
#   scripts/brokers cluster start NAME NODE  start node NODE again with its data; returns once it serves
#                                            and has rejoined the cluster
#   scripts/brokers cluster status [NAME]    one line per node
#   scripts/brokers cluster env              `export SWITCHBOARD_TEST_<NAME>_CLUSTER_URL=...` per running cluster
#   scripts/brokers cluster logs NAME NODE [-f]
#   scripts/brokers cluster reset NAME       stop the cluster and delete its data
#   scripts/brokers cluster leader NAME RES  the node (1-3) leading RES: a Kafka topic (partition 0), a NATS
#                                            stream, a RabbitMQ quorum queue
#   scripts/brokers cluster rabbitmqctl NODE ARGS   rabbitmqctl against node NODE of the RabbitMQ cluster
#   (`scripts/brokers up --cluster NAME` is the same as `cluster up NAME`.)
#
# NAME: kafka (KRaft, three combined broker+controller nodes, RF 3, min.insync.replicas 2), rabbitmq
# (three nodes, quorum queues), nats (three servers, JetStream R3). Clusters never start unless asked: a
# two-core machine runs the five single brokers, or a cluster beside them, not all three clusters at once.
# Each cluster lives in .brokers/cluster/NAME/nN and uses its own ports, so it runs beside the single
# brokers of `scripts/brokers up`.
#
# A broker's part is scripts/brokers.d/cluster-NAME.sh, which defines for node N (1..3):
#   cl_NAME_prepare            before any node starts: configuration of all three, storage format, ...
#   cl_NAME_start N            launch node N with `launch "$(cl_dir NAME N)/pid" LOG CMD...`, keeping its data
#   cl_NAME_ready N            exit 0 once node N serves clients and is a member of the cluster
#   cl_NAME_url                the cluster URL: every node's address, plus the replication options
#   cl_NAME_log N              node N's main log file
#   cl_NAME_leader RESOURCE    the node number leading RESOURCE
#   cl_NAME_formed             optional: after all three serve (e.g. join them), idempotent
#   cl_NAME_stopped            optional: after every node stopped (e.g. a shared helper daemon)

CLUSTER_NAMES=(kafka rabbitmq nats)
CLUSTER_NODES=(1 2 3)
CLUSTER_READY_TIMEOUT=180
declare -A CLUSTER_STOP_GRACE=([kafka]=30 [rabbitmq]=40 [nats]=15)

for _cl in "${CLUSTER_NAMES[@]}"; do
  # shellcheck source=/dev/null
  source "$HERE/cluster-$_cl.sh"
done
unset _cl

cl_dir() { echo "$BROKERS/cluster/$1/n$2"; }
is_cluster_name() { [[ " ${CLUSTER_NAMES[*]} " == *" $1 "* ]]; }
is_cluster_node() { [[ " ${CLUSTER_NODES[*]} " == *" $1 "* ]]; }
cl_check() {  # cl_check NAME [NODE]: die with usage on an unknown cluster or node
  is_cluster_name "${1:-}" || die "unknown cluster '${1:-}' (known: ${CLUSTER_NAMES[*]})"
  (($# < 2)) || is_cluster_node "$2" || die "unknown node '$2' of the $1 cluster (nodes: ${CLUSTER_NODES[*]})"
}
cl_lock() {  # one command at a time per cluster (fd 8; the single brokers' lock is fd 9, so the two never wait on each other)
  mkdir -p "$BROKERS/cluster"
  exec 8>"$BROKERS/cluster/.$1.lock"
  flock -w 600 8 || die "another scripts/brokers cluster command on $1 is still running (lock .brokers/cluster/.$1.lock)"
}
cl_hosts() {  # cl_hosts PORT_FN: "127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3", P from PORT_FN NODE
  local n out=""
  for n in "${CLUSTER_NODES[@]}"; do out+="127.0.0.1:$("$1" "$n"),"; done
  echo "${out%,}"
}
cl_has() { declare -F "$1" >/dev/null; }
cl_pid() { pidfile_pid "$(cl_dir "$1" "$2")/pid"; }

cl_wait_ready() {  # cl_wait_ready NAME NODE: until node NODE serves and has joined; fails when it dies or time runs out
  local c="$1" n="$2" deadline=$((SECONDS + CLUSTER_READY_TIMEOUT))
  while :; do
    "cl_${c}_ready" "$n" 2>/dev/null && return 0
    if ! cl_pid "$c" "$n" >/dev/null; then
      say "$c cluster: node $n exited before it served; last lines of $("cl_${c}_log" "$n"):"
      tail -n 40 "$("cl_${c}_log" "$n")" >&2 || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      say "$c cluster: node $n not ready after ${CLUSTER_READY_TIMEOUT}s; last lines of $("cl_${c}_log" "$n"):"
      tail -n 40 "$("cl_${c}_log" "$n")" >&2 || true
      return 1
    fi
    sleep 0.5
  done
}

cl_start_node() {  # cl_start_node NAME NODE: launch unless it runs (no wait)
  local c="$1" n="$2" pid
  if pid="$(cl_pid "$c" "$n")"; then say "$c cluster: node $n already running (pid $pid)"; return 0; fi
  mkdir -p "$(cl_dir "$c" "$n")"
  say "$c cluster: starting node $n"
  "cl_${c}_start" "$n"
}

cluster_up() {
  cl_check "$@"
  local c="$1" t0=$SECONDS n failed=()
  cl_lock "$c"
  install_all "$c" || die "install failed (see above)"
  "cl_${c}_prepare"
  for n in "${CLUSTER_NODES[@]}"; do cl_start_node "$c" "$n"; done
  for n in "${CLUSTER_NODES[@]}"; do cl_wait_ready "$c" "$n" || failed+=("$n"); done
  ((${#failed[@]} == 0)) || die "$c cluster: nodes not serving: ${failed[*]} (scripts/brokers cluster logs $c NODE)"
  if cl_has "cl_${c}_formed"; then "cl_${c}_formed" || die "$c cluster: the nodes serve but did not form one cluster"; fi
  printf '%-9s %s\n' "$c" "$("cl_${c}_url")"
  say "$c cluster: three nodes serving after $((SECONDS - t0))s"
}

cluster_down() { local c; for c in "$@"; do cl_check "$c"; done; cluster_stop "$@"; }

cluster_stop() {  # cluster_stop [NAME...]: stop the nodes of each cluster, under its lock
  local names=("$@") c n
  ((${#names[@]})) || names=("${CLUSTER_NAMES[@]}")
  for c in "${names[@]}"; do
    [[ -d "$BROKERS/cluster/$c" ]] || continue
    (
      cl_lock "$c"
      for n in "${CLUSTER_NODES[@]}"; do stop_pidfile "$(cl_dir "$c" "$n")/pid" "${CLUSTER_STOP_GRACE[$c]}" "$c cluster node $n"; done
      if cl_has "cl_${c}_stopped"; then "cl_${c}_stopped"; fi
    )
  done
}

cluster_kill() {
  (($# == 2)) || die "usage: scripts/brokers cluster kill NAME NODE"
  cl_check "$@"
  local c="$1" n="$2" pid i
  cl_lock "$c"
  pid="$(cl_pid "$c" "$n")" || die "$c cluster: node $n is not running"
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do group_alive "$pid" || break; sleep 0.1; done
  group_alive "$pid" && die "$c cluster: node $n (process group $pid) would not die"
  rm -f "$(cl_dir "$c" "$n")/pid"
  say "$c cluster: node $n killed (SIGKILL to process group $pid)"
}

cluster_start() {
  (($# == 2)) || die "usage: scripts/brokers cluster start NAME NODE"
  cl_check "$@"
  local c="$1" n="$2" t0=$SECONDS
  cl_lock "$c"
  [[ -f "$(cl_dir "$c" 1)/.prepared" ]] || die "$c cluster: not set up yet (scripts/brokers cluster up $c)"
  cl_start_node "$c" "$n"
  cl_wait_ready "$c" "$n" || die "$c cluster: node $n not serving after start"
  say "$c cluster: node $n serving again after $((SECONDS - t0))s"
}

cluster_status() {
  local names=("$@") c n pid state rc=0
  ((${#names[@]})) || names=("${CLUSTER_NAMES[@]}")
  for c in "${names[@]}"; do
    cl_check "$c"
    for n in "${CLUSTER_NODES[@]}"; do
      pid="$(cl_pid "$c" "$n" || true)"
      if [[ -z "$pid" ]]; then state="stopped"; rc=3
      elif "cl_${c}_ready" "$n" 2>/dev/null; then state="serving"
      else state="NOT READY"; rc=3; fi
      printf '%-9s node %s  %-10s %s\n' "$c" "$n" "$state" "${pid:+pid $pid}"
    done
  done
  return "$rc"
}

cluster_env() {
  local c v
  for c in "${CLUSTER_NAMES[@]}"; do
    # Only a cluster that runs (a node of it, at least): a stopped one's files would make its tests fail, not skip.
    cl_pid "$c" 1 >/dev/null || cl_pid "$c" 2 >/dev/null || cl_pid "$c" 3 >/dev/null || continue
    v="$("cl_${c}_url")"
    printf "export SWITCHBOARD_TEST_%s_CLUSTER_URL='%s'\n" "${c^^}" "$v"
  done
}

cluster_logs() {
  (($# >= 2)) || die "usage: scripts/brokers cluster logs NAME NODE [-f]"
  cl_check "$1" "$2"
  local f; f="$("cl_${1}_log" "$2")"
  [[ -f "$f" ]] || die "$1 cluster: node $2 has no log yet"
  if [[ "${3:-}" == "-f" ]]; then exec tail -n 50 -F "$f"; fi
  tail -n "${LINES_SHOWN:-100}" "$f"
}

cluster_reset() {
  (($# == 1)) || die "usage: scripts/brokers cluster reset NAME"
  cl_check "$1"
  cluster_down "$1"
  rm -rf "${BROKERS:?}/cluster/$1"
  say "$1 cluster: data deleted"
}

cmd_cluster() {
  local sub="${1:-}"; shift || true
  case "$sub" in
    up) (($# == 1)) || die "usage: scripts/brokers cluster up NAME"; cluster_up "$@" ;;
    down) cluster_down "$@" ;;
    kill) cluster_kill "$@" ;;
    start) cluster_start "$@" ;;
    status) cluster_status "$@" ;;
    env) cluster_env ;;
    logs) cluster_logs "$@" ;;
    reset) cluster_reset "$@" ;;
    leader) (($# == 2)) || die "usage: scripts/brokers cluster leader NAME RESOURCE"; cl_check "$1"; "cl_${1}_leader" "$2" ;;
    rabbitmqctl) (($# >= 1)) || die "usage: scripts/brokers cluster rabbitmqctl NODE ARGS"; cl_check rabbitmq "$1"; cl_rabbitmq_ctl "$@" ;;
    *) sed -n '2,/^# NAME/p' "$HERE/cluster.sh" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
}
