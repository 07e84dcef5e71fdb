#!/usr/bin/env bash
# Measures how training, Gibbs sampling and AIS scale with the rank count on
# this machine, as docs/scaling.md reports it: strong scaling (fixed total
# work) and weak scaling (fixed work per rank) on 1, 2, 4 and 8 ranks.
# Up to the core count each rank is bound to its own core; beyond it the ranks
# share the cores (oversubscribed), and the CPU-time figures are the ones to
# read.  Writes one JSON summary per run to OUTDIR and prints the tables.
# Usage: tools/scaling.sh OUTDIR [RANKS...]   (default ranks: 1 2 4 8)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -ge 1 ] || { echo "usage: tools/scaling.sh OUTDIR [RANKS...]" >&2; exit 2; }
out=$1
shift
ranks=("$@")
[ ${#ranks[@]} -gt 0 ] || ranks=(1 2 4 8)
"$root/tools/setup.sh" >/dev/null
qvae="$root/build/bin/qvae"
cores=$(nproc)
mkdir -p "$out"

run() {  # run NAME NP ARGS...: one benchmark, its JSON summary to OUTDIR/NAME-npNP.json
  local name=$1 np=$2
  shift 2
  local bind=(--bind-to core)
  [ "$np" -le "$cores" ] || bind=(--bind-to none)
  "$root/tools/mpirun.sh" -np "$np" "${bind[@]}" "$qvae" bench "$@" --json --run.progress=off \
    >"$out/$name-np$np.json"
  echo "scaling: $name on $np rank(s) done" >&2
}

for np in "${ranks[@]}"; do
  # Training: the reference ds2 CNN with its Pegasus 4 x 302 prior; strong at
  # a global batch of 32, weak at 16 showers per rank.
  run train-strong "$np" train --config "$root/configs/model/ds2-cnn-pegasus.ini" --batch-size 32 --batches 2
  run train-weak "$np" train --config "$root/configs/model/ds2-cnn-pegasus.ini" --batch-size $((16 * np)) --batches 2
  # Gibbs: block sweeps of the 4 x 302 Pegasus machine; 1024 chains in all, or 256 per rank.
  run gibbs-strong "$np" gibbs --chains 1024 --sweeps 200
  run gibbs-weak "$np" gibbs --chains $((256 * np)) --sweeps 200
  # AIS: forward annealing over 200 temperatures on the logz benchmark's hard model.
  run ais-strong "$np" logz --chains 1024 --temps 200 --converge-seconds 0
  run ais-weak "$np" logz --chains $((256 * np)) --temps 200 --converge-seconds 0
done

/usr/bin/env python3 - "$out" "${ranks[@]}" <<'PY'
import json, os, sys
out, ranks = sys.argv[1], [int(r) for r in sys.argv[2:]]
def load(name, np):
    path = os.path.join(out, f"{name}-np{np}.json")
    return json.load(open(path)) if os.path.exists(path) else None
def table(title, name, rate_of, cpu_of):
    print(f"\n{title}")
    print("| ranks | rate (wall) | speedup (wall) | CPU-time efficiency |")
    print("|---|---|---|---|")
    base = load(name, ranks[0])
    for np in ranks:
        r = load(name, np)
        if r is None or base is None:
            continue
        print(f"| {np} | {rate_of(r):.4g} | {rate_of(r) / rate_of(base):.2f}x | {cpu_of(base, r, np):.2f} |")
# CPU-time efficiency: the work per CPU-second relative to one rank (1.0 = no overhead).
train_eff = lambda b, r, np: (b["cpu_step_seconds"] / b["batch_size"]) / (r["cpu_step_seconds"] * np / r["batch_size"])
gibbs_eff = lambda b, r, np: b["ns_per_unit_update_cpu"] / r["ns_per_unit_update_cpu"]
# AIS: each run also times rank 0 alone on the same chains (side by side).
ais_eff = lambda b, r, np: r["rate"]["speedup_cpu_time"] / np
for kind in ("strong", "weak"):
    table(f"training ({kind}): showers/s", f"train-{kind}", lambda r: r["showers_per_s"], train_eff)
    table(f"Gibbs ({kind}): unit updates/s", f"gibbs-{kind}", lambda r: r["unit_updates_per_s"], gibbs_eff)
    table(f"AIS ({kind}): chain-temperature steps/s", f"ais-{kind}",
          lambda r: r["rate"]["chain_temperature_steps_per_s"], ais_eff)
PY
