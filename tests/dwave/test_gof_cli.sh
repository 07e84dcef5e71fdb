#!/usr/bin/env bash
# usage: test_gof_cli.sh QVAE MPIEXEC [MPIEXEC_FLAGS...]
# `qvae gof` (kernel Stein discrepancy test of a samples file) and
# `qvae dwave beta --method stein` from the outside: JSON fields, the verdict on
# the model's own samples at the right and at a wrong beta, 1 rank == 2 ranks,
# exit codes.  Few invocations: each start of qvae costs about 2 s here.
set -u
qvae=$1; shift
mpi=("$@" -np 2)
source "$(dirname "$0")/../cli_harness.sh"

run rbm_init 0 "$qvae" rbm init --topology pegasus --size 4 --nodes-per-partition 8 --sigma 0.5 --seed 3 \
  --out "$work/m.h5"
run sample_model 0 "$qvae" sample --rbm "$work/m.h5" --chains 400 --sweeps 200 --seed 4 --out "$work/own.h5"
# Broken copies of the samples file: 24 columns for the 32-node model, and a value 2 in row 350.
"$py" -c '
import h5py, numpy as np, shutil, sys
own, narrow, bad = sys.argv[1:4]
shutil.copy(own, narrow); shutil.copy(own, bad)
with h5py.File(narrow, "r+") as f:
    s = f["samples"][:, :24]; del f["samples"]; f["samples"] = s
with h5py.File(bad, "r+") as f: f["samples"][350, 3] = 2' "$work/own.h5" "$work/narrow.h5" "$work/bad.h5"

# --- the model's own samples pass; 1 and 2 ranks agree; the same samples fail at another beta ---------
run gof_own 0 "$qvae" gof --rbm "$work/m.h5" --samples "$work/own.h5" --bootstrap 300 --seed 7 --json
check gof_own_json json_is "d['samples'] == 400 and d['nodes'] == 32 and d['beta'] == 1 and d['bootstrap'] == 300 \
  and d['alpha'] == 0.05 and d['std_error'] > 0 and abs(d['kdsd']) < 4 * d['std_error'] and d['p_value'] > 0.01 \
  and d['consistent'] == (d['p_value'] >= 0.05) and d['ranks'] == 1"
own_1=$out
run gof_own_2 0 "${mpi[@]}" "$qvae" gof --rbm "$work/m.h5" --samples "$work/own.h5" --bootstrap 300 --seed 7 --json
check gof_ranks_agree "$py" -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert b["ranks"] == 2
for k in ("kdsd", "std_error", "p_value", "samples", "consistent"): assert a[k] == b[k], (k, a[k], b[k])' "$own_1" "$out"
run gof_wrong_beta 0 "$qvae" gof --rbm "$work/m.h5" --samples "$work/own.h5" --beta 2 --bootstrap 300 --json
check gof_wrong_beta_flagged json_is "d['consistent'] is False and d['p_value'] < 0.01 and d['kdsd'] > 3 * d['std_error']"
run gof_no_bootstrap 0 "$qvae" gof --rbm "$work/m.h5" --samples "$work/own.h5" --bootstrap 0 --json
check gof_no_bootstrap_json json_is "d['p_value'] is None and d['consistent'] is None and d['std_error'] > 0"

# --- beta_eff by minimising the KDSD of one set of device reads; 1 and 2 ranks agree -------------------
stein=(dwave beta --rbm "$work/m.h5" --method stein --backend gibbs --device-beta 2.5 --reads 1500 --seed 2 --json)
run beta_stein 0 "$qvae" "${stein[@]}"
check beta_stein_recovered json_is "d['method'] == 'stein' and d['converged'] and abs(d['beta_eff'] - 2.5) < 0.125 \
  and 0 < d['uncertainty'] < 0.125 and len(d['history']) == d['iterations'] and d['device_beta'] == 2.5"
stein_1=$out
run beta_stein_2 0 "${mpi[@]}" "$qvae" "${stein[@]}"
check beta_stein_ranks_agree "$py" -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert b["ranks"] == 2 and a["beta_eff"] == b["beta_eff"] and a["iterations"] == b["iterations"]
assert [h["statistic"] for h in a["history"]] == [h["statistic"] for h in b["history"]]' "$stein_1" "$out"

# --- errors: one line, documented exit codes ---------------------------------------------------------------
run missing_file 3 "$qvae" gof --rbm "$work/m.h5" --samples "$work/nope.h5" --json
check missing_file_one_line one_error_line
run wrong_nodes 3 "$qvae" gof --rbm "$work/m.h5" --samples "$work/narrow.h5" --json
check wrong_nodes_one_line one_error_line
check wrong_nodes_message grep -q 'do not fit a machine of 32 nodes' "$work/err"
run non_binary_2 3 "${mpi[@]}" "$qvae" gof --rbm "$work/m.h5" --samples "$work/bad.h5" --json
check non_binary_2_one_line one_error_line
check non_binary_message grep -q 'sample 350 holds the value 2' "$work/err"
run not_samples 3 "$qvae" gof --rbm "$work/m.h5" --samples "$work/m.h5" && check not_samples_one_line one_error_line
run unknown_option 2 "$qvae" gof --rbm "$work/m.h5" --samples "$work/own.h5" --bogus 1
check unknown_option_one_line one_error_line
run nan_beta 2 "$qvae" gof --rbm "$work/m.h5" --samples "$work/own.h5" --beta nan && check nan_beta_one_line one_error_line

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
