#!/usr/bin/env bash
# usage: check_rank_failure.sh MODE MPIEXEC [FLAGS...] PROBE
# Runs the probe on 2 ranks; rank 1 fails.  Passes if the job ends non-zero
# with rank 1's message as exactly one `qvae: error:` line (ctest's TIMEOUT
# turns a hang into a failure).
set -u
mode=$1; shift
probe=${!#}
launcher=("${@:1:$#-1}")
err=$(mktemp)
"${launcher[@]}" "$probe" "$mode" 2>"$err" >/dev/null
rc=$?
lines=$(grep -c '^qvae: error: probe failure on rank 1$' "$err")
cat "$err" >&2
rm -f "$err"
fail=0
if [ "$rc" -eq 0 ]; then echo "FAIL: exit code 0"; fail=1; fi
if [ "$mode" = agreed ] && [ "$rc" -ne 3 ]; then echo "FAIL: agreed error must exit 3, got $rc"; fail=1; fi
if [ "$lines" -ne 1 ]; then echo "FAIL: expected one error line, got $lines"; fail=1; fi
[ $fail -eq 0 ] && echo "ok: $mode exited $rc with one error line"
exit $fail
