#!/usr/bin/env bash
# The `qvae train` / `qvae generate` flow end to end:
# a tiny model trains on 1 and 2 ranks, resumes bit-exactly (4 epochs straight
# == 2 + --resume + 2), survives SIGTERM (exit 0, resumable) and a second
# signal (immediate exit, last checkpoint intact), and generates a valid
# CaloChallenge file identical on 1 and 2 ranks; a NaN injected on one rank is
# skipped by both and counted in the history, a run past train.max_rollbacks
# exits 4; bad usage gives one error line and exit 2; every geometry and every
# shipped fidelity recipe trains on 2 ranks (smoke).  Prints "N passed, N failed".
# Usage: test_train_cli.sh QVAE TINY_INI MPIEXEC [MPIEXEC FLAGS...]
set -u
qvae="$(realpath "$1")"
tiny="$(realpath "$2")"
shift 2
mpi=("$@")
python=/usr/bin/python3
work="$(mktemp -d "${TMPDIR:-/tmp}/qvae-train-cli.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
passed=0
failed=0
check() {  # check NAME COMMAND...
  local name="$1"
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "PASS $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
  fi
}
# Short runs: 3 batches of 16 per epoch, 16 validation events, quiet.  The KL
# warm-up is a fraction of train.epochs, so it is off here: the 2 + 2 run raises
# train.epochs on resume (docs/training.md "Resume").
quick=(--config "$tiny" --data showers.h5 --train.batch_size=16 --train.max_batches_per_epoch=3
       --train.val_max_events=16 --train.kl_warmup_ratio=0 --run.progress=off --run.log_level=warn)
np2=("${mpi[@]}" -np 2)

"$qvae" simulate --events 300 --geometry ds2 --seed 5 --out showers.h5 >/dev/null 2>&1

# --- 4 epochs straight vs 2 + resume + 2, on 2 ranks -------------------------
"${np2[@]}" "$qvae" train "${quick[@]}" --train.epochs=4 --out straight --json >straight.json 2>straight.err
check "train 4 epochs on 2 ranks" test -f straight/checkpoint-0004.h5 -a -f straight/best.h5
check "keep_last prunes old checkpoints" test ! -f straight/checkpoint-0001.h5
"${np2[@]}" "$qvae" train "${quick[@]}" --train.epochs=2 --out split >/dev/null 2>split.err
"${np2[@]}" "$qvae" train "${quick[@]}" --train.epochs=4 --out split --resume >/dev/null 2>resume.err
check "resume reached epoch 4" test -f split/checkpoint-0004.h5
same_run() {  # same_run A B: identical losses, schedules and RBM (times excluded)
  "$python" - "$1" "$2" <<'EOF'
import sys, h5py, numpy as np
a, b = (h5py.File(p + "/checkpoint-0004.h5", "r") for p in sys.argv[1:3])
for name in ("rbm_biases", "rbm_weights"):
    if not np.array_equal(a[name][:], b[name][:]): sys.exit(f"{name} differs")
skip = {"train_s", "val_s", "showers_per_s", "elapsed_s", "ll_s"}
cols = a["history"].attrs["columns"].split(",")
for c in cols:
    if c in skip: continue
    if not np.array_equal(a["history/" + c][:], b["history/" + c][:], equal_nan=True): sys.exit(f"history column {c} differs")
if a["model_state"].shape != b["model_state"].shape: sys.exit("model_state sizes differ")
EOF
}
check "4 straight == 2 + resume + 2 (bit-exact)" same_run straight split
# The optimiser's state is stored whole, not per rank: a 2-rank checkpoint
# resumes on 1 rank to what 2 ranks make of it, there with every rank keeping
# all moments (train.shard_optimizer = false; micro-batches fixed at 16, so the
# same algorithm; float32 summation order differs, hence the tolerance).
cp -r split onto1 && cp -r split onto2
"$qvae" train "${quick[@]}" --train.epochs=5 --out onto1 --resume >/dev/null 2>onto1.err
"${np2[@]}" "$qvae" train "${quick[@]}" --train.epochs=5 --out onto2 --resume --train.shard_optimizer=false \
  >/dev/null 2>onto2.err
