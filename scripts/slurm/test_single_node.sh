#!/bin/bash
# Proves the Slurm path on one machine: starts munge and a single-node Slurm (Debian's slurm-wlm)
# under a private configuration, submits `harness run` for a task as job arrays (submit.sh),
# waits, runs the same grid unsharded, and compares the two evals.csv files number for number.
#
# usage: scripts/slurm/test_single_node.sh [TASK] [PRESET] [SHARDS]   (default: pusht tiny 3)
# Needs root (munged, slurmd) and the packages slurm-wlm and munge
# (`apt-get install -y slurm-wlm munge`). Leaves its daemons stopped and its files in $WORK.
set -euo pipefail
task=${1:-pusht} preset=${2:-tiny} shards=${3:-3}
repo=$(cd "$(dirname "$0")/../.." && pwd)
harness=$(realpath "${HARNESS:-$repo/build/harness/harness}")
WORK=${WORK:-/tmp/onedp-slurm-test}
for exe in munged slurmctld slurmd sbatch squeue; do
  command -v "$exe" > /dev/null || { echo "error: $exe not found: apt-get install -y slurm-wlm munge" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "error: needs root (munged and slurmd)" >&2; exit 2; }
rm -rf "$WORK"
mkdir -p "$WORK"/{state,spool,log,munge}
host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ {print int($2 / 1024) - 1024}' /proc/meminfo)

# munge: a private key and socket.
dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1 count=1024 status=none
chmod 400 "$WORK/munge/munge.key"
sock="$WORK/munge/munge.socket"
munged --force -S "$sock" --key-file "$WORK/munge/munge.key" --pid-file "$WORK/munge/munged.pid" \
  --log-file "$WORK/log/munged.log" --seed-file "$WORK/munge/munged.seed"

cat > "$WORK/slurm.conf" <<CONF
ClusterName=onedp-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$sock
CredType=cred/munge
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$WORK/slurm.conf"
cleanup() {
  for pid in "$WORK/slurmd.pid" "$WORK/slurmctld.pid" "$WORK/munge/munged.pid"; do
    [ -f "$pid" ] && kill "$(cat "$pid")" 2> /dev/null || true
  done
}
trap cleanup EXIT
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do
  sinfo -h -o %T 2> /dev/null | grep -q -E '^(idle|mixed)' && break
  sleep 1
done
sinfo

opts=(--task "$task" --preset "$preset" --dataset "$WORK/dataset.hdf5")
cd "$WORK"
echo "== sharded: $shards array tasks per stage"
t0=$(date +%s)
merge=$(HARNESS="$harness" "$repo/scripts/slurm/submit.sh" -n "$shards" -- "${opts[@]}" --work "$WORK/sharded" \
  --results "$WORK/sharded-results")
while squeue -h | grep -q .; do sleep 2; done
state=$(sacct -n -X -j "$merge" -o State 2> /dev/null | head -1 | tr -d ' ' || true)
echo "merge job $merge finished (${state:-sacct unavailable}) after $(( $(date +%s) - t0 )) s"
[ -f "$WORK/sharded-results/evals.csv" ] || { echo "FAIL: the Slurm run wrote no evals.csv"; tail -n 20 slurm-*.out; exit 1; }

echo "== unsharded"
"$harness" run "${opts[@]}" --work "$WORK/unsharded" --results "$WORK/unsharded-results" > unsharded.log 2>&1
# Compare every field but git_commit, device and versions (columns 14-16: provenance).
if diff <(cut -d, -f1-13 "$WORK/sharded-results/evals.csv") <(cut -d, -f1-13 "$WORK/unsharded-results/evals.csv"); then
  echo "PASS: $(($(wc -l < "$WORK/sharded-results/evals.csv") - 1)) evaluation rows identical (sharded x$shards on Slurm vs unsharded)"
else
  echo "FAIL: sharded and unsharded evals.csv differ"
  exit 1
fi
