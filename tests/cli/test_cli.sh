#!/usr/bin/env bash
# usage: test_cli.sh QVAE MPIEXEC [MPIEXEC_FLAGS...]
# Checks the CLI contract of docs/architecture.md from the outside.
set -u
qvae=$1; shift
mpi=("$@" -np 2)
source "$(dirname "${BASH_SOURCE[0]}")/../cli_harness.sh"

is_one_json_object() { [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && printf '%s' "$out" | "$py" -c 'import json,sys; d=json.load(sys.stdin); assert isinstance(d, dict)'; }

run help 0 "$qvae" --help && check help_lists_every_command bash -c \
  'for c in simulate inspect graph rbm sample logz ll train generate evaluate dwave sweep bench config version; do grep -q "^  $c " <<<"$0" || exit 1; done' "$out"

run version_json 0 "$qvae" version --json && check version_is_one_json_object is_one_json_object
check version_names_the_libraries [ "$(json_get "['mpi']['library'] != '' and d['hdf5']['parallel'] and 'Serial' in d['kokkos']['backends'] and d['libtorch']['version'] != ''")" = True ]

run version_json_mpi 0 "${mpi[@]}" "$qvae" version --json && check mpi_version_prints_one_object is_one_json_object
check mpi_version_sees_two_ranks [ "$(json_get "['mpi']['ranks']")" = 2 ]

run unknown_config_key 2 "$qvae" config show --no.such_key=1 && check unknown_key_one_error_line one_error_line
check unknown_key_one_line_names_key grep -q "unknown config key 'no.such_key'" <<<"$err"
run near_key 2 "$qvae" config show --run.sede=1 && check unknown_key_suggests_closest grep -q "did you mean 'run.seed'" <<<"$err"

run unknown_key_mpi 2 "${mpi[@]}" "$qvae" config show --run.sede=3 && check unknown_key_mpi_printed_once one_error_line

run bench_train_bad_batch 2 "$qvae" bench train --batch-size 0 && check bench_train_bad_batch_one_line one_error_line
run bench_unknown_subject 2 "$qvae" bench trian && check bench_unknown_subject_lists grep -q "io, simulate, gibbs, logz, train" <<<"$err"

run unknown_command 2 "$qvae" trian && check unknown_command_suggests grep -q 'did you mean `qvae train`' <<<"$err"
run unknown_option 2 "$qvae" version --jsn && check unknown_option_suggests grep -q "did you mean --json" <<<"$err"
run bad_value 2 "$qvae" config show --run.seed=minus-one && check bad_value_one_line one_error_line

printf '[run]\nseed = 4242\nlog_level = warn\n' >"$work/a.ini"
printf '[run]\nseed = 7\n' >"$work/b.ini"
run config_files 0 "$qvae" config show --config "$work/a.ini" --config "$work/b.ini"
check later_config_file_wins grep -qx "seed = 7" <<<"$out"
check earlier_file_still_applies grep -qx "log_level = warn" <<<"$out"
run config_override 0 "$qvae" config show --config "$work/a.ini" --run.seed=11 --json
check override_beats_files [ "$(json_get "['run']['seed']")" = 11 ]
printf '[run]\nsede = 7\n' >"$work/bad.ini"
run config_file_bad_key 2 "$qvae" config show --config "$work/bad.ini" && check bad_key_in_file_names_file grep -q "bad.ini" <<<"$err"

# Command settings: options with defaults are config keys; the command line wins and is recorded.
run command_keys_listed 0 "$qvae" config show
check command_settings_in_schema bash -c 'grep -q "^\[logz\]" <<<"$0" && grep -qx "sweeps_per_temp = 1" <<<"$0" && grep -qx "target_gap = 0.1" <<<"$0"' "$out"
printf '[simulate]\nevents = 12\ngeometry = ds1-photons\n' >"$work/sim.ini"
run simulate_from_config 0 "$qvae" simulate --config "$work/sim.ini" --seed 3 --out "$work/cfg12.h5"
check human_summary_on_stderr_only bash -c '[ -z "$0" ] && grep -q "^simulate: 12 ds1-photons showers" <<<"$1"' "$out" "$err"
run simulate_cli_beats_config 0 "$qvae" simulate --config "$work/sim.ini" --events 9 --seed 3 --out "$work/cfg9.h5"
check config_sets_command_settings_and_cli_overrides "$py" -c '
import h5py, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert a["showers"].shape == (12, 368) and b["showers"].shape == (9, 368)
assert "events = 12" in a.attrs["config"] and "events = 9" in b.attrs["config"]' "$work/cfg12.h5" "$work/cfg9.h5"
printf '[logz]\nchains = many\n' >"$work/badlogz.ini"
run command_key_bad_value 2 "$qvae" logz --config "$work/badlogz.ini" --rbm x.h5 && check command_key_bad_value_names_key grep -q "logz.chains" <<<"$err"

run bench_io_mpi 0 "${mpi[@]}" "$qvae" bench io --rows 37 --cols 11 --repeats 2 --dir "$work" --json
check bench_io_is_one_json_object is_one_json_object
check bench_io_was_collective [ "$(json_get "['collective_write'] and d['collective_read'] and d['verified']")" = True ]
check bench_io_leaves_no_file bash -c '! ls "$0"/qvae-bench-io.h5* >/dev/null 2>&1' "$work"
run bench_io_bad_dir 2 "$qvae" bench io --dir "$work/missing" && check bench_bad_dir_one_line one_error_line

# --- simulate and inspect ----------------------------------------------------------
run simulate_1 0 "$qvae" simulate --events 40 --geometry ds2 --seed 3 --out "$work/one.h5" --json
check simulate_json is_one_json_object
run simulate_2 0 "${mpi[@]}" "$qvae" simulate --events 40 --geometry ds2 --seed 3 --out "$work/two.h5" --step-events 7
check same_seed_same_file_for_1_and_2_ranks "$py" -c '
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert a["showers"].shape == (40, 6480) and a["incident_energies"].shape == (40, 1)
assert np.array_equal(a["showers"][:], b["showers"][:]) and np.array_equal(a["incident_energies"][:], b["incident_energies"][:])
assert a.attrs["geometry"] == "ds2" and int(a.attrs["seed"]) == 3 and "[sim]" in a.attrs["config"]
assert a["showers"][:].min() >= 0 and (a["incident_energies"][:] >= 1e3).all()' "$work/one.h5" "$work/two.h5"
run simulate_other_seed 0 "$qvae" simulate --events 40 --seed 4 --out "$work/other.h5"
check other_seed_differs "$py" -c '
import h5py, numpy as np, sys
assert not np.array_equal(h5py.File(sys.argv[1])["showers"][:], h5py.File(sys.argv[2])["showers"][:])' "$work/one.h5" "$work/other.h5"
run simulate_ds1 0 "${mpi[@]}" "$qvae" simulate --events 9 --geometry ds1-photons --energies ds1 --out "$work/ds1.h5"
run inspect_ds1 0 "${mpi[@]}" "$qvae" inspect "$work/ds1.h5" --json
check inspect_ds1_keys [ "$(json_get "['events'], d['voxels'], d['geometry'], d['bad_values']")" = "9 368 ds1-photons 0" ]
run inspect_mpi 0 "${mpi[@]}" "$qvae" inspect "$work/two.h5" --json --chunk-rows 3
check inspect_is_one_json_object is_one_json_object
check inspect_summary_is_plausible "$py" -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["events"] == 40 and d["voxels"] == 6480 and d["geometry"] == "ds2" and d["bad_values"] == 0
assert 1e3 <= d["e_inc_min"] <= d["e_inc_max"] <= 1e6
assert 0.8 < d["mean_etot_over_einc"] < 1.1 and 0.3 < d["zero_fraction"] < 0.99' "$out"

# A CaloChallenge-style file as h5py writes it: float64, gzip, chunked, no qvae attributes.
"$py" -c '
import h5py, numpy as np, sys
rng = np.random.default_rng(1)
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("incident_energies", data=rng.uniform(1e3, 1e6, (25, 1)), compression="gzip")
    s = rng.exponential(1.0, (25, 6480)); s[s < 1.0] = 0
    f.create_dataset("showers", data=s, compression="gzip")
    bad = s.copy(); bad[17, 100] = np.nan; bad[20, 5] = -1
with h5py.File(sys.argv[2], "w") as f:
    f.create_dataset("incident_energies", data=np.full((25, 1), 5e4))
    f.create_dataset("showers", data=bad)
with h5py.File(sys.argv[3], "w") as f:
    f.create_dataset("incident_energies", data=np.full((3, 1), 5e4))
    f.create_dataset("showers", data=np.zeros((3, 100)))' "$work/h5py.h5" "$work/bad.h5" "$work/odd.h5"
run inspect_h5py_gzip 0 "${mpi[@]}" "$qvae" inspect "$work/h5py.h5" --json
check inspect_reads_gzip_float64 [ "$(json_get "['shower_dtype'], d['events'], d['geometry']")" = "float64 25 ds2" ]
run inspect_bad_values 3 "${mpi[@]}" "$qvae" inspect "$work/bad.h5"
check bad_values_error_names_row [ "$(printf '%s\n' "$err" | grep -c "^qvae: error: 2 bad value(s); first at row 17: voxel 100 is nan, file '.*bad.h5', dataset 'showers'")" -eq 1 ]
run inspect_odd_voxels 3 "$qvae" inspect "$work/odd.h5"
check odd_voxels_one_line one_error_line
run inspect_missing 3 "${mpi[@]}" "$qvae" inspect "$work/nope.h5" && check missing_file_one_line one_error_line
run simulate_missing_dir 2 "$qvae" simulate --events 2 --out "$work/no/such/dir.h5" && check missing_dir_one_line one_error_line
run simulate_bad_sim_key 2 "$qvae" simulate --events 2 --out "$work/x.h5" --sim.sampling_term=-1
check bad_sim_key_leaves_nothing bash -c '! ls "$0"/x.h5* >/dev/null 2>&1' "$work"

# --- sweep plan / collect ---------------------------------------------------------
printf '[sweep]\nmode = grid\ncommand = simulate\narguments = --out {dir}/s.h5\n[grid]\nsim.sampling_term = 0.1, 0.2\nrun.seed = 1, 2, 3\n' >"$work/grid.ini"
run sweep_plan 0 "${mpi[@]}" "$qvae" sweep plan --grid "$work/grid.ini" --out "$work/sweep" --json
check sweep_plan_counts_points [ "$(json_get "['points']")" = 6 ]
check sweep_grid_last_key_fastest grep -qx "seed = 2" "$work/sweep/points/0001/config.ini"
check sweep_grid_first_key_slowest grep -qx "sampling_term = 0.2" "$work/sweep/points/0003/config.ini"
check sweep_script_is_an_array grep -q "^#SBATCH --array=0-5$" "$work/sweep/sweep.sbatch"
check sweep_script_substitutes_dir grep -q -- '--out "$dir"/s.h5' "$work/sweep/run-point.sh"
check sweep_script_runs_run_point grep -q 'run-point.sh" "$SLURM_ARRAY_TASK_ID"' "$work/sweep/sweep.sbatch"
# A point runs outside Slurm too (QVAE_LAUNCH empty: no launcher); a failing one leaves FAILED.
run sweep_run_point 0 env QVAE="$qvae" QVAE_LAUNCH=" " QVAE_SWEEP_ARGS="--events 3" bash "$work/sweep/run-point.sh" 4
check sweep_point_output_has_its_seed "$py" -c '
import h5py, sys
f = h5py.File(sys.argv[1], "r")
assert f["showers"].shape[0] == 3 and int(f.attrs["seed"]) == 2' "$work/sweep/points/0004/s.h5"
run sweep_run_point_fails 1 env QVAE="$qvae" QVAE_LAUNCH=" " QVAE_SWEEP_ARGS="--sim.sampling_term=-1" bash "$work/sweep/run-point.sh" 5
check sweep_failed_point_marked [ -e "$work/sweep/points/0005/FAILED" ]
rm -f "$work/sweep/points/0004/s.h5" "$work/sweep/points/0005/FAILED"
run sweep_plan_again 2 "$qvae" sweep plan --grid "$work/grid.ini" --out "$work/sweep"
check sweep_plan_refuses_to_overwrite one_error_line
printf '[sweep]\nmode = random\ndraws = 5\nseed = 9\ncommand = simulate\n[random]\nsim.sampling_term = uniform(0.1, 0.2)\nrun.seed = int(1, 100)\n' >"$work/random.ini"
run sweep_random_a 0 "$qvae" sweep plan --grid "$work/random.ini" --out "$work/ra"
run sweep_random_b 0 "$qvae" sweep plan --grid "$work/random.ini" --out "$work/rb"
check sweep_random_is_seeded cmp -s "$work/ra/points/0004/config.ini" "$work/rb/points/0004/config.ini"
check sweep_random_points_differ bash -c '! cmp -s "$0/ra/points/0000/config.ini" "$0/ra/points/0001/config.ini"' "$work"
printf '[sweep]\ncommand = simulate\n[grid]\nsim.sampling_trm = 0.1\n' >"$work/badgrid.ini"
run sweep_bad_key 2 "$qvae" sweep plan --grid "$work/badgrid.ini" --out "$work/bad"
check sweep_bad_key_names_closest grep -q "did you mean 'sim.sampling_term'" <<<"$err"
check sweep_bad_key_writes_nothing [ ! -e "$work/bad" ]
echo '{"separation_power": {"etot_over_einc": {"value": 0.25}}}' >"$work/sweep/points/0000/metrics.json"
printf 'epoch,train_loss,val_loss\n1,5.0,6.0\n2,4.0,4.5\n' >"$work/sweep/points/0001/history.csv"
touch "$work/sweep/points/0002/FAILED"
run sweep_collect 0 "$qvae" sweep collect "$work/sweep" --json
check sweep_collect_counts [ "$(json_get "['complete'], d['points']")" = "2 6" ]
check sweep_collect_statuses [ "$(printf '%s' "$out" | "$py" -c "import json,sys; print([r['status'] for r in json.load(sys.stdin)['results']][:4])")" = "['ok', 'ok', 'failed', 'missing']" ]
check sweep_collect_csv_has_metrics_and_losses bash -c 'head -1 "$0/sweep/results.csv" | grep -q "metrics/separation_power/etot_over_einc/value" && grep -q "^0001,ok,.*,4.5" "$0/sweep/results.csv"' "$work"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
