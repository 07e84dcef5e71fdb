#!/usr/bin/env bash
# usage: test_dwave_cli.sh QVAE SAPI_TEST_SERVER MPIEXEC [MPIEXEC_FLAGS...]
# `qvae dwave` from the outside through tools/sapi-test-server on 127.0.0.1:
# sample files (same format as `qvae sample`, identical on 1 and 2 ranks),
# conditioning, offline backends, beta_eff, solvers, faults, exit codes.
set -u
qvae=$1; server=$2; shift 2
mpi=("$@" -np 2)
source "$(dirname "$0")/../cli_harness.sh"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT

start_server() {  # start_server NAME ARGS...: sets $url; the server is stopped by pid at exit
  local name=$1; shift
  "$py" "$server" --port 0 --ready-file "$work/$name.port" "$@" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 200); do [ -s "$work/$name.port" ] && break; sleep 0.1; done
  url="http://127.0.0.1:$(cat "$work/$name.port")/sapi/"
}

solver=Advantage_test_pegasus_4
start_server main --beta 1.0 --size 4 --sweeps 10 --token test-token
main_url=$url
start_server faulty --beta 1.0 --size 4 --sweeps 10 --fault 429:1@submit --fault 500:1@poll --fault malformed:1@poll \
  --fault wrong-length:1
faulty_url=$url
export DWAVE_API_TOKEN=test-token

run rbm_init 0 "$qvae" rbm init --topology pegasus --size 4 --nodes-per-partition 8 --sigma 0.5 --seed 3 --out "$work/m.h5"

# --- samples through the server: 1 and 2 ranks agree; format as `qvae sample` ----------------------
dsample=(dwave sample --endpoint "$main_url" --solver "$solver" --rbm "$work/m.h5" --reads 30 --beta 2)
run sample_1 0 "$qvae" "${dsample[@]}" --out "$work/s1.h5" --json
check sample_json [ "$(json_get "['reads'] == 30 and d['backend'] == 'dwave' and d['solver'] == '$solver' and d['ranks'] == 1")" = True ]
check token_not_in_output bash -c '! grep -q test-token "$0"/out "$0"/err "$0"/s1.h5' "$work"
run sample_2 0 "${mpi[@]}" "$qvae" "${dsample[@]}" --out "$work/s2.h5" --json
check sample_mpi_json [ "$(json_get "['ranks']")" = 2 ]
check samples_format_and_ranks "$py" -c '
import h5py, numpy as np, sys
m, a, b = (h5py.File(p, "r") for p in sys.argv[1:4])
assert a.attrs["format"] == "qvae-samples" and int(a.attrs["format_version"]) == 1
assert a["samples"].shape == (30, 32) and a["samples"].dtype == np.uint8 and a["energies"].dtype == np.float64
assert set(np.unique(a["samples"][:])) <= {0, 1}
for k in ("samples", "energies"): assert np.array_equal(a[k][:], b[k][:]), k
z = a["samples"][:].astype(float); e = m["edges"][:]
energy = -z @ m["biases"][:] - (z[:, e[:, 0]] * z[:, e[:, 1]]) @ m["weights"][:]
assert np.allclose(energy, a["energies"][:], atol=1e-12)' "$work/m.h5" "$work/s1.h5" "$work/s2.h5"

# --- the same through injected faults (429 + Retry-After, 500, malformed JSON, wrong lengths) ------
run sample_faults 0 "$qvae" dwave sample --endpoint "$faulty_url" --solver "$solver" --rbm "$work/m.h5" --reads 30 \
  --beta 2 --out "$work/sf.h5"
check faults_same_samples "$py" -c '
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert np.array_equal(a["samples"][:], b["samples"][:])' "$work/s1.h5" "$work/sf.h5"

