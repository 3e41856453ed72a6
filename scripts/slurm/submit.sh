#!/bin/bash
# Runs `harness run` for one task on a Slurm cluster: a collect job, then one job array per stage
# (train, distill, eval; each array task is a shard i/N of the stage's work grid), chained with
# afterok dependencies, then the merge that writes the tables. Prints the merge job's id.
#
# usage: scripts/slurm/submit.sh [-n SHARDS] [-p PARTITION] [-c CPUS] -- HARNESS_RUN_OPTIONS...
#   e.g. scripts/slurm/submit.sh -n 16 -- --task square-ph --preset paper --device cuda
# HARNESS (default build/harness/harness) must be reachable at the same path on every node, and
# --work / --results must be on a filesystem every node shares.
set -euo pipefail
shards=4 partition="" cpus=1
while getopts "n:p:c:" opt; do
  case $opt in
    n) shards=$OPTARG ;;
    p) partition=$OPTARG ;;
    c) cpus=$OPTARG ;;
    *) echo "usage: $0 [-n SHARDS] [-p PARTITION] [-c CPUS] -- harness run options" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
if [ $# -eq 0 ]; then echo "error: pass the harness run options after --, e.g. -- --task pusht" >&2; exit 2; fi
if ! [[ $shards =~ ^[1-9][0-9]*$ ]]; then echo "error: -n must be a positive integer, got '$shards'" >&2; exit 2; fi
here=$(cd "$(dirname "$0")" && pwd)
harness=$(realpath "${HARNESS:-build/harness/harness}")
[ -x "$harness" ] || { echo "error: $harness is not an executable (set HARNESS)" >&2; exit 2; }
"$harness" run "$@" --dry-run > /dev/null  # bad options fail here, before anything is queued

common=(--parsable --chdir "$PWD" --cpus-per-task "$cpus" --output "slurm-%x-%A_%a.out")
[ -n "$partition" ] && common+=(--partition "$partition")
args=$(printf '%q ' "$@")
prev=$(sbatch "${common[@]}" --job-name onedp-collect --wrap "$(printf '%q' "$harness") run $args --stage collect")
for stage in train distill eval; do
  prev=$(sbatch "${common[@]}" --job-name "onedp-$stage" --dependency "afterok:$prev" --array "0-$((shards - 1))" \
    "$here/stage.sbatch" "$stage" "$shards" "$harness" "$@")
done
sbatch "${common[@]}" --job-name onedp-merge --dependency "afterok:$prev" \
  --wrap "$(printf '%q' "$harness") merge $args"
