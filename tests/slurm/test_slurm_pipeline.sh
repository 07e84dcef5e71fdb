#!/usr/bin/env bash
# usage: test_slurm_pipeline.sh QVAE PROJECT_ROOT
# The job scripts of jobs/slurm on a real Slurm started for this test
# (tools/local-slurm.sh, its own directory and ports, stopped at exit):
#   1. pipeline.sh: simulate -> train -> generate -> evaluate -> logz with
#      afterok dependencies; every job completes and every output is valid;
#   2. pre-emption: USR1 to a running train.sbatch -> checkpoint, requeue,
#      resume -> every epoch exactly once in the history;
#   3. a 4-point sweep array (jobs/slurm/sweep.sbatch), collected.
set -u
qvae=$1; root=$2
source "$root/tests/cli_harness.sh"
export QVAE_SLURM_DIR="$work/slurm" QVAE_SLURM_PORT=$((17000 + $$ % 500 * 2))
stop_cluster() { "$root/tools/local-slurm.sh" stop >/dev/null 2>&1; rm -rf "$work"; }
trap stop_cluster EXIT
export SLURM_CONF="$QVAE_SLURM_DIR/slurm.conf"

run cluster_starts 0 "$root/tools/local-slurm.sh" start || { echo "$passed passed, $failed failed"; exit 1; }
export QVAE="$qvae" QVAE_JOBS_DIR="$root/jobs/slurm"
# srun starts Open MPI ranks through PMIx where Slurm has it; mpirun otherwise.
if srun --mpi=list 2>&1 | grep -q pmix; then export QVAE_LAUNCH="srun --mpi=pmix"
else export QVAE_LAUNCH="mpirun --oversubscribe$([ "$(id -u)" = 0 ] && echo ' --allow-run-as-root')"; fi
echo "launcher: $QVAE_LAUNCH"

# Waits until none of the given job ids is queued or running.
wait_jobs() { while squeue -h -o %i | grep -qxF -f <(printf '%s\n' "$@"); do sleep 1; done; }
job_state() { scontrol show job "$1" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }

# --- 1. the pipeline ---------------------------------------------------------------------------
pipe="$work/pipe"
run pipeline 0 env QVAE_PIPELINE_DIR="$pipe" QVAE_CONFIG="$root/configs/experiment/tiny.ini" QVAE_EVENTS=600 \
  QVAE_TASKS=2 QVAE_TRAIN_ARGS="--train.epochs=2 --train.max_batches_per_epoch=4" \
  QVAE_EVALUATE_ARGS="--fpd-min-samples 200 --fpd-max-samples 500 --fpd-points 3 --fpd-resamples 3 --kpd-batch-size 200 --kpd-batches 3" \
  QVAE_PLOT_ARGS="--only 'etot*' --only 'rbm_energy*'" QVAE_LOGZ_ARGS="--chains 64 --temps 100 --bootstrap 20" \
  QVAE_LL_EVENTS=200 "$root/jobs/slurm/pipeline.sh" --wait
check pipeline_five_jobs [ "$(wc -l <"$pipe/jobs.txt")" -eq 5 ]
# afterok: each job started only after the one before it ended.
check pipeline_in_order "$py" -c '
import subprocess, sys
times = []
for line in open(sys.argv[1]):
    name, job = line.split()
    info = dict(f.split("=", 1) for f in subprocess.run(["scontrol", "show", "job", job], capture_output=True,
                text=True).stdout.split() if "=" in f)
    assert info["JobState"] == "COMPLETED", (name, info["JobState"])
    times.append((info["StartTime"], info["EndTime"]))
assert all(times[i + 1][0] >= times[i][1] for i in range(len(times) - 1)), times' "$pipe/jobs.txt"
run inspect_generated 0 "$qvae" inspect "$pipe/generated.h5" --json
check generated_600_events json_is "d['events'] == 600 and d['geometry'] == 'ds2'"
check pipeline_outputs "$py" -c '
import h5py, json, math, os, sys
d = sys.argv[1]
for f in ("showers.h5", "run/best.h5", "run/history.csv", "generated.h5", "report/metrics.json",
          "report/histograms.h5", "report/index.html", "logz/prior.h5", "logz/logz.json", "logz/ll.json"):
    assert os.path.isfile(os.path.join(d, f)), f
