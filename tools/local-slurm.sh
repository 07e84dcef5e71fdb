#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for tests and trying the job
# scripts: munged, slurmctld and slurmd from Debian's packages, configured in a
# private directory, on non-default ports.  Stops exactly what it started.
#
#   tools/local-slurm.sh start    # prints the SLURM_CONF line to export
#   tools/local-slurm.sh status
#   tools/local-slurm.sh stop
#
# Environment: QVAE_SLURM_DIR (default /tmp/qvae-slurm-$USER), QVAE_SLURM_PORT
# (slurmctld port, default 16817; slurmd uses the next one).
set -euo pipefail
dir="${QVAE_SLURM_DIR:-/tmp/qvae-slurm-$(id -un)}"
port="${QVAE_SLURM_PORT:-16817}"
conf="$dir/slurm.conf"
export SLURM_CONF="$conf"

die() { echo "local-slurm: error: $*" >&2; exit 4; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  for tool in munged slurmctld slurmd sinfo; do
    command -v "$tool" >/dev/null || die "$tool not found; run tools/setup.sh (it installs slurmctld slurmd slurm-client munge)"
  done
  if alive "$dir/slurmctld.pid"; then echo "local-slurm: already running ($conf)"; return 0; fi
  mkdir -p "$dir"/{state,spool,munge}
  chmod 700 "$dir/munge"
  # munged refuses keys readable by others and sockets in world-writable dirs.
  [ -f "$dir/munge/munge.key" ] || { head -c 1024 /dev/urandom >"$dir/munge/munge.key"; chmod 400 "$dir/munge/munge.key"; }
  munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
         --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
         --seed-file="$dir/munge/munged.seed" --force
  local node cpus mem_mb
  node="$(hostname -s)"
  cpus="$(nproc)"
  mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
  cat >"$conf" <<CONF
ClusterName=qvae-local
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=$(id -un)
SlurmdUser=root
AuthType=auth/munge
# Job credentials expire (and requeued jobs may restart) after 10 s, not 120.
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
KillWait=10
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
  slurmctld -f "$conf"
  slurmd -f "$conf"
  for _ in $(seq 1 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      echo "local-slurm: up on $node ($cpus CPUs, $mem_mb MB); export SLURM_CONF=$conf"
      return 0
    fi
    sleep 0.5
  done
  tail -5 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
  stop
  die "the node did not become idle within 30 s (logs above)"
}

stop() {
  # Only the daemons this script started, by their pid files; slurmd first.
  for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    if alive "$pidfile"; then
      local pid; pid="$(cat "$pidfile")"
      kill "$pid"
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -f "$pidfile"
  done
  echo "local-slurm: stopped"
}

status() {
  if alive "$dir/slurmctld.pid" && alive "$dir/slurmd.pid"; then
    sinfo; echo "export SLURM_CONF=$conf"
  else
    echo "local-slurm: not running"; return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: tools/local-slurm.sh {start|stop|status}" >&2; exit 2 ;;
esac
