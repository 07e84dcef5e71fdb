#!/usr/bin/env bash
# usage: test_logz_cli.sh QVAE MPIEXEC [MPIEXEC_FLAGS...]
# `qvae logz`, `qvae ll` (and `qvae bench logz` once wired) from the outside:
# --json keys, accuracy on a small model, 1 vs 2 ranks, the qvae-logz file,
# conditional log Z, RAISE, exit codes.
set -u
qvae=$1; shift
mpi=("$@" -np 2)
source "$(dirname "${BASH_SOURCE[0]}")/../cli_harness.sh"

quiet=(--run.progress=off)

# A 4 x 5 Pegasus model: 20 units, exact log Z by 2^15 terms.
run init 0 "$qvae" rbm init --topology pegasus --size 4 --nodes-per-partition 5 --seed 3 --out "$work/m.h5"

# --- exact ----------------------------------------------------------------------------------
run exact 0 "$qvae" logz --rbm "$work/m.h5" --method exact --json
exact=$(json_get "['logz']")
check exact_json [ "$(json_get "['logz'] == d['logz_exact'] and d['terms'] == 32768 and d['error'] == 0 and d['error_stat'] == 0 and d['error_sys'] == 0 and d['method'] == 'exact'")" = True ]
run exact_mpi 0 "${mpi[@]}" "$qvae" logz --rbm "$work/m.h5" --method exact --json
check exact_same_for_2_ranks [ "$(json_get "['logz']")" = "$exact" ]
run init_big 0 "$qvae" rbm init --topology pegasus --size 4 --nodes-per-partition 12 --seed 3 --out "$work/big.h5"
run exact_too_big 2 "$qvae" logz --rbm "$work/big.h5" --method exact --json && check exact_too_big_one_line one_error_line
check exact_too_big_says_force grep -q -- "--force" <<<"$err"
"$py" - "$work" <<'PY'
import h5py, numpy as np, sys
w = sys.argv[1]
with h5py.File(w + "/codes.h5", "w") as f:
    f["values"] = np.array([[1, 0, 1, 1, 0], [0, 0, 0, 0, 0]], dtype=np.uint8)
with h5py.File(w + "/bad_codes.h5", "w") as f:
    f["values"] = np.zeros((2, 4), dtype=np.uint8)
PY
run conditional 0 "$qvae" logz --rbm "$work/m.h5" --method exact --condition "$work/codes.h5" --json
check conditional_json [ "$(json_get "['logz_conditional'][0] < d['logz'] and len(d['logz_conditional']) == 2")" = True ]
run conditional_bad_shape 3 "$qvae" logz --rbm "$work/m.h5" --method exact --condition "$work/bad_codes.h5" --json
check conditional_bad_shape_one_line one_error_line

