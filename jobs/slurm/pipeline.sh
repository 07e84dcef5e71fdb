#!/bin/bash
# The whole pipeline as Slurm jobs chained with --dependency=afterok:
#   simulate -> train -> generate -> evaluate -> logz
# Run it on a login node; it submits and returns (or waits with --wait).
#
#   QVAE_PIPELINE_DIR=runs/demo QVAE_CONFIG=configs/experiment/tiny.ini jobs/slurm/pipeline.sh
#   QVAE_PIPELINE_DIR=runs/ds2 QVAE_CONFIG=configs/experiment/ds2-cnn-pegasus.ini QVAE_EVENTS=100000 \
#     QVAE_TASKS=16 QVAE_SBATCH_ARGS="-p gpu -A myproject -t 24:00:00" jobs/slurm/pipeline.sh
#
# Environment:
#   QVAE_PIPELINE_DIR  output directory (required): showers.h5, run/, generated.h5,
#                      report/, logz/, jobs.txt (the job ids), logs/
#   QVAE_CONFIG        experiment config(s), space-separated (default: configs/experiment/tiny.ini)
#   QVAE_DATA          an existing CaloChallenge training file; skips the simulate job
#   QVAE_EVENTS        simulated showers (default 4000), also the number generated
#   QVAE_GEOMETRY      simulated geometry (default ds2)
#   QVAE_SEED          seed of simulation and generation (default 2026)
#   QVAE_TASKS         MPI ranks per job (default 2)
#   QVAE_SBATCH_ARGS   options for every sbatch (partition, account, time, ...)
#   QVAE_TRAIN_ARGS, QVAE_EVALUATE_ARGS, QVAE_LOGZ_ARGS  passed to those jobs
#   QVAE, QVAE_LAUNCH  the executable and the MPI launcher (common.sh)
# Options: --wait  wait for the last job and exit with the pipeline's status.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
wait_for_end=0
for arg in "$@"; do
  case "$arg" in
    --wait) wait_for_end=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "qvae: error: unknown option '$arg', pipeline.sh, see pipeline.sh --help" >&2; exit 2 ;;
  esac
done
[ -n "${QVAE_PIPELINE_DIR:-}" ] || { echo "qvae: error: QVAE_PIPELINE_DIR is not set, pipeline.sh, export the output directory" >&2; exit 2; }
command -v sbatch >/dev/null || { echo "qvae: error: sbatch not found, pipeline.sh, run on a Slurm login node (tools/local-slurm.sh start for a local one)" >&2; exit 4; }

dir="$(mkdir -p "$QVAE_PIPELINE_DIR" && cd "$QVAE_PIPELINE_DIR" && pwd)"
mkdir -p "$dir/logs"
config="${QVAE_CONFIG:-$root/configs/experiment/tiny.ini}"
absolute_configs=""
for file in $config; do
  [ -f "$file" ] || { echo "qvae: error: config '$file' not found, pipeline.sh QVAE_CONFIG, give existing INI files" >&2; exit 2; }
  absolute_configs+="$(cd "$(dirname "$file")" && pwd)/$(basename "$file") "
done
events="${QVAE_EVENTS:-4000}"
generate_events=(--events "$events")  # all of QVAE_DATA's energies when it is given without QVAE_EVENTS
[ -n "${QVAE_DATA:-}" ] && [ -z "${QVAE_EVENTS:-}" ] && generate_events=()
seed="${QVAE_SEED:-2026}"
tasks="${QVAE_TASKS:-2}"
read -r -a common_args <<<"${QVAE_SBATCH_ARGS:-}"
export QVAE_JOBS_DIR="$here" QVAE_CONFIG="$absolute_configs"
export QVAE="${QVAE:-$(command -v qvae || echo "$root/build/bin/qvae")}"

submit() {  # submit NAME DEPENDENCY SCRIPT ARGS... ; prints the job id
  local name=$1 dependency=$2; shift 2
  local options=(--parsable --job-name="qvae-$name" -n "$tasks" --output="$dir/logs/$name-%j.out" "${common_args[@]}")
  [ -n "$dependency" ] && options+=(--dependency="afterok:$dependency" --kill-on-invalid-dep=yes)
  local id
  id=$(sbatch "${options[@]}" "$@") || { echo "qvae: error: sbatch of the $name job failed, pipeline.sh, see above" >&2; exit 4; }
  id=${id%%;*}
  echo "$name $id" >>"$dir/jobs.txt"
  echo "submitted $name: job $id" >&2
  printf '%s' "$id"
}

: >"$dir/jobs.txt"
data="${QVAE_DATA:-}"
previous=""
if [ -z "$data" ]; then
  data="$dir/showers.h5"
  previous=$(QVAE_CONFIG="" submit simulate "" "$here/qvae.sbatch" simulate --events "$events" \
    --geometry "${QVAE_GEOMETRY:-ds2}" --seed "$seed" --out "$data")
fi
train=$(QVAE_DATA="$data" QVAE_RUN_DIR="$dir/run" submit train "$previous" "$here/train.sbatch")
generate=$(QVAE_CONFIG="" submit generate "$train" "$here/qvae.sbatch" generate --model "$dir/run/best.h5" \
  "${generate_events[@]}" --energies "$data" --seed "$seed" --out "$dir/generated.h5")
evaluate=$(QVAE_CONFIG="" QVAE_REFERENCE="$data" QVAE_GENERATED="$dir/generated.h5" QVAE_REPORT_DIR="$dir/report" \
  QVAE_MODEL="$dir/run/best.h5" QVAE_DATA="$data" QVAE_RUN_DIR="$dir/run" submit evaluate "$generate" "$here/evaluate.sbatch")
logz=$(QVAE_CONFIG="" QVAE_MODEL="$dir/run/best.h5" QVAE_DATA="$data" QVAE_LOGZ_DIR="$dir/logz" \
  submit logz "$evaluate" "$here/logz.sbatch")
echo "pipeline submitted: jobs in $dir/jobs.txt, logs in $dir/logs, report $dir/report/index.html" >&2

if [ "$wait_for_end" = 1 ]; then
  # The last job ends when every job before it has ended (or was cancelled
  # because a dependency failed): poll until none of ours is queued or running.
  ids=$(awk '{print $2}' "$dir/jobs.txt" | paste -sd,)
  while squeue -h -o %i 2>/dev/null | grep -qxF -f <(tr , '\n' <<<"$ids"); do sleep 2; done
  failed=0
  while read -r name id; do
    state=$(sacct -n -X -j "$id" -o State 2>/dev/null | head -1 | tr -d ' ' || true)
    [ -n "$state" ] || state=$(scontrol show job "$id" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    echo "$name job $id: ${state:-unknown}" >&2
    [ "$state" = COMPLETED ] || failed=1
  done <"$dir/jobs.txt"
  [ "$failed" = 0 ] || { echo "qvae: error: a pipeline job did not complete, pipeline.sh, see $dir/logs" >&2; exit 4; }
  echo "pipeline complete: report $dir/report/index.html" >&2
fi