same_continuation() {
  "$python" - <<'EOF'
import sys, h5py, numpy as np
a, b = (h5py.File(p + "/checkpoint-0005.h5", "r") for p in ("onto1", "onto2"))
if a.attrs["ranks"] != 1 or b.attrs["ranks"] != 2: sys.exit("expected 1 and 2 ranks")
if a.attrs["optimizer_steps"] != b.attrs["optimizer_steps"] or a.attrs["optimizer_steps"] != 15:
    sys.exit("optimizer_steps: %s %s" % (a.attrs["optimizer_steps"], b.attrs["optimizer_steps"]))
for name in ("optimizer_exp_avg", "optimizer_exp_avg_sq"):
    x, y = a[name][:], b[name][:]
    if x.shape != y.shape: sys.exit(name + " shapes differ")
    if not np.allclose(x, y, rtol=1e-3, atol=1e-3 * np.abs(y).max()): sys.exit(name + " differs")
for c in ("train_loss", "val_loss"):
    x, y = a["history/" + c][-1], b["history/" + c][-1]
    if abs(x - y) > 1e-4 * abs(y): sys.exit(f"{c}: {x} on 1 rank, {y} on 2")
EOF
}
check "a 2-rank checkpoint resumes on 1 rank as on 2" same_continuation
history_ok() {
  "$python" - <<'EOF'
import sys, h5py, csv
h = h5py.File("straight/history.h5", "r")
if h.attrs["format"] != "qvae-history" or int(h.attrs["epochs"]) != 4: sys.exit("bad history.h5")
for c in ("train_ae_loss", "val_loss", "val_kl_loss", "showers_per_s", "lr", "beta", "kl_weight"):
    if h[c].shape != (4,): sys.exit("missing " + c)
rows = list(csv.DictReader(open("straight/history.csv")))
if len(rows) != 4 or float(rows[3]["epoch"]) != 4: sys.exit("bad history.csv")
c = h5py.File("straight/best.h5", "r")
if c.attrs["format"] != "qvae-checkpoint" or "model_state" not in c or "optimizer_exp_avg" not in c: sys.exit("bad best.h5")
EOF
}
check "history.h5, history.csv and best.h5 are complete" history_ok
check "--json names the final epoch" grep -q '"epochs_done":4' straight.json

# --- one rank, then generation on 1 and 2 ranks ------------------------------
"$qvae" train "${quick[@]}" --train.epochs=1 --out single >/dev/null 2>single.err
check "train on 1 rank" test -f single/best.h5
"$qvae" generate --model straight/best.h5 --events 40 --seed 3 --out gen1.h5 >/dev/null 2>gen1.err
"${np2[@]}" "$qvae" generate --model straight --events 40 --seed 3 --out gen2.h5 --chunk-events 256 >/dev/null 2>gen2.err
check "generated file is a valid CaloChallenge file" "$qvae" inspect gen1.h5
same_file() {
  "$python" - <<'EOF'
import sys, h5py, numpy as np
a, b = h5py.File("gen1.h5", "r"), h5py.File("gen2.h5", "r")
if a["showers"].shape != (40, 6480): sys.exit("bad shape")
for n in ("showers", "incident_energies"):
    if not np.array_equal(a[n][:], b[n][:]): sys.exit(n + " differs between 1 and 2 ranks")
if not (a["showers"][:] >= 0).all() or a["showers"][:].sum() <= 0: sys.exit("bad showers")
EOF
}
check "generate: 1 rank == 2 ranks" same_file
"$qvae" generate --model straight/best.h5 --energies showers.h5 --events 10 --seed 3 --out gen3.h5 >/dev/null 2>&1
check "generate --energies FILE" "$python" -c "
import h5py, numpy as np, sys
a, b = h5py.File('gen3.h5', 'r'), h5py.File('showers.h5', 'r')
sys.exit(0 if np.array_equal(a['incident_energies'][:], b['incident_energies'][:10]) else 1)"

