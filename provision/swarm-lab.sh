#!/usr/bin/env bash
# A three-node Docker Swarm on one machine, for trying calmswap's Swarm mode without three boxes.
#
# Layout (defaults; CS_LAB_NODES and CS_LAB_MANAGERS change the counts):
#
#   host ── cs-swarm-br 10.77.0.254/24 ──┬── veth ── netns cs-node1  eth0 10.77.0.1  dockerd (swarm manager)
#            registry 10.77.0.254:5000   ├── veth ── netns cs-node2  eth0 10.77.0.2  dockerd (worker)
#            (Debian's docker-registry,  └── veth ── netns cs-node3  eth0 10.77.0.3  dockerd (worker)
#             TLS, self-signed)
#
#   node N: socket unix:///run/cs-nodeN/docker.sock, data /var/lib/cs-swarm-lab/nodeN, exec-root
#   /run/cs-nodeN/exec, containers in cgroup /cs-nodeN (so each node's CPU can be read apart),
#   docker0 10.8N.0.1/24, local networks from 10.9N.0.0/16, swarm overlays from 10.78.0.0/16.
#
# One manager and two workers by default, as on a small fleet: calmswap has one API endpoint to
# drive (node1), a Raft of one costs the least CPU on a small box, and workers make `node.role`
# placement meaningful.
# CS_LAB_MANAGERS=3 joins the others as managers, to try leader loss; on one machine it adds no
# real availability.
#
# Each dockerd runs in its own network, mount and UTS namespace (nsenter into the netns, then unshare):
#  - not `ip netns exec`: it remounts /sys and so hides the cgroup mounts dockerd needs; here /sys is
#    remounted for the netns and the host's /sys/fs/cgroup is moved back on top of it;
#  - a private tmpfs on /run/containerd, so dockerd never finds a system containerd there and starts
#    its own managed one under its exec-root (shim sockets and runc state stay per node);
#  - /etc/docker is the node's own directory: its key.json (engine ID) and certs.d (registry CA);
#  - the hostname is cs-nodeN, which is what `docker node ls` shows.
# The mounts are slaves of the host's, so nothing a node mounts is seen on the host, and they go
# away with the node's last process.
#
# Images reach the nodes through the registry, as on real multi-box swarms: the host daemon pushes
# 10.77.0.254:5000/<image>, nodes pull it. The registry speaks TLS with a self-signed certificate
# trusted through certs.d (the host daemon reads /etc/docker/certs.d per request, so the shared daemon
# needs no restart and no insecure-registries change). CS_LAB_DISTRIBUTE=load uses docker save | load
# into every node instead.
#
# The kernel here has no IPVS: service VIPs and the ingress routing mesh cannot work. Use
# `endpoint_mode: dnsrr` and `mode: host` port publishing (see /work/notes/swarm-facts.md).
#
# Usage: swarm-lab.sh up | down | status | env <node> | push <image>...
#   up     idempotent: builds what is missing, leaves what runs alone
#   push   tags and pushes host images to the lab registry and pulls them on every node
#   env    prints exports for a node: eval "$(provision/swarm-lab.sh env node1)"
set -euo pipefail
cd "$(dirname "$0")/.."

NODES=${CS_LAB_NODES:-3}
MANAGERS=${CS_LAB_MANAGERS:-1}
LAB=/var/lib/cs-swarm-lab
BR=cs-swarm-br
NET=10.77.0
HOST_IP=$NET.254
REG=$HOST_IP:5000
SWARM_POOL=10.78.0.0/16
HOST_CA_DIR=/etc/docker/certs.d/$REG
RULE=(FORWARD -i "$BR" -o "$BR" -m comment --comment cs-swarm-lab -j ACCEPT)
DISTRIBUTE=${CS_LAB_DISTRIBUTE:-registry}
RELEASE=${CALMSWAP_RELEASE:-swarmlab}