# --- both: accuracy, keys, 1 vs 2 ranks, file -------------------------------------------------------
args=(--rbm "$work/m.h5" --method both --chains 300 --temps 300 --seed 7 --json "${quiet[@]}")
run both 0 "$qvae" logz "${args[@]}" --out "$work/l1.h5" --epoch 3
one=$out
check both_keys [ "$(json_get "['logz_ais'] <= 1e9 and d['logz_rais'] <= 1e9 and d['error_stat'] > 0 and abs(d['error'] - (d['error_stat']**2 + (abs(d['logz_ais'] - d['logz_rais']) / 2)**2)**0.5) < 1e-12 and d['ess'] > 0 and 'bracket' in d and d['bracket']['inversion_significant'] == False and d['rais_is_bound'] and d['reverse_start'] == 'exact'")" = True ]
check both_near_exact [ "$(json_get "[\"logz_ais\"] - $exact" | "$py" -c 'import sys; print(abs(float(sys.stdin.read())) < 0.1)')" = True ]
check rais_near_exact [ "$(json_get "[\"logz_rais\"] - $exact" | "$py" -c 'import sys; print(abs(float(sys.stdin.read())) < 0.1)')" = True ]
run both_mpi 0 "${mpi[@]}" "$qvae" logz "${args[@]}" --out "$work/l2.h5"
two=$out
same_numbers() {
  "$py" -c 'import json,sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
keys = ["logz", "logz_ais", "logz_rais", "error", "error_stat", "error_sys", "stderr_ais", "stderr_rais", "ess_ais", "ess_rais", "bracket"]
sys.exit(0 if all(a[k] == b[k] for k in keys) and a["ranks"] == 1 and b["ranks"] == 2 else 1)' "$one" "$two"
}
check both_same_for_2_ranks same_numbers
check logz_file_v1 "$py" -c '
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert a.attrs["format"] == "qvae-logz" and int(a.attrs["format_version"]) == 1 and int(a.attrs["seed"]) == 7
assert a.attrs["method"] == "both" and int(a.attrs["temperatures"]) == 300 and int(a.attrs["chains"]) == 300
s = a["schedule"][:]
assert s.shape == (301,) and s[0] == 0 and s[-1] == 1 and (np.diff(s) > 0).all()
for k in ("log_weights_ais", "log_weights_rais"):
    assert a[k].shape == (300,) and a[k].dtype == np.float64 and np.array_equal(a[k][:], b[k][:]), k
assert float(a.attrs["log_z_error"]) >= float(a.attrs["log_z_error_sys"]) == abs(a["log_z_ais"][0] - a["log_z_rais"][0]) / 2
for k in ("log_z", "log_z_ais", "log_z_rais", "log_z_ais_error", "log_z_rais_error", "log_z_error", "log_z_error_stat",
          "log_z_error_sys"):
    assert a[k].shape == (1,) and a[k][0] == b[k][0], k
w = a["log_weights_ais"][:]; m = w.max()
assert abs(float(a.attrs["log_z0"]) + m + np.log(np.mean(np.exp(w - m))) - a["log_z_ais"][0]) < 1e-9
assert "created_by" in a.attrs and "config" in a.attrs
assert a["epoch"][:].tolist() == [3] and "epoch" not in b' "$work/l1.h5" "$work/l2.h5"
run schedule_adaptive 0 "$qvae" logz --rbm "$work/m.h5" --method ais --chains 64 --temps 30 --schedule adaptive --json "${quiet[@]}"
check schedule_adaptive_json [ "$(json_get "['schedule'] == 'adaptive' and d['temps'] == 30 and 'logz_rais' not in d")" = True ]

# --- reverse starts: chains (no bound), data (RAISE) --------------------------------------------------
run rais_chains 0 "$qvae" logz --rbm "$work/m.h5" --method rais --reverse-start chains --equilibration-sweeps 50 --chains 64 --temps 50 --json "${quiet[@]}"
check rais_chains_flagged [ "$(json_get "['rais_is_bound'] == False and d['reverse_start'] == 'chains' and len(d['warnings']) >= 1")" = True ]
run samples 0 "$qvae" sample --rbm "$work/m.h5" --chains 40 --sweeps 200 --seed 5 --out "$work/latents.h5"
run raise 0 "${mpi[@]}" "$qvae" logz --rbm "$work/m.h5" --method rais --reverse-start data --latents "$work/latents.h5" --chains 80 --temps 100 --json "${quiet[@]}"
check raise_json [ "$(json_get "['raise']['rows'] == 40 and d['raise']['ll'] < 0 and d['reverse_start'] == 'data'")" = True ]

# --- ll ----------------------------------------------------------------------------------------
run ll 0 "$qvae" ll --rbm "$work/m.h5" --latents "$work/latents.h5" --random-reference --chains 100 --temps 100 --gibbs-sweeps 50 --json "${quiet[@]}"
ll_one=$out
check ll_json [ "$(json_get "['codes'] == 40 and len(d['table']) == 4 and [r['model'] + '/' + r['samples'] for r in d['table']] == ['trained/encoded', 'trained/gibbs', 'random/gibbs', 'random/encoded'] and isinstance(d['order']['ok'], bool) and set(d['ll']) == {'trained_encoded', 'trained_gibbs', 'random_gibbs', 'random_encoded'} and 'random' in d['logz']")" = True ]
check ll_formula [ "$(json_get "['table'][0]['ll_ais'] + d['table'][0]['mean_energy'] + d['logz']['trained']['logz_ais']" | "$py" -c 'import sys; print(abs(float(sys.stdin.read())) < 1e-9)')" = True ]
run ll_mpi 0 "${mpi[@]}" "$qvae" ll --rbm "$work/m.h5" --latents "$work/latents.h5" --random-reference --chains 100 --temps 100 --gibbs-sweeps 50 --json "${quiet[@]}"
check ll_same_for_2_ranks "$py" -c 'import json,sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.exit(0 if a["table"] == b["table"] and a["order"] == b["order"] else 1)' "$ll_one" "$out"
run ll_human 0 "$qvae" ll --rbm "$work/m.h5" --latents "$work/latents.h5" --chains 50 --temps 50 --gibbs-sweeps 20 "${quiet[@]}"
check ll_human_table grep -q "trained  encoded" <<<"$err"
check ll_error_is_combined [ "$(printf '%s' "$ll_one" | "$py" -c "import json,sys; d=json.load(sys.stdin); r=d['table'][0]; z=d['logz']['trained']; print(abs(r['ll_error'] - (z['error']**2 + r['energy_stderr']**2)**0.5) < 1e-12 and abs(r['ll'] + r['mean_energy'] + z['logz']) < 1e-9)")" = True ]

# --- an inverted bracket: reverse chains that never equilibrate, few temperatures -------------------
run inverted 0 "$qvae" logz --rbm "$work/m.h5" --method both --reverse-start chains --equilibration-sweeps 0 --chains 200 --temps 3 --seed 5 --json "${quiet[@]}"
inverted_json=$out
if [ "$(json_get "['bracket']['inverted']")" = True ] && [ "$(json_get "['bracket']['inversion_significant']")" = True ]; then
  check inverted_alert_line [ "$(printf '%s\n' "$err" | grep -c '^qvae: warning: the log Z bracket is inverted')" -eq 1 ]
  check inverted_alert_advice grep -q -- "raise --temps" <<<"$err"
  check inverted_json_warning [ "$(printf '%s' "$inverted_json" | "$py" -c "import json,sys; d=json.load(sys.stdin); print(any('bracket is inverted' in w for w in d['warnings']))")" = True ]
  run inverted_mpi 0 "${mpi[@]}" "$qvae" logz --rbm "$work/m.h5" --method both --reverse-start chains --equilibration-sweeps 0 --chains 200 --temps 3 --seed 5 --json "${quiet[@]}"
  check inverted_alert_once_on_2_ranks [ "$(printf '%s\n' "$err" | grep -c '^qvae: warning: the log Z bracket is inverted')" -eq 1 ]
else
  echo "FAIL inverted: this run did not invert its bracket: $(json_get "['bracket']")"; failed=$((failed + 1))
fi

# --- errors --------------------------------------------------------------------------------------
run no_rbm 2 "$qvae" logz --method ais && check no_rbm_one_line one_error_line
run bad_method 2 "$qvae" logz --rbm "$work/m.h5" --method mcmc && check bad_method_one_line one_error_line
run data_without_latents 2 "$qvae" logz --rbm "$work/m.h5" --method rais --reverse-start data
check data_without_latents_one_line one_error_line
run missing_rbm 3 "${mpi[@]}" "$qvae" logz --rbm "$work/nope.h5" --out "$work/e.h5" && check missing_rbm_once one_error_line
run wrong_latents 3 "${mpi[@]}" "$qvae" ll --rbm "$work/m.h5" --latents "$work/codes.h5" --out "$work/e.h5"
check wrong_latents_one_line one_error_line
check wrong_latents_names_dataset grep -q "no dataset 'latents'" <<<"$err"
run ll_no_latents 2 "$qvae" ll --rbm "$work/m.h5" && check ll_no_latents_one_line one_error_line
run overwrite_input 2 "$qvae" logz --rbm "$work/m.h5" --out "$work/m.h5"
check errors_leave_no_output bash -c '! ls "$0"/e.h5* >/dev/null 2>&1' "$work"

# --- bench logz ----------------------------------------------------------------------------------------
run bench 0 "${mpi[@]}" "$qvae" bench logz --topology pegasus --size 4 --nodes-per-partition 5 --chains 32 --temps 10 --start-temps 20 --equilibration-sweeps 10 --converge-seconds 5 --json "${quiet[@]}"
check bench_json [ "$(json_get "['benchmark'] == 'logz' and d['ranks'] == 2 and d['rate']['chain_temperature_steps_per_s'] > 0 and d['rate']['identical_across_rank_counts'] and len(d['convergence']['rounds']) >= 1")" = True ]

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
