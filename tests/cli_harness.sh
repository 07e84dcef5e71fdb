# Shared harness of the shell-level CLI tests (sourced, not run).  Provides:
#   run NAME EXPECTED_RC CMD...   runs CMD, keeps stdout/stderr in $out/$err,
#                                 counts a failure if the exit code differs
#   check NAME CONDITION...       counts a pass or a failure
#   one_error_line                exactly one `qvae: error:` line and no stdout
#   json_get EXPR / json_is EXPR  Python on the JSON object `d` read from $out
#   mpi_suite_arguments QVAE CONFIG MPIEXEC...  the MPI suites' arguments
# and $py (Debian's python3, which has numpy, h5py and matplotlib; the PATH one
# may lack them), $work (a temporary directory removed on exit), $passed, $failed.
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0; failed=0

# mpi_suite_arguments QVAE CONFIG MPIEXEC [FLAGS...]: the arguments of the MPI
# suites: sets $qvae and $tiny (absolute paths) and the array mpi (the launcher
# and its flags), then enters $work.
mpi_suite_arguments() {
  qvae=$(realpath "$1"); tiny=$(realpath "$2"); shift 2
  mpi=("$@")
  cd "$work" || exit 1
}

run() {
  local name=$1 expected=$2; shift 2
  "$@" >"$work/out" 2>"$work/err"
  rc=$?
  out=$(cat "$work/out"); err=$(cat "$work/err")
  if [ "$rc" -ne "$expected" ]; then
    echo "FAIL $name: exit $rc, expected $expected"; echo "  stdout: ${out:0:2000}"; echo "  stderr: ${err:0:2000}"
    failed=$((failed + 1)); return 1
  fi
  return 0
}
check() {
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); else
    echo "FAIL $name"; echo "  stdout: ${out:0:2000}"; echo "  stderr: ${err:0:2000}"; failed=$((failed + 1))
  fi
}
one_error_line() { [ "$(printf '%s\n' "$err" | grep -c '^qvae: error: ')" -eq 1 ] && [ -z "$out" ]; }
json_get() { printf '%s' "$out" | "$py" -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }
json_is() { printf '%s' "$out" | "$py" -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"; }
