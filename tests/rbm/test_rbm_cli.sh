#!/usr/bin/env bash
# usage: test_rbm_cli.sh QVAE MPIEXEC [MPIEXEC_FLAGS...]
# `qvae rbm`, `qvae sample` and `qvae bench gibbs` from the outside: files,
# rank-count independence, resume, clamping, exit codes, --json.
set -u
qvae=$1; shift
mpi=("$@" -np 2)
source "$(dirname "${BASH_SOURCE[0]}")/../cli_harness.sh"

model=(--topology pegasus --size 4 --nodes-per-partition 8)

# --- rbm init / info ------------------------------------------------------------------
run init 0 "$qvae" rbm init "${model[@]}" --init normal --sigma 0.7 --seed 3 --out "$work/m.h5" --json
check init_json [ "$(json_get "['nodes'] == 32 and d['partitions'] == 4 and d['partition_sizes'] == [8, 8, 8, 8] and d['couplers'] > 0")" = True ]
check init_file_is_qvae_rbm_v1 "$py" -c '
import h5py, numpy as np, sys
f = h5py.File(sys.argv[1], "r")
assert f.attrs["format"] == "qvae-rbm" and int(f.attrs["format_version"]) == 1 and f.attrs["topology"] == "pegasus"
assert int(f.attrs["partitions"]) == 4 and int(f.attrs["seed"]) == 3
p, e, b, w, q = f["partition"][:], f["edges"][:], f["biases"][:], f["weights"][:], f["qubits"][:]
assert p.dtype == np.int32 and e.dtype == np.int64 and b.dtype == np.float64 and w.dtype == np.float64 and q.dtype == np.int64
assert p.shape == (32,) and b.shape == (32,) and q.shape == (32,) and e.shape == (len(w), 2)
assert (e[:, 0] < e[:, 1]).all() and (p[e[:, 0]] != p[e[:, 1]]).all()
assert 0.4 < w.std() < 1.0 and len(set(q.tolist())) == 32' "$work/m.h5"
run init_mpi 0 "${mpi[@]}" "$qvae" rbm init "${model[@]}" --seed 3 --sigma 0.7 --out "$work/m2.h5"
check init_same_for_2_ranks "$py" -c '
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
for k in ("partition", "biases", "edges", "weights", "qubits"): assert np.array_equal(a[k][:], b[k][:]), k' "$work/m.h5" "$work/m2.h5"
run init_zeros 0 "$qvae" rbm init "${model[@]}" --init zeros --out "$work/z.h5"
run info 0 "$qvae" rbm info --rbm "$work/z.h5" --json
check info_json [ "$(json_get "['nodes'] == 32 and d['weight_rms'] == 0 and d['chains'] == 0")" = True ]
run init_no_n 2 "$qvae" rbm init --out "$work/x.h5" && check init_needs_n one_error_line
run init_bad_init 2 "$qvae" rbm init "${model[@]}" --init uniform --out "$work/x.h5" && check init_bad_init_one_line one_error_line
run init_too_big 2 "$qvae" rbm init --topology pegasus --size 2 --nodes-per-partition 500 --out "$work/x.h5"
check init_too_big_one_line one_error_line
check init_failure_leaves_no_file bash -c '! ls "$0"/x.h5* >/dev/null 2>&1' "$work"

