#!/usr/bin/env bash
# A one-node Slurm cluster on this machine for ReproServer's `slurm` backend: `slurm.sh
# start|stop|status`.
# start: MUNGE with its own key and socket; accounting: a MariaDB server of its own (datadir,
# unix socket and pid under $STATE_DIR/slurm/mariadb, --skip-networking, not the system service)
# and Debian's slurmdbd (slurmdbd.conf, 0600, next to slurm.conf, on that socket); then Debian's
# slurmctld and slurmd (slurm-wlm) with AccountingStorageType=accounting_storage/slurmdbd. All as
# root, all under $STATE_DIR/slurm (config, state, spool, logs, pids); ports are free ones on
# 127.0.0.1. Processes are tracked by /proc (proctrack/linuxproc: no cgroup is needed).
# A finished job is in the controller for a day (MinJobAge), where the backend reads its state,
# exit code and reason first (`scontrol show job`), and in accounting (`sacct`), where it reads
# them once the controller forgot it. The controller starts with a fresh state each start (job
# ids start again at 1), so accounting's database is emptied each start too: an id is never two
# jobs in `sacct`. When MariaDB or slurmdbd cannot start, the cluster comes up without accounting
# (accounting_storage/none), saying why in the log and in SLURM_ACCOUNTING_UNAVAILABLE.
# jobcomp/filetxt also keeps a line per finished job in $STATE_DIR/slurm/jobcomp.txt.
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
# Accounting: MariaDB (its own datadir and socket; no TCP) and slurmdbd on it.
DB_DIR="$DIR/mariadb"
DB_SOCKET="$DB_DIR/mariadbd.sock"
DB_PID="$DB_DIR/mariadbd.pid"
DBD_CONF="$DIR/slurmdbd.conf"
DBD_PID="$DIR/slurmdbd.pid"
ACCT_DB=slurm_acct_db
CLUSTER=reproserver
# Why the cluster runs without accounting this time (start_accounting says).
ACCOUNTING_WHY=""
SHARED="$DIR/shared"
PARTITION=reproserver
NODE=reproserver-node

answers() { SLURM_CONF="$CONF" timeout 5 sinfo -h -o %T -p "$PARTITION" 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; }
db_answers() { timeout 5 mariadb-admin --no-defaults --socket="$DB_SOCKET" ping >/dev/null 2>&1; }
dbd_answers() { SLURM_CONF="$CONF" timeout 5 sacctmgr -n -P show cluster format=cluster >/dev/null 2>&1; }
munge_answers() { munge -S "$MUNGE_SOCKET" -n </dev/null 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1; }

# Wait until COMMAND succeeds, at most SECONDS, while the process recorded in PID_FILE lives.
wait_alive() {
  local pid_file="$1" seconds="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    pid_alive "$pid_file" && [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

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
  # dbd_port: slurmdbd's, or empty for no accounting.
  local ctld_port="$1" slurmd_port="$2" dbd_port="$3"
  local cpus mem
  cpus="$(nproc)"
  mem=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 - 256))
  mkdir -p "$DIR/state" "$DIR/spool"
  cat >"$CONF" <<EOF
# Written by scripts/services/slurm.sh: a one-node cluster for ReproServer's tests.
ClusterName=$CLUSTER
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
$(accounting_conf "$dbd_port")
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

# slurm.conf's accounting lines: through slurmdbd on DBD_PORT, or none.
accounting_conf() {
  local dbd_port="$1"
  if [ -z "$dbd_port" ]; then
    echo "AccountingStorageType=accounting_storage/none"
    return
  fi
  cat <<EOF
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$dbd_port
# With slurmdbd this names the MUNGE socket that slurmctld, sacct and sacctmgr authenticate to
# slurmdbd with (not AuthInfo's, which they do not use for it).
AccountingStoragePass=$MUNGE_SOCKET
EOF
}

# slurmdbd reads slurmdbd.conf from slurm.conf's folder (SLURM_CONF); it holds the database's
# credentials on a real site, hence 0600 (root over the unix socket here: no password).
write_dbd_conf() {
  local dbd_port="$1"
  (
    umask 077
    cat >"$DBD_CONF" <<EOF
# Written by scripts/services/slurm.sh: the test cluster's accounting.
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$dbd_port
SlurmUser=root
LogFile=$DIR/slurmdbd.log
PidFile=$DIR/slurmdbd.own.pid
StorageType=accounting_storage/mysql
# localhost: MariaDB's client library goes through the unix socket in MYSQL_UNIX_PORT.
StorageHost=localhost
StorageUser=root
StorageLoc=$ACCT_DB
EOF
  )
  chmod 0600 "$DBD_CONF"
}

