#!/usr/bin/env bash
# A Docker Swarm of N nodes (default 3) on this one machine, and a registry every node trusts.
#
#   scripts/swarm-cluster.sh up [N]   make it; prints the settings to point JinaD at it
#   scripts/swarm-cluster.sh down     remove everything it made
#   scripts/swarm-cluster.sh run CMD  up, run CMD with the settings in its environment, down (always)
#
# Each node is a Docker Engine in its own network namespace (`jinadc-n<i>`), with its own host
# name, data root, exec root, socket, pid file and config; the nodes are joined over a private
# bridge (`jinadc0`, 172.31.213.0/24: the host is .1, node i is .1<i>) that the script creates and
# removes. The registry (Debian's docker-registry) listens on 172.31.213.1:5000 and every engine
# trusts it (--insecure-registry). Node 1 is the manager. Nothing touches the host's own engine.
# Needs root, iproute2, dockerd, docker-registry; the settings are also in $DIR/env.
set -euo pipefail

DIR="${JINAD_CLUSTER_DIR:-/tmp/jinad-cluster}"
BRIDGE=jinadc0
PREFIX=172.31.213
HOST_IP="$PREFIX.1"
REGISTRY="$HOST_IP:5000"

node_ip() { echo "$PREFIX.1$1"; }
sock() { echo "unix://$DIR/n$1/docker.sock"; }
dk() { local n="$1"; shift; docker -H "$(sock "$n")" "$@"; }

