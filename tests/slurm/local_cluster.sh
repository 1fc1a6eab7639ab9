#!/usr/bin/env bash
# Starts (or stops) a one-node Slurm cluster on localhost for the Slurm tests:
# munged, slurmctld and slurmd with their own config, state and sockets in a
# temporary folder, stopped by PID afterwards. Nothing outside that folder changes.
#
#   source tests/slurm/local_cluster.sh start DIR   # exports SLURM_CONF, prints nothing else on success
#   tests/slurm/local_cluster.sh stop DIR
set -euo pipefail

cmd=${1:?start|stop}; dir=${2:?folder for the cluster state}

stop_cluster() {
  for p in slurmd slurmctld munged; do
    if [ -f "$dir/$p.pid" ]; then kill "$(cat "$dir/$p.pid")" 2>/dev/null || true; fi
  done
  sleep 1
  for p in slurmd slurmctld munged; do
    if [ -f "$dir/$p.pid" ]; then kill -9 "$(cat "$dir/$p.pid")" 2>/dev/null || true; rm -f "$dir/$p.pid"; fi
  done
}

start_cluster() {
  mkdir -p "$dir"/{state,spool,log,munge}
  chmod 700 "$dir/munge"
  # munge: its own key and socket, so a system munged (if any) is not touched.
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
         --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed" \
         --force
  local cpus mem_mb
  cpus=$(nproc)
  # RealMemory must be below what slurmd measures, or the node drains.
  mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
  local port=$(( 20000 + RANDOM % 20000 ))
  cat > "$dir/slurm.conf" <<CONF
ClusterName=eptest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire: a requeued job may start again this many seconds after the requeue
# (default 120); short, so the requeue tests do not wait two minutes.
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=5
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
ReturnToService=2
SchedulerType=sched/backfill
# Run the main scheduler every second (a requeued job becomes eligible between events).
SchedulerParameters=sched_interval=1
JobRequeue=1
KillWait=5
MinJobAge=300
InactiveLimit=0
SlurmdTimeout=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF" -N localhost
  for _ in $(seq 1 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then return 0; fi
    sleep 0.5
  done
  echo "local Slurm did not come up; logs in $dir/log" >&2
  tail -n 20 "$dir"/log/*.log >&2 || true
  return 1
}

case "$cmd" in
  start) start_cluster ;;
  stop) stop_cluster ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