# --- SIGTERM: finish the batch, checkpoint, exit 0, resume bit-exactly ------
wait_for_epoch() {  # wait_for_epoch DIR: until history.csv exists (<= 120 s)
  for _ in $(seq 1 600); do
    [ -f "$1/history.csv" ] && return 0
    sleep 0.2
  done
  return 1
}
"${np2[@]}" "$qvae" train "${quick[@]}" --train.epochs=4 --out signalled --json >signalled.json 2>signalled.err &
pid=$!
wait_for_epoch signalled
kill -USR1 "$pid"  # mpirun forwards SIGUSR1 to every rank (Slurm signals every task itself)
wait "$pid"
rc=$?
check "SIGUSR1 on 2 ranks exits 0" test "$rc" -eq 0
check "SIGUSR1 reports an interrupted run" grep -q '"interrupted":true' signalled.json
check "SIGUSR1 left a checkpoint before epoch 4" test ! -f signalled/checkpoint-0004.h5
"${np2[@]}" "$qvae" train "${quick[@]}" --train.epochs=4 --out signalled --resume --json >resumed.json 2>resumed.err
check "the signalled run resumes to completion" grep -q '"interrupted":false' resumed.json
check "signalled + resumed == straight (bit-exact)" same_run straight signalled

"$qvae" train "${quick[@]}" --train.epochs=100 --out termed --json >termed.json 2>termed.err &
pid=$!
wait_for_epoch termed
kill -TERM "$pid"
wait "$pid"
rc=$?
check "SIGTERM on 1 rank exits 0, interrupted" test "$rc" -eq 0 -a -n "$(grep '"interrupted":true' termed.json)"

# --- a second signal exits at once; the last checkpoint stays intact ---------
"$qvae" train "${quick[@]}" --train.epochs=100 --out twice >/dev/null 2>twice.err &
pid=$!
wait_for_epoch twice
kill -TERM "$pid"
sleep 0.05
kill -TERM "$pid"
wait "$pid"
rc=$?
check "a second SIGTERM exits at once (128+15)" test "$rc" -eq 143
intact() {
  "$python" - <<'EOF'
import sys, glob, h5py
files = sorted(glob.glob("twice/checkpoint-*.h5")) + ["twice/best.h5"]
for p in files:
    with h5py.File(p, "r") as f:
        if f.attrs["format"] != "qvae-checkpoint" or f["model_state"].shape[0] == 0: sys.exit("bad " + p)
EOF
}
check "checkpoints intact after the second signal" intact
"$qvae" train "${quick[@]}" --out twice --resume --train.epochs=1 >/dev/null 2>&1
rc=$?
check "the killed run is still resumable (nothing left to do at 1 epoch)" test "$rc" -eq 0

# --- stability guard -----------------------------------------------
# A NaN loss on rank 1 only: both ranks skip batch 2 of epoch 1, the run ends
# normally and the history counts one bad batch.
"${np2[@]}" "$qvae" train "${quick[@]}" --train.epochs=1 '--train.fault_injection=nan_loss@1:2#1' --out guarded \
  --json >guarded.json 2>guarded.err
