#include "qvae/par/mpi_check.hpp"

#include <string>

#include "qvae/core/error.hpp"

namespace qvae::par::detail {

void check_mpi(int rc, const char* call, const char* file, int line) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(rc, text, &length) != MPI_SUCCESS) length = 0;
  throw core::RuntimeError(core::describe("MPI call failed: " + std::string(text, static_cast<std::size_t>(length)),
                                          std::string(call) + " at " + file + ":" + std::to_string(line),
                                          "check the MPI launch (mpirun/srun) and the job's resources"));
}

}  // namespace qvae::par::detail
