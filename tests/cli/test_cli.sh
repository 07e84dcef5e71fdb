#!/usr/bin/env bash
# usage: test_cli.sh QVAE MPIEXEC [MPIEXEC_FLAGS...]
# Checks the CLI contract of ARCHITECTURE.md from the outside.
set -u
qvae=$1; shift
mpi=("$@" -np 2)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0; failed=0

# run NAME EXPECTED_RC CMD... : runs CMD, keeps stdout/stderr in $out/$err.
run() {
  local name=$1 expected=$2; shift 2
  "$@" >"$work/out" 2>"$work/err"
  rc=$?
  out=$(cat "$work/out"); err=$(cat "$work/err")
  if [ "$rc" -ne "$expected" ]; then
    echo "FAIL $name: exit $rc, expected $expected"; echo "  stdout: $out"; echo "  stderr: $err"
    failed=$((failed + 1)); return 1
  fi
  return 0
}
check() {  # check NAME CONDITION-COMMAND...
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); else echo "FAIL $name"; echo "  stdout: $out"; echo "  stderr: $err"; failed=$((failed + 1)); fi
}
one_error_line() { [ "$(printf '%s\n' "$err" | grep -c '^qvae: error: ')" -eq 1 ] && [ -z "$out" ]; }
is_one_json_object() { [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert isinstance(d, dict)'; }
json_get() { printf '%s' "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

run help 0 "$qvae" --help && check help_lists_every_command bash -c \
  'for c in simulate inspect graph rbm sample logz ll train generate evaluate dwave sweep bench config version; do grep -q "^  $c " <<<"$0" || exit 1; done' "$out"

run version_json 0 "$qvae" version --json && check version_is_one_json_object is_one_json_object
check version_names_the_libraries [ "$(json_get "['mpi']['library'] != '' and d['hdf5']['parallel'] and 'Serial' in d['kokkos']['backends'] and d['libtorch']['version'] != ''")" = True ]

run version_json_mpi 0 "${mpi[@]}" "$qvae" version --json && check mpi_version_prints_one_object is_one_json_object
check mpi_version_sees_two_ranks [ "$(json_get "['mpi']['ranks']")" = 2 ]

run unknown_config_key 2 "$qvae" config show --no.such_key=1 && check unknown_key_one_error_line one_error_line
check unknown_key_suggests grep -q "did you mean 'run." <<<"$err"

run unknown_key_mpi 2 "${mpi[@]}" "$qvae" config show --run.sede=3 && check unknown_key_mpi_printed_once one_error_line

run not_built 2 "$qvae" train && check not_built_says_so grep -q "not built yet" <<<"$err"
check not_built_one_line one_error_line
run not_built_bench 2 "$qvae" bench gibbs && check bench_gibbs_not_built grep -q "not built yet" <<<"$err"

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

run bench_io_mpi 0 "${mpi[@]}" "$qvae" bench io --rows 37 --cols 11 --repeats 2 --dir "$work" --json
check bench_io_is_one_json_object is_one_json_object
check bench_io_was_collective [ "$(json_get "['collective_write'] and d['collective_read'] and d['verified']")" = True ]
check bench_io_leaves_no_file bash -c '! ls "$0"/qvae-bench-io.h5* >/dev/null 2>&1' "$work"
run bench_io_bad_dir 2 "$qvae" bench io --dir "$work/missing" && check bench_bad_dir_one_line one_error_line

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