rc=$?
check "a NaN loss on one rank: exit 0" test "$rc" -eq 0
guarded_ok() {
  "$python" - <<'EOF'
import sys, csv, json, h5py, numpy as np
rows = list(csv.DictReader(open("guarded/history.csv")))
if len(rows) != 1: sys.exit("expected 1 epoch")
r = rows[0]
if float(r["bad_batches"]) != 1 or float(r["rollbacks"]) != 0: sys.exit("bad_batches/rollbacks: " + str(r))
if float(r["train_events"]) != 32: sys.exit("expected 2 of 3 batches applied: " + r["train_events"])
h = h5py.File("guarded/history.h5", "r")
if h.attrs["format_version"] != 2 or h["bad_batches"][0] != 1: sys.exit("bad history.h5")
c = h5py.File("guarded/checkpoint-0001.h5", "r")
if c.attrs["format_version"] != 3 or "guard_state" not in c: sys.exit("bad checkpoint")
if "optimizer_state" in c or c["optimizer_exp_avg"].shape != c["optimizer_exp_avg_sq"].shape: sys.exit("bad optimizer state")
for name in ("rbm_biases", "rbm_weights"):
    if not np.isfinite(c[name][:]).all(): sys.exit(name + " not finite")
for name in ("train_loss", "val_loss"):
    if not np.isfinite(float(r[name])): sys.exit(name + " not finite")
if json.load(open("guarded.json"))["last_epoch"]["bad_batches"] != 1: sys.exit("--json lacks bad_batches")
EOF
}
check "the history records 1 bad batch in epoch 1 and the model is finite" guarded_ok
check "the skipped batch is logged" grep -q "epoch 1 batch 2: non-finite loss" guarded.err
# No rollback left (max_rollbacks = 0): the first bad batch ends the run, exit 4, one line.
"${np2[@]}" "$qvae" train "${quick[@]}" --train.epochs=1 --train.max_bad_batches=1 --train.max_rollbacks=0 \
  --train.fault_injection=nan_grad@1:0 --out diverged >/dev/null 2>diverged.err
rc=$?
check "divergence past train.max_rollbacks: exit 4, one error line" \
  test "$rc" -eq 4 -a "$(grep -c '^qvae: error: training diverged' diverged.err)" -eq 1

# --- usage errors: one line, exit 2 ------------------------------------------
one_error() {  # one_error EXPECTED_RC COMMAND...
  local want="$1"
  shift
  "$@" >/dev/null 2>err.txt
  local rc=$?
  [ "$rc" -eq "$want" ] && [ "$(grep -c '^qvae: error:' err.txt)" -eq 1 ]
}
check "no --data: exit 2" one_error 2 "$qvae" train --config "$tiny" --out nodata
check "--resume without a run: exit 2" one_error 2 "$qvae" train "${quick[@]}" --out empty --resume
check "existing run without --resume: exit 2" one_error 2 "$qvae" train "${quick[@]}" --out straight
check "resume with another batch size: exit 2" one_error 2 "$qvae" train "${quick[@]}" --out straight --resume --train.batch_size=8
check "malformed train.fault_injection: exit 2" one_error 2 "$qvae" train "${quick[@]}" --out badfault --train.fault_injection=nan_loss@1
check "generate from a missing model: exit 3" one_error 3 "$qvae" generate --model nowhere.h5 --events 5 --out x.h5

# --- train.best = ll: AIS on the prior at the chosen epochs, on 2 ranks -------
"${np2[@]}" "$qvae" train "${quick[@]}" --train.epochs=2 --train.best=ll --train.ll_every=1 --train.ll_chains=16 \
  --train.ll_temperatures=20 --out ll --json >ll.json 2>ll.err
ll_ok() {
  "$python" - <<'EOF'
import json, sys, h5py, numpy as np
h = h5py.File("ll/history.h5", "r")
ll = h["val_ll"][:]
if not np.all(np.isfinite(ll)): sys.exit(f"val_ll not finite: {ll}")
best = json.load(open("ll.json"))["best_epoch"]
if best != int(np.argmax(ll)) + 1: sys.exit(f"best epoch {best}, LL {ll}")
EOF
}
check "train.best = ll records val_ll and picks its maximum" ll_ok

