#!/usr/bin/env bash
# mpirun as this project's scripts use it on a workstation or CI box: allow
# more ranks than cores, and allow root (containers, CI).  On a cluster use
# srun or your site's mpirun directly.
set -euo pipefail
flags=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
exec mpirun "${flags[@]}" "$@"
