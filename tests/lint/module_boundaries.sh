#!/usr/bin/env bash
# usage: module_boundaries.sh [REPO_ROOT]
# Library calls stay in the module that owns them (docs/architecture.md):
# MPI only in par (io may name MPI_INFO_NULL when it hands a communicator to
# HDF5's MPI-IO driver), HDF5 only in io.  Prints each offending line and
# exits 1 if there is one.
set -u
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
cd "$root" || { echo "cannot enter $root" >&2; exit 2; }
mpi=$(grep -rnE '#include <mpi\.h>|\bMPI_[A-Za-z_]+' src include |
  grep -vE '^(src/par|include/qvae/par)/' | grep -vE '^src/io/[^:]+:[0-9]+:.*\bMPI_INFO_NULL\b')
hdf5=$(grep -rnE '#include <hdf5\.h>|\bH5[A-Z][A-Za-z0-9_]*' src include | grep -vE '^(src/io|include/qvae/io)/')
[ -z "$mpi" ] || sed 's/^/MPI outside par: /' <<<"$mpi"
[ -z "$hdf5" ] || sed 's/^/HDF5 outside io: /' <<<"$hdf5"
[ -z "$mpi$hdf5" ] || exit 1
echo "module boundaries hold"
