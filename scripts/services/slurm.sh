#!/usr/bin/env bash
# A one-node Slurm cluster on this machine for ReproServer's `slurm` backend: `slurm.sh
# start|stop|status`.
# start: MUNGE with its own key and socket, then Debian's slurmctld and slurmd (slurm-wlm), all as
# root, all under $STATE_DIR/slurm (config, state, spool, logs, pids); ports are free ones on
# 127.0.0.1. Processes are tracked by /proc (proctrack/linuxproc: no cgroup is needed). No
# slurmdbd (it needs MySQL): the controller keeps finished jobs for a day (MinJobAge), which is
# where the backend reads a job's state, exit code and reason (`scontrol show job`), and
# jobcomp/filetxt keeps a line per finished job in $STATE_DIR/slurm/jobcomp.txt.
# Records SLURM_CONF, REPROSERVER_SLURM_PARTITION and REPROSERVER_SLURM_SHARED (the folder the node shares
# with the server) in $STATE_DIR/services.env; SLURM_UNAVAILABLE=<reason> when it cannot start.
set -euo pipefail
LOG_TAG=slurm
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

DIR="$STATE_DIR/slurm"
CONF="$DIR/slurm.conf"
MUNGE_DIR="$DIR/munge"
MUNGE_SOCKET="$MUNGE_DIR/munge.socket"
MUNGE_PID="$MUNGE_DIR/munged.pid"
CTLD_PID="$DIR/slurmctld.pid"
SLURMD_PID="$DIR/slurmd.pid"
SHARED="$DIR/shared"
PARTITION=reproserver
NODE=reproserver-node

answers() { SLURM_CONF="$CONF" timeout 5 sinfo -h -o %T -p "$PARTITION" 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; }
munge_answers() { munge -S "$MUNGE_SOCKET" -n </dev/null 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1; }

unavailable() {
  log "Slurm is unavailable: $1"
  set_service_var SLURM_UNAVAILABLE "\"$1\""
  unset_service_var SLURM_CONF
  exit 0
}

record() {
  set_service_var SLURM_CONF "$CONF"
  set_service_var REPROSERVER_SLURM_PARTITION "$PARTITION"
  set_service_var REPROSERVER_SLURM_SHARED "$SHARED"
  unset_service_var SLURM_UNAVAILABLE
}

# The node's size as Slurm must see it: all CPUs, and memory a little under what the kernel has.
write_conf() {
  local ctld_port="$1" slurmd_port="$2"
  local cpus mem
  cpus="$(nproc)"
  mem=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 - 256))
  mkdir -p "$DIR/state" "$DIR/spool"
  cat >"$CONF" <<EOF
# Written by scripts/services/slurm.sh: a one-node cluster for ReproServer's tests.
ClusterName=reproserver
SlurmctldHost=$(hostname)(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.own.pid
SlurmdPidFile=$DIR/slurmd.own.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
# Memory use sampled each second; a job over its --mem is killed (state OUT_OF_MEMORY).
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.txt
# Finished jobs stay known to the controller (scontrol show job) for a day.
MinJobAge=86400
KillWait=2
OverTimeLimit=0
SchedulerType=sched/builtin
# Schedule at each submission and each job's end, not in batches (seconds saved per job).
SchedulerParameters=sched_min_interval=0,batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
SlurmdTimeout=60
NodeName=$NODE NodeHostname=$(hostname) NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
  munge_answers && return 0
  mkdir -p "$MUNGE_DIR"
  chmod 0700 "$MUNGE_DIR"
  [ -s "$MUNGE_DIR/munge.key" ] || mungekey --create --keyfile "$MUNGE_DIR/munge.key"
  chmod 0600 "$MUNGE_DIR/munge.key"
  rm -f "$MUNGE_SOCKET" "$MUNGE_PID"
  # -F: in the foreground of its own session, so that the recorded pid is the daemon's.
  setsid munged -F --force --socket="$MUNGE_SOCKET" --key-file="$MUNGE_DIR/munge.key" \
    --pid-file="$MUNGE_DIR/munged.own.pid" --log-file="$MUNGE_DIR/munged.log" \
    --seed-file="$MUNGE_DIR/munged.seed" >/dev/null 2>&1 </dev/null &
  echo $! >"$MUNGE_PID"
  wait_for 15 munge_answers || { stop; unavailable "munged did not start; see $MUNGE_DIR/munged.log"; }
}

start() {
  if pid_alive "$CTLD_PID" && pid_alive "$SLURMD_PID" && answers; then
    log "already running (slurmctld pid $(cat "$CTLD_PID"), slurmd pid $(cat "$SLURMD_PID"))"
    record
    return
  fi
  is_root || unavailable "a one-node cluster here runs its daemons as root"
  ensure_debs slurmctld slurmd slurm-client munge || unavailable "Debian's slurm-wlm could not be installed"
  local began=$SECONDS
  stop_daemons
  mkdir -p "$DIR" "$SHARED"
  start_munge
  write_conf "$(free_port)" "$(free_port)"
  log "starting slurmctld and slurmd (config $CONF, logs in $DIR)"
  # -D: in the foreground of their own sessions, so that the recorded pids are the daemons'.
  # -c: a fresh controller state each start (the ports changed; old jobs belong to no server).
  SLURM_CONF="$CONF" setsid slurmctld -D -c -f "$CONF" >"$DIR/slurmctld.out" 2>&1 </dev/null &
  echo $! >"$CTLD_PID"
  SLURM_CONF="$CONF" setsid slurmd -D -N "$NODE" -f "$CONF" >"$DIR/slurmd.out" 2>&1 </dev/null &
  echo $! >"$SLURMD_PID"
  if ! wait_for 60 answers; then
    tail -n 20 "$DIR/slurmctld.log" "$DIR/slurmd.log" >&2 || true
    stop
    unavailable "slurmctld or slurmd did not start; see $DIR/slurmctld.log and $DIR/slurmd.log"
  fi
  record
  log "ready in $((SECONDS - began)) s: partition $PARTITION, SLURM_CONF=$CONF"
}

stop_daemons() {
  stop_pid_file "$SLURMD_PID" slurmd
  stop_pid_file "$CTLD_PID" slurmctld
}

stop() {
  stop_daemons
  stop_pid_file "$MUNGE_PID" munged
  # The tests' unpacked packages and run folders: no job can use them once slurmd is gone.
  [ -d "$SHARED" ] && { rm -rf "$SHARED" || log "cannot remove $SHARED"; }
  return 0
}

status() {
  if pid_alive "$CTLD_PID" && pid_alive "$SLURMD_PID" && answers; then
    echo "running (slurmctld pid $(cat "$CTLD_PID"), slurmd pid $(cat "$SLURMD_PID"), $CONF)"
  else
    echo "stopped"
    return 1
  fi
}

service_main "$@"
