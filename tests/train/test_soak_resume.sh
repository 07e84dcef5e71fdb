#!/usr/bin/env bash
# Soak test of crash-safe training: a tiny 2-rank training is interrupted 20
# times at random points (from a fixed seed) — SIGTERM to every rank, as Slurm
# sends it, or SIGKILL to one rank — and each time restarted with --resume from
# whatever its directory holds.  After every interruption each checkpoint
# under its final name is complete; at the end, the run finished by one more
# --resume has the same parameters (digest), losses and RBM as the
# uninterrupted run, and no temporary file is left behind.
# Usage: test_soak_resume.sh QVAE TINY_INI MPIEXEC [MPIEXEC FLAGS...]
set -u
source "$(dirname "${BASH_SOURCE[0]}")/../cli_harness.sh"
mpi_suite_arguments "$@"
RANDOM=7  # the same interruptions on every run of the test

"$qvae" simulate --events 300 --geometry ds2 --seed 5 --out showers.h5 >/dev/null 2>&1
train=("${mpi[@]}" -q -np 2 "$qvae" train --config "$tiny" --data showers.h5 --train.batch_size=16
       --train.max_batches_per_epoch=4 --train.val_max_events=16 --train.kl_warmup_ratio=0 --train.epochs=24
       --train.keep_last=2 --run.progress=off --run.log_level=warn --json)

run uninterrupted 0 "${train[@]}" --out straight && digest=$(json_get "['parameter_digest']")

# complete_checkpoints DIR: every checkpoint-*.h5 opens and holds a model and the history.
complete_checkpoints() {
  "$py" - "$1" <<'EOF'
import glob, sys, h5py
for path in glob.glob(sys.argv[1] + "/checkpoint-*.h5"):
    with h5py.File(path, "r") as f:
        if "model_state" not in f or "history" not in f or f["model_state"].shape[0] == 0: sys.exit(path)
EOF
}

terms=0; kills=0; termed_cleanly=0
for cycle in $(seq 1 20); do
  resume=()
  compgen -G "soak/checkpoint-*.h5" >/dev/null && resume=(--resume)
  "${train[@]}" --out soak "${resume[@]}" >/dev/null 2>"cycle$cycle.err" &
  launcher=$!
  sleep "$("$py" -c "print(1.0 + $RANDOM / 32767 * 3.0)")"
  ranks=($(pgrep -P "$launcher"))
  if ((RANDOM % 2)); then
    terms=$((terms + 1))
    [ "${#ranks[@]}" -gt 0 ] && kill -TERM "${ranks[@]}" 2>/dev/null
    wait "$launcher" && termed_cleanly=$((termed_cleanly + 1))
  else
    kills=$((kills + 1))
    [ "${#ranks[@]}" -gt 0 ] && kill -9 "${ranks[$((RANDOM % ${#ranks[@]}))]}" 2>/dev/null
    wait "$launcher"
  fi
  check "cycle${cycle}_checkpoints_complete" complete_checkpoints soak
done
echo "20 cycles: $terms SIGTERM ($termed_cleanly exited 0), $kills SIGKILL"
check some_sigterm_cycles_checkpointed test "$termed_cleanly" -gt 0
check some_sigkill_cycles test "$kills" -gt 0

run finish 0 "${train[@]}" --out soak --resume &&
  check soak_equals_uninterrupted_parameters test "$(json_get "['parameter_digest']")" = "$digest"
check soak_equals_uninterrupted_history "$py" - <<'EOF'
import sys, h5py, numpy as np
a, b = h5py.File("straight/checkpoint-0024.h5", "r"), h5py.File("soak/checkpoint-0024.h5", "r")
for name in ("rbm_biases", "rbm_weights"):
    if not np.array_equal(a[name][:], b[name][:]): sys.exit(name)
skip = {"train_s", "val_s", "showers_per_s", "elapsed_s", "ll_s"}
for c in a["history"].attrs["columns"].split(","):
    if c not in skip and not np.array_equal(a["history/" + c][:], b["history/" + c][:], equal_nan=True): sys.exit(c)
EOF
check no_temporaries_left bash -c '! compgen -G "soak/*.tmp-*" >/dev/null'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