assert h5py.File(os.path.join(d, "run/best.h5"), "r").attrs["format"] == "qvae-checkpoint"
m = json.load(open(os.path.join(d, "report/metrics.json")))
assert "value" in m["separation_power"]["etot_over_einc"]  # null (NaN) for a barely trained model
assert "rbm_energy" in m and "reconstruction" in m
z = json.load(open(os.path.join(d, "logz/logz.json")))
assert math.isfinite(z["logz_ais"]) and math.isfinite(z["logz_rais"])
ll = json.load(open(os.path.join(d, "logz/ll.json")))
assert ll, "empty LL table"' "$pipe"

# A failing first job cancels the rest: no afterok job runs.
bad="$work/bad"
run pipeline_failure 4 env QVAE_PIPELINE_DIR="$bad" QVAE_DATA="$work/no-such.h5" QVAE_EVENTS=10 QVAE_TASKS=1 \
  "$root/jobs/slurm/pipeline.sh" --wait
check failure_runs_nothing_after [ ! -e "$bad/generated.h5" ] && [ ! -e "$bad/report/metrics.json" ]

# --- 2. pre-emption: USR1 -> checkpoint -> requeue -> resume ------------------------------------
run_dir="$work/preempt"
id=$(QVAE_DATA="$pipe/showers.h5" QVAE_RUN_DIR="$run_dir" QVAE_CONFIG="$root/configs/experiment/tiny.ini" \
  QVAE_TRAIN_ARGS="--train.epochs=6 --train.max_batches_per_epoch=15" \
  sbatch --parsable -n 2 --output="$work/preempt-%j.out" "$root/jobs/slurm/train.sbatch")
for _ in $(seq 300); do compgen -G "$run_dir/checkpoint-0001*.h5" >/dev/null && break; sleep 0.2; done
run send_usr1 0 scancel --signal=USR1 --batch "$id"
# The requeued job waits out the credential lifetime (10 s on the local cluster) and runs again.
wait_jobs "$id"
log=$(cat "$work"/preempt-*.out)
[ "$(job_state "$id")" = COMPLETED ] || { echo "preempted job $id: $(job_state "$id")"; printf "%s\n" "$log" | grep -v "batches (" | tail -20; grep -E "JobId=$id\b|job $id\b|_$id\b" "$QVAE_SLURM_DIR/slurmctld.log" | tail -15; }
check preempted_job_completed [ "$(job_state "$id")" = COMPLETED ]
check requeued_once grep -q "requeueing job $id" <<<"$log"
check resumed_after_requeue grep -q "restart 1" <<<"$log"
check resumed_from_checkpoint grep -q "resuming from the newest checkpoint" <<<"$log"
out=$(cat "$run_dir/train.json")
check preempt_finished_all_epochs json_is "d['epochs_done'] == 6 and not d['interrupted']"
check history_every_epoch_once "$py" -c '
import csv, sys
epochs = [int(float(r["epoch"])) for r in csv.DictReader(open(sys.argv[1]))]
assert epochs == list(range(1, 7)), epochs' "$run_dir/history.csv"

# --- 3. a 4-point sweep array, collected -------------------------------------------------------
sweep="$work/sweep"
run sweep_plan 0 "$qvae" sweep plan --grid "$root/configs/sweep/tiny-train.ini" --out "$sweep" --json
check sweep_four_points json_is "d['points'] == 4"
run sweep_array 0 env QVAE_SWEEP_DIR="$sweep" \
  QVAE_SWEEP_ARGS="--data $pipe/showers.h5 --train.epochs=1 --train.max_batches_per_epoch=2" \
  QVAE_LAUNCH="${QVAE_LAUNCH}" sbatch --wait --array=0-3 -n 1 --output="$work/sweep-%a.out" "$root/jobs/slurm/sweep.sbatch"
run sweep_collect 0 "$qvae" sweep collect "$sweep" --json
check sweep_all_ok json_is "d['complete'] == 4 and all(r['status'] == 'ok' and r['final']['epoch'] == 1 for r in d['results'])"
check sweep_table_files [ -s "$sweep/results.csv" ] && [ -s "$sweep/results.json" ]
rm "$sweep/points/0002/history.csv" "$sweep/points/0002/train.json"
touch "$sweep/points/0003/FAILED"
run sweep_collect_again 0 "$qvae" sweep collect "$sweep" --json
check sweep_marks_missing_and_failed json_is "[r['status'] for r in d['results']] == ['ok', 'ok', 'missing', 'failed']"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
