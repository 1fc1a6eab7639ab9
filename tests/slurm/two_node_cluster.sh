#!/usr/bin/env bash
# Starts (or stops) a two-node Slurm cluster on this machine for tests/cli/slurm_two_nodes.sh:
# two network namespaces joined by a veth pair, each one node with its own host name
# (a UTS namespace), its own /etc/hosts (bind-mounted in its own mount namespace) and
# its own slurmd; slurmctld runs on node1. munged runs once, in the root namespace:
# its socket is a file in DIR, which both namespaces reach (Unix sockets are not tied
# to a network namespace), with one key. All Slurm and MPI traffic between the nodes
# goes over the veth pair; nothing listens outside the two namespaces.
#
#   node1  netns <prefix>-1  veth0 10.213.0.1/24  slurmctld + slurmd
#   node2  netns <prefix>-2  veth0 10.213.0.2/24  slurmd
#
#   tests/slurm/two_node_cluster.sh start DIR
#       prints nothing on success; writes DIR/cluster.env (SLURM_CONF, EP_NODE1_NS,
#       EP_NODE2_NS) to source; run Slurm commands on node1's network, e.g.
#       ip netns exec "$EP_NODE1_NS" sbatch ...   (the root namespace cannot reach slurmctld)
#       exit status 3 (and a message on stderr): namespaces cannot be made here
#   tests/slurm/two_node_cluster.sh stop DIR
#       kills every process in the two namespaces (daemons, job steps, ranks) and munged,
#       deletes the namespaces (and with them the veth pair); safe to call twice or after
#       a failed start.
#   tests/slurm/two_node_cluster.sh exec DIR node1|node2 CMD...   run CMD on that node
#
# Names and addresses: EP_2N_PREFIX (default ep2n<pid>), EP_2N_NET (default 10.213.0),
# recorded in DIR/cluster.env so that stop finds them.
set -euo pipefail

cmd=${1:?start|stop|exec}; dir=${2:?folder for the cluster state}
dir=$(realpath -m "$dir")

# Runs "$@" on node $1 (1 or 2): in its network namespace, with its host name and hosts file.
on_node() {
  local n=$1; shift
  local ns; ns=$( [ "$n" = 1 ] && echo "$EP_NODE1_NS" || echo "$EP_NODE2_NS")
  # nsenter, not `ip netns exec`: the latter mounts a fresh /sys without the cgroup
  # file systems, and slurmd will not start without them. The command gets a mount
  # namespace of its own (a slave of the root one), so the bind mount of the hosts
  # file stays inside it, and a UTS namespace for its host name.
  # shellcheck disable=SC2016  # $1, $2, $@ are the inner shell's
  nsenter --net="/run/netns/$ns" unshare --uts --mount --propagation slave -- /bin/bash -c \
    'hostname "$1"; mount --bind "$2" /etc/hosts; shift 2; exec "$@"' _ "node$n" "$dir/hosts" "$@"
}