wait_for() { # seconds, description, command...
  local secs="$1" what="$2"; shift 2
  for _ in $(seq 1 $((secs * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "swarm-cluster: $what did not happen within ${secs}s" >&2
  return 1
}

missing() {
  local m=()
  for bin in ip iptables nsenter unshare dockerd docker docker-registry curl; do command -v "$bin" >/dev/null || m+=("$bin"); done
  [ "$(id -u)" = 0 ] || m+=("root")
  [ ${#m[@]} -eq 0 ] || { echo "swarm-cluster: needs ${m[*]}" >&2; return 1; }
  # Overlay networks between nodes are VXLAN: say so if this kernel has none.
  if ! ip link add jinadc-vxtest type vxlan id 4242 dstport 4789 2>/dev/null; then
    echo "swarm-cluster: this kernel cannot make VXLAN interfaces (overlay networks between nodes need them)" >&2
    return 3
  fi
  ip link del jinadc-vxtest
}

up() {
  local n="${1:-3}"
  missing
  [ -e "$DIR/env" ] && { echo "swarm-cluster: one is up already ($DIR); run '$0 down' first" >&2; return 1; }
  mkdir -p "$DIR"
  echo "$n" > "$DIR/nodes"
  ip link add "$BRIDGE" type bridge
  ip addr add "$HOST_IP/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # The host's engine sets the FORWARD policy to DROP, and bridged frames pass iptables
  # (br_netfilter): let the nodes reach each other across the bridge (removed by down).
  iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT -m comment --comment jinad-cluster

  mkdir -p "$DIR/registry"
  cat > "$DIR/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $DIR/registry/data
  delete:
    enabled: true
http:
  addr: $REGISTRY
EOF
  docker-registry serve "$DIR/registry/config.yml" > "$DIR/registry/log" 2>&1 &
  echo $! > "$DIR/registry/pid"

  for i in $(seq 1 "$n"); do
    local ns="jinadc-n$i"
    ip netns add "$ns"
    ip link add "jinadc-v$i" type veth peer name eth0 netns "$ns"
    ip link set "jinadc-v$i" master "$BRIDGE" up
    ip -n "$ns" addr add "$(node_ip "$i")/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" route add default via "$HOST_IP"
    mkdir -p "$DIR/n$i"
    echo '{}' > "$DIR/n$i/daemon.json"
    # Its own network namespace (nsenter: the mounts stay the host's, cgroups included) and its own host name.
    nsenter --net="/var/run/netns/$ns" unshare --uts sh -c "hostname jinad-node$i; exec dockerd \
      --config-file '$DIR/n$i/daemon.json' --data-root '$DIR/n$i/data' --exec-root '$DIR/n$i/exec' \
      --host '$(sock "$i")' --pidfile '$DIR/n$i/docker.pid' --insecure-registry '$REGISTRY' \
      --cgroup-parent 'jinadc-n$i' --bip 10.251.$i.1/24 --default-address-pool base=10.252.0.0/16,size=24" \
      > "$DIR/n$i/dockerd.log" 2>&1 &
  done
  wait_for 30 "the registry answering on $REGISTRY" curl -sf "http://$REGISTRY/v2/"
  for i in $(seq 1 "$n"); do wait_for 60 "node $i's engine answering" dk "$i" version; done

  # Nodes report every second (Swarm's default: 5 s), so a stopped node is seen down, and its tasks moved, sooner.
  dk 1 swarm init --advertise-addr "$(node_ip 1)" --listen-addr "$(node_ip 1):2377" --dispatcher-heartbeat 1s >/dev/null
  local token
  token="$(dk 1 swarm join-token -q worker)"
  for i in $(seq 2 "$n"); do dk "$i" swarm join --token "$token" --advertise-addr "$(node_ip "$i")" --listen-addr "$(node_ip "$i"):2377" "$(node_ip 1):2377" >/dev/null; done
  ready() { [ "$(dk 1 node ls --format '{{.Status}}' | grep -c Ready)" = "$n" ]; }
  wait_for 60 "all $n nodes Ready" ready
  for i in $(seq 1 "$n"); do dk 1 node update --label-add "jinad.node=n$i" "jinad-node$i" >/dev/null; done

  cat > "$DIR/env" <<EOF
DOCKER_HOST=$(sock 1)
JINAD_BACKEND=swarm
JINAD_REGISTRY=$REGISTRY
JINAD_CLUSTER_HOST_IP=$HOST_IP
JINAD_CLUSTER_DIR=$DIR
JINAD_CLUSTER_NODES=$n
JINAD_LOGS_HOST=$HOST_IP
JINAD_SWARM_LOG_ADDRESS=tcp://$HOST_IP:24224
EOF
  echo "swarm-cluster: $n nodes up (manager $(sock 1)), registry $REGISTRY. Point JinaD at it:"
  sed 's/^/  export /' "$DIR/env"
}

stop_pid() { # pidfile: SIGTERM, wait up to 20 s, then SIGKILL
  local f="$1" pid
  [ -f "$f" ] || return 0
  pid="$(cat "$f")"
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
}

down() {
  local n
  n="$(cat "$DIR/nodes" 2>/dev/null || echo 3)"
  # The engines stop side by side; only those stops are waited for (in `run` mode the engines and
  # the registry are this shell's children too, and a bare `wait` would wait for the registry).
  local stops=()
  for i in $(seq 1 "$n"); do
    stop_pid "$DIR/n$i/docker.pid" &
    stops+=($!)
  done
  wait "${stops[@]}"
  stop_pid "$DIR/registry/pid"
  for i in $(seq 1 "$n"); do
    ip netns del "jinadc-n$i" 2>/dev/null || true
    ip link del "jinadc-v$i" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  while iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT -m comment --comment jinad-cluster 2>/dev/null; do :; done
  # Mounts an engine left (its overlay layers, its netns files), deepest first.
  if [ -d "$DIR" ]; then
    { grep -F " $DIR/" /proc/self/mounts || true; } | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$DIR"
  fi
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  run)
    shift
    trap down EXIT
    up "${JINAD_CLUSTER_NODES:-3}"
    set -a; . "$DIR/env"; set +a
    "$@" ;;
  *) echo "usage: $0 up [N] | down | run CMD..." >&2; exit 2 ;;
esac