log() { printf '\033[2m[swarm-lab]\033[0m %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
sock() { echo "unix:///run/cs-node$1/docker.sock"; }
nd() { local n=$1; shift; docker -H "$(sock "$n")" "$@"; }
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1fs", b-a}'; }
nodes() { seq 1 "$NODES"; }

need_root() { [ "$(id -u)" = 0 ] || die "needs root (ip netns, dockerd)"; }

install_tools() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v nsenter >/dev/null || missing+=(util-linux)
  command -v iptables >/dev/null || missing+=(iptables)
  [ ${#missing[@]} = 0 ] && return
  log "installing ${missing[*]}"
  apt-get update -qq >&2
  # policy-rc.d: the package's own registry service must not start on :5000 of every interface.
  local policy=/usr/sbin/policy-rc.d own_policy=
  if [ ! -e $policy ]; then printf '#!/bin/sh\nexit 101\n' >$policy; chmod +x $policy; own_policy=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  [ -z "$own_policy" ] || rm -f $policy
}

storage_driver() {
  if [ -n "${CS_LAB_STORAGE:-}" ]; then echo "$CS_LAB_STORAGE"; return; fi
  mkdir -p "$LAB"
  # overlay2 needs a real upper filesystem; inside a container /var/lib is often overlayfs already.
  case $(stat -f -c %T "$LAB") in overlayfs|overlay) echo vfs ;; *) echo overlay2 ;; esac
}

net_up() {
  if ! ip link show "$BR" >/dev/null 2>&1; then
    ip link add "$BR" type bridge
    ip addr add "$HOST_IP/24" dev "$BR"
  fi
  ip link set "$BR" up
  # The host daemon set FORWARD's policy to DROP and bridge-nf-call-iptables is on, so frames
  # between two nodes on the bridge would be dropped (gossip 7946, raft 2377, vxlan 4789).
  iptables -C "${RULE[@]}" 2>/dev/null || iptables -I "${RULE[@]:0:1}" 1 "${RULE[@]:1}"
  local n
  for n in $(nodes); do
    ip netns list | grep -qw "cs-node$n" || ip netns add "cs-node$n"
    if ! ip link show "cs-node$n-h" >/dev/null 2>&1; then
      ip link add "cs-node$n-h" type veth peer name eth0 netns "cs-node$n"
      ip -n "cs-node$n" addr add "$NET.$n/24" dev eth0
    fi
    ip link set "cs-node$n-h" master "$BR" up
    ip -n "cs-node$n" link set lo up
    ip -n "cs-node$n" link set eth0 up
    ip -n "cs-node$n" route replace default via "$HOST_IP"
  done
}

registry_up() {
  local dir=$LAB/registry
  mkdir -p "$dir/data"
  if [ ! -s "$dir/registry.crt" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=cs-swarm-lab-registry \
      -addext "subjectAltName=IP:$HOST_IP" -keyout "$dir/registry.key" -out "$dir/registry.crt" 2>/dev/null
  fi
  mkdir -p "$HOST_CA_DIR"
  cp "$dir/registry.crt" "$HOST_CA_DIR/ca.crt"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $dir/data}
  delete: {enabled: true}
http:
  addr: $REG
  tls: {certificate: $dir/registry.crt, key: $dir/registry.key}
EOF
  if ! alive "$dir/registry.pid"; then
    # exec all the way down: $! is then the registry's own pid, and no shell keeps our stdout open.
    (cd / && exec setsid docker-registry serve "$dir/config.yml") >>"$dir/registry.log" 2>&1 </dev/null &
    echo $! >"$dir/registry.pid"
  fi
  local i
  for i in $(seq 1 50); do
    curl -fsS --cacert "$dir/registry.crt" "https://$REG/v2/" >/dev/null 2>&1 && return
    sleep 0.1
  done
  die "registry did not answer on https://$REG (see $dir/registry.log)"
}