# --- conditioning partition 0 by flux biases, one problem per read, 2 ranks -------------------------
"$py" -c '
import h5py, numpy as np, sys
v = (np.arange(12 * 8).reshape(12, 8) * 7 // 3) % 2
with h5py.File(sys.argv[1], "w") as f: f["values"] = v.astype(np.uint8)' "$work/clamp.h5"
run sample_cond 0 "${mpi[@]}" "$qvae" dwave sample --endpoint "$main_url" --solver "$solver" --rbm "$work/m.h5" \
  --reads 12 --clamp-values "$work/clamp.h5" --out "$work/sc.h5" --json
check conditioned_partition0 "$py" -c '
import h5py, numpy as np, sys
m, s, c = (h5py.File(p, "r") for p in sys.argv[1:4])
p0 = np.flatnonzero(m["partition"][:] == 0)
assert np.array_equal(s["samples"][:][:, p0], c["values"][:]) and list(s.attrs["clamped_partitions"]) == [0]' \
  "$work/m.h5" "$work/sc.h5" "$work/clamp.h5"

# --- offline backends need no token ------------------------------------------------------------------
run sample_anneal 0 env -u DWAVE_API_TOKEN "$qvae" dwave sample --backend anneal --rbm "$work/m.h5" --reads 20 \
  --out "$work/sa.h5" --json
check anneal_json [ "$(json_get "['backend']")" = anneal ]
run sample_gibbs 0 env -u DWAVE_API_TOKEN "$qvae" dwave sample --backend gibbs --device-beta 2 --rbm "$work/m.h5" \
  --reads 20 --seed 5 --out "$work/sg.h5" --json
check gibbs_json [ "$(json_get "['backend'] == 'gibbs' and d['seed'] == 5")" = True ]

# --- beta_eff: a Gibbs device at beta 2.5 is recovered within 5%; the server's beta too --------------
run beta_gibbs 0 "$qvae" dwave beta --rbm "$work/m.h5" --method multiplicative --backend gibbs --device-beta 2.5 \
  --reads 1500 --rbm-chains 1500 --rbm-sweeps 100 --seed 2 --json
check beta_gibbs_recovered [ "$(json_get "['converged'] and abs(d['beta_eff'] - 2.5) < 0.125 and d['uncertainty'] > 0 and len(d['history']) == d['iterations']")" = True ]
run beta_server 0 "$qvae" dwave beta --rbm "$work/m.h5" --method pseudolikelihood --endpoint "$main_url" \
  --solver "$solver" --reads 200 --beta0 2 --json
check beta_server_recovered [ "$(json_get "['backend'] == 'dwave' and abs(d['beta_eff'] - 1.0) < 0.15")" = True ]

# --- solvers ---------------------------------------------------------------------------------------
run solvers 0 "$qvae" dwave solvers --endpoint "$main_url" --json
check solvers_json [ "$(json_get "['solvers'][0]['name'] == '$solver' and d['solvers'][0]['qubits'] == 264")" = True ]

# --- errors: one line, documented exit codes --------------------------------------------------------
run no_token 2 env -u DWAVE_API_TOKEN "$qvae" "${dsample[@]}" --out "$work/x.h5" && check no_token_one_line one_error_line
printf 'test-token\n' >"$work/token"; chmod 644 "$work/token"
# A token file others can read still works, with one warning that never shows the token.
run open_token_file 0 env -u DWAVE_API_TOKEN "$qvae" "${dsample[@]}" --token-file "$work/token" --out "$work/open.h5" &&
  check open_token_file_warns bash -c 'grep -q "readable by group or others" <<<"$0" && ! grep -q test-token <<<"$0"' "$err"
chmod 600 "$work/token"
run token_file 0 env -u DWAVE_API_TOKEN "$qvae" "${dsample[@]}" --token-file "$work/token" --out "$work/st.h5"
run bad_token 4 env DWAVE_API_TOKEN=nope "$qvae" "${dsample[@]}" --out "$work/x.h5" && check bad_token_one_line one_error_line
check bad_token_message grep -q 'HTTP 401' "$work/err"
run unknown_solver 4 "$qvae" dwave sample --endpoint "$main_url" --solver nope --rbm "$work/m.h5" --reads 3 \
  --out "$work/x.h5" && check unknown_solver_one_line one_error_line
run unreachable 4 "$qvae" dwave sample --endpoint http://127.0.0.1:9/sapi/ --solver "$solver" --rbm "$work/m.h5" \
  --reads 3 --out "$work/x.h5" && check unreachable_one_line one_error_line
check unreachable_message grep -q 'cannot reach the SAPI service' "$work/err"
run unreachable_2 4 "${mpi[@]}" "$qvae" dwave sample --endpoint http://127.0.0.1:9/sapi/ --solver "$solver" \
  --rbm "$work/m.h5" --reads 3 --out "$work/x.h5" && check unreachable_2_one_line one_error_line
run plain_http 2 "$qvae" dwave sample --endpoint http://example.com/sapi/ --solver "$solver" --rbm "$work/m.h5" \
  --reads 3 --out "$work/x.h5" && check plain_http_one_line one_error_line
run no_reads 2 "$qvae" dwave sample --endpoint "$main_url" --solver "$solver" --rbm "$work/m.h5" --out "$work/x.h5"
run bad_action 2 "$qvae" dwave fly && check bad_action_one_line one_error_line
run bad_method 2 "$qvae" dwave beta --rbm "$work/m.h5" --backend gibbs --method guess && check bad_method_one_line one_error_line
check failures_leave_no_file bash -c '! ls "$0"/x.h5* >/dev/null 2>&1' "$work"

# --- `qvae sample --backend dwave|anneal`: the same path as `qvae dwave sample` ---------------------
run sample_backend_dwave 0 "${mpi[@]}" "$qvae" sample --backend dwave --endpoint "$main_url" --solver "$solver" \
  --rbm "$work/m.h5" --chains 30 --beta 2 --out "$work/sb.h5" --json
check sample_backend_dwave_json json_is "d['backend'] == 'dwave' and d['reads'] == 30 and d['ranks'] == 2"
check sample_backend_dwave_same_samples "$py" -c '
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert np.array_equal(a["samples"][:], b["samples"][:])' "$work/s1.h5" "$work/sb.h5"
run sample_backend_anneal_1 0 "$qvae" sample --backend anneal --rbm "$work/m.h5" --chains 20 --seed 5 --out "$work/sa1.h5"
run sample_backend_anneal_2 0 "${mpi[@]}" "$qvae" sample --backend anneal --rbm "$work/m.h5" --chains 20 --seed 5 \
  --out "$work/sa2.h5"
check sample_backend_anneal_ranks "$py" -c '
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert np.array_equal(a["samples"][:], b["samples"][:]) and a["samples"].shape == (20, 32)' "$work/sa1.h5" "$work/sa2.h5"
run sample_backend_no_sweeps 2 "$qvae" sample --backend anneal --rbm "$work/m.h5" --chains 4 --sweeps 3 --out "$work/x.h5"
check sample_backend_no_sweeps_one_line one_error_line
run sample_backend_clamp_other 2 "$qvae" sample --backend anneal --rbm "$work/m.h5" --chains 4 --clamp-partition 1 \
  --clamp-values "$work/m.h5" --out "$work/x.h5"
check sample_backend_clamp_other_one_line one_error_line

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
