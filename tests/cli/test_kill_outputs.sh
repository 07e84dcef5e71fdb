#!/usr/bin/env bash
# Crash-safe outputs: `kill -9` of one rank of a 2-rank `simulate`, `generate`,
# `sample` and `logz` at several points of the run never leaves a partial file
# under the output's name.  Before each run an older complete file sits there;
# afterwards the name holds either that file or one equal, dataset by dataset,
# to an uninterrupted run's output.  The kill times are drawn from a fixed seed
# over the whole run, the write included; the test insists that some kills
# landed before the output was committed, so it cannot pass vacuously.
# Usage: test_kill_outputs.sh QVAE TINY_INI MPIEXEC [MPIEXEC FLAGS...]
set -u
source "$(dirname "${BASH_SOURCE[0]}")/../cli_harness.sh"
mpi_suite_arguments "$@"
RANDOM=20261207  # the kill times are the same on every run of the test

# same_h5 A B: every dataset of A equals B's (attributes such as provenance may differ).
same_h5() {
  "$py" - "$1" "$2" <<'EOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
other = []
b.visititems(lambda n, o: other.append(n) if isinstance(o, h5py.Dataset) else None)
if sorted(names) != sorted(other): sys.exit(1)
for n in names:
    x, y = a[n][()], b[n][()]
    if x.dtype.kind == "f":
        if not np.array_equal(x, y, equal_nan=True): sys.exit(1)
    elif not np.array_equal(x, y): sys.exit(1)
EOF
}

differ() { ! same_h5 "$1" "$2"; }

# Inputs: a small trained model (for generate) and an RBM (for sample and logz).
"$qvae" simulate --events 300 --geometry ds2 --seed 5 --out showers.h5 >/dev/null 2>&1
"$qvae" train --config "$tiny" --data showers.h5 --train.batch_size=16 --train.max_batches_per_epoch=2 \
  --train.val_max_events=16 --train.epochs=1 --run.progress=off --run.log_level=warn --out model >/dev/null 2>&1
"$qvae" rbm init --topology pegasus --size 4 --nodes-per-partition 30 --init normal --sigma 0.5 --seed 3 \
  --out rbm.h5 >/dev/null 2>&1
check inputs_exist test -f model/best.h5 -a -f rbm.h5

declare -A command
command[simulate]="simulate --events 4000 --geometry ds2 --seed SEED"
command[generate]="generate --model model/best.h5 --events 2000 --seed SEED"
command[sample]="sample --rbm rbm.h5 --chains 20000 --sweeps 200 --seed SEED"
command[logz]="logz --rbm rbm.h5 --method both --chains 256 --temps 3000 --reverse-start chains --seed SEED"

for name in simulate generate sample logz; do
  # The older file that must survive an interrupted run, and the complete result.
  run "${name}_old" 0 "${mpi[@]}" -q -np 2 "$qvae" ${command[$name]//SEED/1} --out "$name-old.h5"
  start=$(date +%s.%N)
  run "${name}_reference" 0 "${mpi[@]}" -q -np 2 "$qvae" ${command[$name]//SEED/2} --out "$name-ref.h5"
  duration=$("$py" -c "import time; print(time.time() - $start)")
  check "${name}_old_and_new_outputs_differ" differ "$name-old.h5" "$name-ref.h5"
  kept_old=0
  for attempt in 1 2 3 4 5; do
    # Uniform over [0.1 s, 1.1 x the uninterrupted wall time].
    delay=$("$py" -c "print(0.1 + $RANDOM / 32767 * (1.1 * $duration - 0.1))")
    cp "$name-old.h5" "$name.h5"
    "${mpi[@]}" -q -np 2 "$qvae" ${command[$name]//SEED/2} --out "$name.h5" >/dev/null 2>&1 &
    launcher=$!
    sleep "$delay"
    ranks=($(pgrep -P "$launcher"))
    if [ "${#ranks[@]}" -gt 0 ]; then kill -9 "${ranks[$((RANDOM % ${#ranks[@]}))]}" 2>/dev/null; fi
    wait "$launcher" 2>/dev/null
    if same_h5 "$name.h5" "$name-old.h5"; then
      kept_old=$((kept_old + 1))
      passed=$((passed + 1))
    elif same_h5 "$name.h5" "$name-ref.h5"; then
      passed=$((passed + 1))
    else
      echo "FAIL ${name}_kill_${attempt}: after kill -9 at ${delay} s '$name.h5' is neither the old file nor a complete output"
      failed=$((failed + 1))
    fi
  done
  echo "$name: 5 runs killed over ${duration%.*}+ s, $kept_old before the output was committed"
  check "${name}_some_kills_before_the_commit" test "$kept_old" -gt 0
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