node_config() {
  local n=$1 etc=$LAB/node$1/etc-docker
  mkdir -p "$etc/certs.d/$REG" "$LAB/node$n/docker" "/run/cs-node$n"
  cp "$LAB/registry/registry.crt" "$etc/certs.d/$REG/ca.crt"
  cat >"$etc/daemon.json" <<EOF
{
  "hosts": ["$(sock "$n")"],
  "data-root": "$LAB/node$n/docker",
  "exec-root": "/run/cs-node$n/exec",
  "pidfile": "/run/cs-node$n/docker.pid",
  "storage-driver": "$(storage_driver)",
  "containerd-namespace": "cs-node$n",
  "containerd-plugins-namespace": "cs-node$n-plugins",
  "cgroup-parent": "/cs-node$n",
  "bip": "10.8$n.0.1/24",
  "default-address-pools": [{"base": "10.9$n.0.0/16", "size": 24}],
  "log-driver": "json-file",
  "log-opts": {"max-size": "5m", "max-file": "2"}
}
EOF
}

node_start() {
  local n=$1
  alive "/run/cs-node$n/docker.pid" && return
  node_config "$n"
  # The quoted script runs inside the node's fresh mount namespace; see the header for why.
  (cd / && exec setsid nsenter --net="/run/netns/cs-node$n" -- \
    unshare --mount --uts --propagation slave -- sh -ec '
      n=$1 lab=$2
      mkdir -p /run/cs-node$n/cgroup
      mount --rbind /sys/fs/cgroup /run/cs-node$n/cgroup
      mount -t sysfs sysfs /sys
      mount --move /run/cs-node$n/cgroup /sys/fs/cgroup
      mkdir -p /run/containerd
      mount -t tmpfs -o mode=0711 tmpfs /run/containerd
      mount --bind $lab/node$n/etc-docker /etc/docker
      hostname cs-node$n
      exec dockerd --config-file /etc/docker/daemon.json
    ' sh "$n" "$LAB") >>"$LAB/node$n/dockerd.log" 2>&1 </dev/null &
}

node_wait() {
  local n=$1 i
  for i in $(seq 1 120); do
    nd "$n" version >/dev/null 2>&1 && return
    sleep 0.25
  done
  tail -n 20 "$LAB/node$n/dockerd.log" >&2
  die "dockerd of cs-node$n did not come up (log: $LAB/node$n/dockerd.log)"
}

swarm_state() { nd "$1" info -f '{{.Swarm.LocalNodeState}}' 2>/dev/null; }

swarm_up() {
  if [ "$(swarm_state 1)" != active ]; then
    log "swarm init on cs-node1"
    # Overlays come from their own pool: the default 10.0.0.0/8 would cover the lab's 10.77.0.0/24.
    nd 1 swarm init --advertise-addr "$NET.1" --listen-addr "$NET.1:2377" \
      --default-addr-pool "$SWARM_POOL" --default-addr-pool-mask-length 24 >/dev/null
  fi
  local n role id
  for n in $(seq 2 "$NODES"); do
    role=worker; [ "$n" -le "$MANAGERS" ] && role=manager
    if [ "$(swarm_state "$n")" = active ]; then
      id=$(nd "$n" info -f '{{.Swarm.NodeID}}')
      # A node still in a swarm that node1 no longer knows (node1's data was wiped) must rejoin.
      nd 1 node inspect "$id" >/dev/null 2>&1 && continue
      nd "$n" swarm leave --force >/dev/null
    fi
    log "cs-node$n joins as $role"
    nd "$n" swarm join --token "$(nd 1 swarm join-token -q "$role")" \
      --advertise-addr "$NET.$n" --listen-addr "$NET.$n:2377" "$NET.1:2377" >/dev/null
  done
  local ids=() i state ready
  for n in $(nodes); do ids+=("$(nd "$n" info -f '{{.Swarm.NodeID}}')"); done
  for i in $(seq 1 120); do
    ready=0
    for id in "${ids[@]}"; do
      state=$(nd 1 node inspect "$id" -f '{{.Status.State}}' 2>/dev/null || true)
      [ "$state" = ready ] && ready=$((ready + 1))
    done
    [ "$ready" = "$NODES" ] && break
    sleep 0.25
  done
  if [ "$ready" != "$NODES" ]; then nd 1 node ls >&2; die "only $ready of $NODES nodes are Ready"; fi
  # A node that rejoined (or whose data was wiped) leaves its old entry behind as Down; only
  # entries that are no node's current ID go, so a node that is merely restarting stays.
  nd 1 node ls --format '{{.ID}} {{.Status}}' | while read -r id state; do
    [ "$state" = Down ] && ! printf '%s\n' "${ids[@]}" | grep -qx "$id" && nd 1 node rm --force "$id" >/dev/null || true
  done
}

app_image() {
  local img=calmswap-example-app:$RELEASE
  if ! docker image inspect "$img" >/dev/null 2>&1; then
    local py=${PYTHON_IMAGE:-}
    [ -n "$py" ] || py=$(sed -n 's/^PYTHON_IMAGE=//p' .env 2>/dev/null || true)
    [ -n "$py" ] || py=calmswap-base:bookworm
    log "building $img from compose.yml (PYTHON_IMAGE=$py)"
    local t0; t0=$(now)
    # web, worker and beat share the image: building one service builds it.
    CALMSWAP_RELEASE=$RELEASE PYTHON_IMAGE=$py docker compose -p cs-swarm-lab -f compose.yml build -q web >&2
    log "built $img: $(since "$t0")"
  fi
  echo "$img"
}

push_images() {
  local img t0 n pids=()
  for img in "$@"; do docker image inspect "$img" >/dev/null 2>&1 || die "no image $img on the host daemon"; done
  if [ "$DISTRIBUTE" = load ]; then
    t0=$(now)
    for n in $(nodes); do docker save "$@" | nd "$n" load -q >/dev/null & pids+=($!); done
    for n in "${pids[@]}"; do wait "$n"; done
    log "docker save | load of $* into $NODES nodes: $(since "$t0")"
    return
  fi
  t0=$(now)
  for img in "$@"; do
    docker tag "$img" "$REG/$img"
    docker push -q "$REG/$img" >/dev/null
  done
  log "pushed $* to $REG: $(since "$t0")"
  # Pulled ahead so a deploy's first start measures the app, not the download.
  t0=$(now)
  for n in $(nodes); do
    (for img in "$@"; do nd "$n" pull -q "$REG/$img" >/dev/null; done) & pids+=($!)
  done
  for n in "${pids[@]}"; do wait "$n"; done
  log "pulled on $NODES nodes: $(since "$t0")"
}

cmd_up() {
  need_root
  install_tools
  local t0; t0=$(now)
  net_up
  registry_up
  local n
  for n in $(nodes); do node_start "$n"; done
  for n in $(nodes); do node_wait "$n"; done
  log "network, registry and $NODES dockerd up: $(since "$t0")"
  swarm_up
  log "swarm of $NODES nodes ready: $(since "$t0")"
  local base=${CALMSWAP_BASE_IMAGE:-calmswap-base:bookworm}
  docker image inspect "$base" >/dev/null 2>&1 || die "$base missing on the host daemon: run provision/images.sh"
  push_images "$base" "$(app_image)"
  log "lab up in $(since "$t0"); next: eval \"\$($0 env node1)\""
}

kill_wait() { # pid seconds
  local pid=$1 i
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 1 $(( $2 * 4 ))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  kill -KILL "$pid" 2>/dev/null || true
}

cmd_down() {
  need_root
  local n pid p
  for n in $(nodes); do
    # dockerd stops its containers (their stop grace) and its containerd before it exits.
    if alive "/run/cs-node$n/docker.pid"; then kill "$(cat "/run/cs-node$n/docker.pid")"; fi
  done
  for n in $(nodes); do
    if [ -s "/run/cs-node$n/docker.pid" ]; then kill_wait "$(cat "/run/cs-node$n/docker.pid")" 30; fi
    # Shims outlive a dockerd that was killed; they are this node's by their containerd address.
    for p in /proc/[0-9]*; do
      if grep -qa -- "/run/cs-node$n/exec/containerd/containerd.sock" "$p/cmdline" 2>/dev/null; then kill_wait "${p#/proc/}" 5; fi
    done
    if ip netns list | grep -qw "cs-node$n"; then ip netns del "cs-node$n"; fi
    ip link del "cs-node$n-h" 2>/dev/null || true
    for p in /sys/fs/cgroup/*/cs-node$n /sys/fs/cgroup/unified/cs-node$n; do
      if [ -d "$p" ]; then find "$p" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
    done
    rm -rf "/run/cs-node$n"
  done
  if alive "$LAB/registry/registry.pid"; then kill_wait "$(cat "$LAB/registry/registry.pid")" 5; fi
  ip link del "$BR" 2>/dev/null || true
  while iptables -C "${RULE[@]}" 2>/dev/null; do iptables -D "${RULE[@]}"; done
  rm -rf "$HOST_CA_DIR"
  rmdir /etc/docker/certs.d 2>/dev/null || true
  # Tags only: the lab's registry names, and the app images `up` built (compose project cs-swarm-lab).
  { docker image ls --format '{{.Repository}}:{{.Tag}}' | grep "^$REG/" || true
    docker image ls --filter label=com.docker.compose.project=cs-swarm-lab --format '{{.Repository}}:{{.Tag}}'
  } 2>/dev/null | grep -v '<none>' | xargs -r docker rmi >/dev/null 2>&1 || true
  # Only after every node process is gone: a live node could still have mounts below $LAB.
  if findmnt -rn -o TARGET | grep -q "^$LAB"; then die "mounts left under $LAB; not removing it"; fi
  rm -rf "$LAB"
  log "lab down"
}

cmd_status() {
  local n state
  if ip link show "$BR" >/dev/null 2>&1; then echo "bridge $BR $HOST_IP/24 up"; else echo "bridge $BR absent"; fi
  if alive "$LAB/registry/registry.pid"; then
    echo "registry https://$REG pid $(cat "$LAB/registry/registry.pid"): $(curl -fsS --cacert "$LAB/registry/registry.crt" "https://$REG/v2/_catalog" 2>/dev/null || echo 'not answering')"
  else echo "registry down"; fi
  for n in $(nodes); do
    if ! alive "/run/cs-node$n/docker.pid"; then echo "cs-node$n  dockerd down"; continue; fi
    state=$(nd "$n" info -f '{{.Swarm.LocalNodeState}} manager={{.Swarm.ControlAvailable}} containers={{.ContainersRunning}} images={{.Images}}' 2>/dev/null || echo unreachable)
    printf 'cs-node%s  %s  pid %s  %s  cgroup cpu %ss\n' "$n" "$NET.$n" "$(cat "/run/cs-node$n/docker.pid")" "$state" \
      "$(awk '{printf "%.1f", $1/1e9}' "/sys/fs/cgroup/cpuacct/cs-node$n/cpuacct.usage" 2>/dev/null || echo '-')"
    if [ -r "/sys/fs/cgroup/unified/cs-node$n/cpu.pressure" ]; then
      sed "s/^/           cpu.pressure /" "/sys/fs/cgroup/unified/cs-node$n/cpu.pressure"
    fi
  done
  if alive /run/cs-node1/docker.pid && [ "$(swarm_state 1)" = active ]; then nd 1 node ls; fi
}

cmd_env() {
  local n=${1:-} ; n=${n#cs-}; n=${n#node}
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le "$NODES" ] || die "usage: $0 env node1..node$NODES"
  echo "export DOCKER_HOST=$(sock "$n")"
  echo "export CS_LAB_REGISTRY=$REG"
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env "${2:-}" ;;
  push) shift; need_root; [ $# -gt 0 ] || die "usage: $0 push <image>..."; push_images "$@" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