# --- every geometry trains from simulated data on 2 ranks (smoke) ------------
# ds1 needs the MLP networks; the GFlash ds1-photons file has voxels above
# E_inc, which model.fraction_scale = auto takes in (docs/model.md).
configs="$(dirname "$tiny")/.."
mlp=(--model.encoder=fcn --model.decoder=fcn --model.fcn_encoder_hidden=32 --model.fcn_decoder_hidden=32,32)
# ds1 energies reach 4.2 TeV: the energy code must be sized for them.
ds1_code=(--model.energy_code_widths=auto --model.energy_code_max_mev=4194304)
for geometry in ds1-photons ds1-pions ds3; do
  "$qvae" simulate --events 120 --geometry "$geometry" --energies ds1 --config "$configs/data/gflash-ds1.ini" \
    --seed 9 --out "$geometry.h5" >/dev/null 2>&1
  extra=()
  [ "$geometry" = ds3 ] || extra=("${mlp[@]}")
  "${np2[@]}" "$qvae" train --config "$tiny" --data "$geometry.h5" --train.batch_size=16 --train.epochs=1 \
    --train.max_batches_per_epoch=2 --train.val_max_events=16 --run.progress=off --run.log_level=warn \
    "${extra[@]}" "${ds1_code[@]}" --out "run-$geometry" --json >"run-$geometry.json" 2>"run-$geometry.err"
  check "$geometry trains on 2 ranks" test -f "run-$geometry/best.h5"
done
# Every shipped fidelity recipe, as written, trains on its geometry (2 batches).
for recipe in "$configs"/experiment/fidelity-*.ini; do
  name="$(basename "$recipe" .ini)"
  geometry="${name#fidelity-}"
  [ -f "$geometry.h5" ] || "$qvae" simulate --events 120 --geometry "$geometry" --seed 9 --out "$geometry.h5" \
    >/dev/null 2>&1
  "${np2[@]}" "$qvae" train --config "$recipe" --data "$geometry.h5" --train.batch_size=16 \
    --train.micro_batch_size=8 --train.epochs=1 --train.max_batches_per_epoch=2 --train.val_max_events=16 \
    --run.progress=off --run.log_level=warn --out "run-$name" >/dev/null 2>"run-$name.err"
  check "recipe $name trains on $geometry, 2 ranks" test -f "run-$name/best.h5"
done
above_inc() {
  "$python" - <<'EOF'
import sys, h5py, numpy as np
f = h5py.File("ds1-photons.h5", "r")
if not (f["showers"][:].max(axis=1) > f["incident_energies"][:, 0]).any(): sys.exit("no voxel above E_inc")
EOF
}
check "the ds1-photons file has voxels above E_inc" above_inc
check "auto fraction scale recorded in the run's config" \
  "$python" -c "import h5py,sys; c=h5py.File('run-ds1-photons/best.h5','r').attrs['config']; sys.exit(0 if 'fraction_scale = 2' in c else 1)"
"${np2[@]}" "$qvae" train --config "$tiny" --data ds1-photons.h5 "${mlp[@]}" "${ds1_code[@]}" --model.fraction_scale=1 \
  --train.batch_size=16 --train.epochs=1 --run.progress=off --out scale1 >/dev/null 2>err.txt
rc=$?
check "a file beyond model.fraction_scale: exit 3, one error line, before any checkpoint" \
  test "$rc" -eq 3 -a "$(grep -c '^qvae: error:' err.txt)" -eq 1 -a ! -f scale1/checkpoint-0001.h5

"${np2[@]}" "$qvae" train --config "$tiny" --data ds1-photons.h5 "${mlp[@]}" --train.batch_size=16 --train.epochs=1 \
  --run.progress=off --out smallcode >/dev/null 2>err.txt
rc=$?
check "energies beyond the energy code: exit 3, one error line, before any checkpoint" \
  test "$rc" -eq 3 -a "$(grep -c '^qvae: error:' err.txt)" -eq 1 -a ! -f smallcode/checkpoint-0001.h5

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