# A MariaDB server of the cluster's own: root over its unix socket only (--skip-networking).
start_mariadb() {
  db_answers && return 0
  mkdir -p "$DB_DIR"
  chmod 0700 "$DB_DIR"
  if [ ! -d "$DB_DIR/data/mysql" ]; then
    rm -rf "$DB_DIR/data"
    mariadb-install-db --no-defaults --user=root --datadir="$DB_DIR/data" \
      --auth-root-authentication-method=socket --skip-test-db --innodb-log-file-size=16M \
      >"$DB_DIR/install.log" 2>&1 || return 1
  fi
  rm -f "$DB_SOCKET"
  # --no-defaults: none of /etc/mysql's settings (the system service's socket, port, datadir).
  setsid "$(command -v mariadbd || echo /usr/sbin/mariadbd)" --no-defaults --user=root \
    --datadir="$DB_DIR/data" --socket="$DB_SOCKET" --pid-file="$DB_DIR/mariadbd.own.pid" \
    --skip-networking --log-error="$DB_DIR/mariadbd.err" --innodb-buffer-pool-size=32M \
    --innodb-log-file-size=16M --innodb-lock-wait-timeout=900 >"$DB_DIR/mariadbd.out" 2>&1 </dev/null &
  echo $! >"$DB_PID"
  wait_alive "$DB_PID" 30 db_answers
}

# MariaDB, an empty accounting database (the controller's state is fresh too: job ids start
# again), slurmdbd on DBD_PORT and the cluster registered. On failure sets ACCOUNTING_WHY.
start_accounting() {
  local dbd_port="$1"
  if ! ensure_debs mariadb-server slurmdbd slurm-wlm-mysql-plugin; then
    ACCOUNTING_WHY="Debian's mariadb-server and slurmdbd could not be installed"
    return 1
  fi
  if ! start_mariadb; then
    ACCOUNTING_WHY="MariaDB did not start; see install.log, mariadbd.out and mariadbd.err in $DB_DIR"
    return 1
  fi
  if ! timeout 20 mariadb --no-defaults --socket="$DB_SOCKET" -e "DROP DATABASE IF EXISTS $ACCT_DB" >/dev/null; then
    ACCOUNTING_WHY="MariaDB did not drop the old accounting database; see $DB_DIR/mariadbd.err"
    return 1
  fi
  write_dbd_conf "$dbd_port"
  SLURM_CONF="$CONF" MYSQL_UNIX_PORT="$DB_SOCKET" setsid slurmdbd -D >"$DIR/slurmdbd.out" 2>&1 </dev/null &
  echo $! >"$DBD_PID"
  if ! wait_alive "$DBD_PID" 30 dbd_answers; then
    ACCOUNTING_WHY="slurmdbd did not answer; see $DIR/slurmdbd.log"
    return 1
  fi
  if ! SLURM_CONF="$CONF" timeout 20 sacctmgr -i add cluster "$CLUSTER" >/dev/null; then
    ACCOUNTING_WHY="sacctmgr could not register the cluster; see $DIR/slurmdbd.log"
    return 1
  fi
}

stop_accounting() {
  stop_pid_file "$DBD_PID" slurmdbd
  stop_pid_file "$DB_PID" mariadbd
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
  local ctld_port slurmd_port dbd_port
  ctld_port="$(free_port)"
  slurmd_port="$(free_port)"
  dbd_port="$(free_port)"
  write_conf "$ctld_port" "$slurmd_port" "$dbd_port"
  log "starting MariaDB and slurmdbd (accounting; logs in $DIR)"
  if start_accounting "$dbd_port"; then
    unset_service_var SLURM_ACCOUNTING_UNAVAILABLE
  else
    log "going on without accounting: $ACCOUNTING_WHY"
    stop_accounting
    set_service_var SLURM_ACCOUNTING_UNAVAILABLE "\"$ACCOUNTING_WHY\""
    write_conf "$ctld_port" "$slurmd_port" ""
  fi
  # No state of a previous start, not even accounting messages slurmctld had queued for slurmdbd.
  rm -rf "$DIR/state"
  mkdir -p "$DIR/state"
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
  stop_pid_file "$DBD_PID" slurmdbd
}

stop() {
  stop_daemons
  stop_pid_file "$DB_PID" mariadbd
  stop_pid_file "$MUNGE_PID" munged
  # The tests' unpacked packages and run folders: no job can use them once slurmd is gone.
  [ -d "$SHARED" ] && { rm -rf "$SHARED" || log "cannot remove $SHARED"; }
  return 0
}

status() {
  if pid_alive "$CTLD_PID" && pid_alive "$SLURMD_PID" && answers; then
    echo "running (slurmctld pid $(cat "$CTLD_PID"), slurmd pid $(cat "$SLURMD_PID"), $CONF)"
    if pid_alive "$DBD_PID" && pid_alive "$DB_PID" && dbd_answers; then
      echo "accounting: slurmdbd pid $(cat "$DBD_PID"), mariadbd pid $(cat "$DB_PID") (socket $DB_SOCKET)"
    else
      echo "accounting: none"
    fi
  else
    echo "stopped"
    return 1
  fi
}

service_main "$@"