# --- sample: 1 vs 2 ranks, energies, backends -------------------------------------------------
sample=(sample --rbm "$work/m.h5" --chains 37 --burn-in 5 --sweeps 20 --beta 1.5 --seed 11)
run sample_1 0 "$qvae" "${sample[@]}" --out "$work/s1.h5" --json
check sample_json [ "$(json_get "['chains'] == 37 and d['backend'] == 'kokkos' and d['ranks'] == 1 and d['unit_updates_per_s'] > 0")" = True ]
run sample_2 0 "${mpi[@]}" "$qvae" "${sample[@]}" --out "$work/s2.h5" --json
check sample_mpi_json [ "$(json_get "['ranks']")" = 2 ]
check sample_same_for_1_and_2_ranks "$py" -c '
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert a.attrs["format"] == "qvae-samples" and a["samples"].shape == (37, 32) and a["samples"].dtype == np.uint8
for k in ("samples", "energies", "chain_sweeps"): assert np.array_equal(a[k][:], b[k][:]), k
assert (a["chain_sweeps"][:] == 25).all() and int(a.attrs["chain_seed"]) == 11' "$work/s1.h5" "$work/s2.h5"
check energies_equal_recomputed "$py" -c '
import h5py, numpy as np, sys
m, s = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
z = s["samples"][:].astype(float); e = m["edges"][:]
energy = -z @ m["biases"][:] - (z[:, e[:, 0]] * z[:, e[:, 1]]) @ m["weights"][:]
assert np.allclose(energy, s["energies"][:], rtol=0, atol=1e-12), abs(energy - s["energies"][:]).max()' "$work/m.h5" "$work/s1.h5"
run sample_torch 0 "$qvae" "${sample[@]}" --backend torch --out "$work/st.h5" --json
check torch_backend_json [ "$(json_get "['backend']")" = torch ]
check torch_samples_mostly_identical "$py" -c '
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert b.attrs["backend"] == "torch"
# Same uniforms: the backends agree draw for draw until a near-tie; most chains stay identical.
same = (a["samples"][:] == b["samples"][:]).all(axis=1).mean()
assert same > 0.8, same' "$work/s1.h5" "$work/st.h5"

run one_chain_1 0 "$qvae" sample --rbm "$work/m.h5" --chains 1 --sweeps 4 --seed 2 --out "$work/o1.h5"
run one_chain_2 0 "${mpi[@]}" "$qvae" sample --rbm "$work/m.h5" --chains 1 --sweeps 4 --seed 2 --out "$work/o2.h5"
check rank_without_chains_takes_part "$py" -c '
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert a["samples"].shape == (1, 32) and np.array_equal(a["samples"][:], b["samples"][:])' "$work/o1.h5" "$work/o2.h5"

# --- resume ---------------------------------------------------------------------------------------
run resume_first 0 "$qvae" sample --rbm "$work/m.h5" --chains 37 --sweeps 8 --seed 11 --out "$work/r1.h5"
run resume_more 0 "${mpi[@]}" "$qvae" sample --rbm "$work/m.h5" --resume "$work/r1.h5" --sweeps 17 --out "$work/r2.h5" --json
check resume_json [ "$(json_get "['resumed'] and d['seed'] == 11 and d['chains'] == 37")" = True ]
run resume_straight 0 "$qvae" sample --rbm "$work/m.h5" --chains 37 --sweeps 25 --seed 11 --out "$work/r3.h5"
check resume_is_bit_exact "$py" -c '
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert np.array_equal(a["samples"][:], b["samples"][:]) and np.array_equal(a["chain_sweeps"][:], b["chain_sweeps"][:])' "$work/r2.h5" "$work/r3.h5"

# --- clamping -----------------------------------------------------------------------------------
"$py" -c '
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], "w") as f: f["values"] = np.array([[1, 0, 1, 1, 0, 0, 1, 0]], dtype=np.uint8)
with h5py.File(sys.argv[2], "w") as f: f["values"] = np.ones((1, 7), dtype=np.uint8)
with h5py.File(sys.argv[3], "w") as f: f["values"] = (np.arange(37 * 8).reshape(37, 8) % 3 == 0).astype(np.int64)' \
  "$work/clamp.h5" "$work/clamp-bad.h5" "$work/clamp-rows.h5"