stop_cluster() {
  [ -f "$dir/cluster.env" ] || return 0
  # shellcheck disable=SC1091
  source "$dir/cluster.env"
  local ns pids
  for ns in "$EP_NODE1_NS" "$EP_NODE2_NS"; do
    ip netns list 2>/dev/null | grep -qw "$ns" || continue
    for sig in TERM KILL; do
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [ -n "$pids" ] || break
      # shellcheck disable=SC2086
      kill -s $sig $pids 2>/dev/null || true
      for _ in $(seq 1 20); do [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break; sleep 0.25; done
    done
  done
  if [ -f "$dir/munged.pid" ]; then
    local m; m=$(cat "$dir/munged.pid")
    kill "$m" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$m" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$m" 2>/dev/null || true
    rm -f "$dir/munged.pid"
  fi
  for ns in "$EP_NODE1_NS" "$EP_NODE2_NS"; do
    ip netns del "$ns" 2>/dev/null || true   # deletes its end of the veth pair, and so the pair
  done
  ip link del "${EP_2N_PREFIX}a" 2>/dev/null || true   # a start that failed before moving it
  rm -f "$dir/cluster.env"
}

start_cluster() {
  mkdir -p "$dir"/{state,log,munge,spool/node1,spool/node2,tmp/node1,tmp/node2}
  chmod 1777 "$dir"/tmp/node1 "$dir"/tmp/node2
  local prefix=${EP_2N_PREFIX:-ep2n$$} net=${EP_2N_NET:-10.213.0}
  EP_NODE1_NS="$prefix-1"; EP_NODE2_NS="$prefix-2"
  printf 'EP_2N_PREFIX=%q\nEP_NODE1_NS=%q\nEP_NODE2_NS=%q\nSLURM_CONF=%q\nexport SLURM_CONF EP_NODE1_NS EP_NODE2_NS\n' \
    "$prefix" "$EP_NODE1_NS" "$EP_NODE2_NS" "$dir/slurm.conf" > "$dir/cluster.env"
  export EP_NODE1_NS EP_NODE2_NS
  # ---- network: two namespaces, one veth pair, loopback up in each
  if ! ip netns add "$EP_NODE1_NS" 2>"$dir/log/netns.err"; then
    echo "cannot create a network namespace (ip netns add: $(cat "$dir/log/netns.err"))" >&2
    rm -f "$dir/cluster.env"; return 3
  fi
  ip netns add "$EP_NODE2_NS"
  ip link add "${prefix}a" type veth peer name "${prefix}b"
  ip link set "${prefix}a" netns "$EP_NODE1_NS"
  ip link set "${prefix}b" netns "$EP_NODE2_NS"
  local n ns
  for n in 1 2; do
    ns=$( [ $n = 1 ] && echo "$EP_NODE1_NS" || echo "$EP_NODE2_NS")
    ip -n "$ns" link set "${prefix}$( [ $n = 1 ] && echo a || echo b)" name veth0
    ip -n "$ns" addr add "$net.$n/24" dev veth0
    ip -n "$ns" link set veth0 up
    ip -n "$ns" link set lo up
  done
  printf '127.0.0.1 localhost\n%s.1 node1\n%s.2 node2\n' "$net" "$net" > "$dir/hosts"

  # ---- munge: one daemon, one key, its socket in DIR
  chmod 700 "$dir/munge"
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
         --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" \
         --force

  # ---- slurm.conf: one file for both nodes; per-node files via %n
  local cpus mem_mb port
  cpus=$(nproc)
  # RealMemory must be below what slurmd measures, or the node drains (both nodes
  # measure this machine's memory; they share it).
  mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 - 512 ))
  port=$(( 20000 + RANDOM % 20000 ))
  cat > "$dir/slurm.conf" <<CONF
ClusterName=ep2nodes
SlurmctldHost=node1($net.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire: a requeued job may start again this many seconds after the requeue
# (default 120); short, so the requeue test does not wait two minutes.
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=5
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
# Each node its own TmpFS: the PMIx plugin makes its per-step folders there, which
# would collide in the /tmp both "nodes" share.
TmpFS=$dir/tmp/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
JobRequeue=1
KillWait=5
MinJobAge=300
InactiveLimit=0
SlurmdTimeout=300
NodeName=node1 NodeHostname=node1 NodeAddr=$net.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
NodeName=node2 NodeHostname=node2 NodeAddr=$net.2 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=node1,node2 Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
  export SLURM_CONF="$dir/slurm.conf"
  on_node 1 slurmctld -f "$SLURM_CONF"
  on_node 1 slurmd -f "$SLURM_CONF" -N node1
  on_node 2 slurmd -f "$SLURM_CONF" -N node2
  for _ in $(seq 1 60); do
    if [ "$(ip netns exec "$EP_NODE1_NS" sinfo -h -N -o '%N %T' 2>/dev/null | grep -cE ' (idle|mixed|allocated)$')" = 2 ]; then
      return 0
    fi
    sleep 0.5
  done
  echo "the two-node Slurm did not come up; logs in $dir/log" >&2
  ip netns exec "$EP_NODE1_NS" sinfo -N >&2 || true
  tail -n 20 "$dir"/log/*.log >&2 || true
  return 1
}

case "$cmd" in
  start) start_cluster ;;
  stop) stop_cluster ;;
  exec)
    # shellcheck disable=SC1091
    source "$dir/cluster.env"
    node=${3:?node1|node2}; shift 3
    export SLURM_CONF="$dir/slurm.conf"
    on_node "${node#node}" "$@" ;;
  *) echo "usage: $0 start|stop|exec DIR [node CMD...]" >&2; exit 2 ;;
esac
