// Checked MPI calls: QVAE_CHECK_MPI(MPI_Allreduce(...)) throws a
// core::RuntimeError naming the call, the MPI error string, file and line.
// Communicators made by par use MPI_ERRORS_RETURN, so errors reach this check.
#pragma once

#include <mpi.h>

namespace qvae::par::detail {
void check_mpi(int rc, const char* call, const char* file, int line);
}  // namespace qvae::par::detail

#define QVAE_CHECK_MPI(call) ::qvae::par::detail::check_mpi((call), #call, __FILE__, __LINE__)