run clamp 0 "${mpi[@]}" "$qvae" sample --rbm "$work/m.h5" --chains 37 --sweeps 15 --clamp-partition 0 --clamp-values "$work/clamp.h5" --out "$work/c.h5"
check clamped_units_hold "$py" -c '
import h5py, numpy as np, sys
m, s = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
nodes = np.flatnonzero(m["partition"][:] == 0)
assert (s["samples"][:][:, nodes] == np.array([1, 0, 1, 1, 0, 0, 1, 0])).all()
assert list(s.attrs["clamped_partitions"]) == [0]' "$work/m.h5" "$work/c.h5"
run clamp_rows 0 "${mpi[@]}" "$qvae" sample --rbm "$work/m.h5" --chains 37 --sweeps 5 --clamp-partition 2 --clamp-values "$work/clamp-rows.h5" --out "$work/c2.h5"
check per_chain_clamp_rows_hold "$py" -c '
import h5py, numpy as np, sys
m, s, v = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r"), h5py.File(sys.argv[3], "r")
nodes = np.flatnonzero(m["partition"][:] == 2)
assert (s["samples"][:][:, nodes] == v["values"][:]).all()' "$work/m.h5" "$work/c2.h5" "$work/clamp-rows.h5"

# --- errors -----------------------------------------------------------------------------------------
run missing_rbm 3 "$qvae" sample --rbm "$work/nope.h5" --chains 4 --sweeps 1 --out "$work/e.h5" && check missing_rbm_one_line one_error_line
run missing_rbm_mpi 3 "${mpi[@]}" "$qvae" sample --rbm "$work/nope.h5" --chains 4 --sweeps 1 --out "$work/e.h5"
check missing_rbm_mpi_printed_once one_error_line
run wrong_format 3 "$qvae" sample --rbm "$work/s1.h5" --chains 4 --sweeps 1 --out "$work/e.h5"
check wrong_format_names_it grep -q "qvae-samples' file, expected 'qvae-rbm'" <<<"$err"
run clamp_wrong_shape 3 "${mpi[@]}" "$qvae" sample --rbm "$work/m.h5" --chains 4 --sweeps 1 --clamp-partition 0 --clamp-values "$work/clamp-bad.h5" --out "$work/e.h5"
check clamp_wrong_shape_one_line one_error_line
check clamp_wrong_shape_names_dataset grep -q "dataset 'values'" <<<"$err"
run clamp_without_values 2 "$qvae" sample --rbm "$work/m.h5" --chains 4 --sweeps 1 --clamp-partition 0 --out "$work/e.h5"
check clamp_without_values_one_line one_error_line
run clamp_bad_partition 2 "$qvae" sample --rbm "$work/m.h5" --chains 4 --sweeps 1 --clamp-partition 4 --clamp-values "$work/clamp.h5" --out "$work/e.h5"
run bad_backend 2 "$qvae" sample --rbm "$work/m.h5" --chains 4 --sweeps 1 --backend cuda --out "$work/e.h5" && check bad_backend_one_line one_error_line
run bad_beta 2 "$qvae" sample --rbm "$work/m.h5" --chains 4 --sweeps 1 --beta -1 --out "$work/e.h5"
run bad_scope 2 "$qvae" sample --rbm "$work/m.h5" --chains 4 --sweeps 1 --beta-scope weights --out "$work/e.h5"
run no_chains 2 "$qvae" sample --rbm "$work/m.h5" --sweeps 1 --out "$work/e.h5"
run overwrite_input 2 "$qvae" sample --rbm "$work/m.h5" --chains 4 --sweeps 1 --out "$work/m.h5"
check errors_leave_no_output bash -c '! ls "$0"/e.h5* >/dev/null 2>&1' "$work"

# --- bench gibbs ------------------------------------------------------------------------------------
for backend in kokkos torch; do
  run "bench_$backend" 0 "$qvae" bench gibbs "${model[@]}" --chains 64 --sweeps 3 --backend $backend --json
  check "bench_${backend}_json" [ "$(json_get "['benchmark'] == 'gibbs' and d['backend'] == '$backend' and d['unit_updates_per_s'] > 0 and d['ns_per_unit_update'] > 0 and d['couplers'] > 0 and d['chains'] == 64 and d['sweeps'] == 3 and d['ranks'] == 1")" = True ]
done
run bench_mpi 0 "${mpi[@]}" "$qvae" bench gibbs "${model[@]}" --chains 64 --sweeps 3 --json
check bench_mpi_json [ "$(json_get "['ranks']")" = 2 ]
run bench_bad_backend 2 "$qvae" bench gibbs --backend numpy && check bench_bad_backend_one_line one_error_line

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
