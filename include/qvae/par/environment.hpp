// Process-wide runtime: MPI, then Kokkos; stopped in reverse order.
#pragma once

#include <string>

namespace qvae::par {

/// The MPI library this process runs on (`qvae version`).
struct MpiLibrary {
  std::string name;          ///< first line of MPI_Get_library_version, up to a comma
  int major = 0, minor = 0;  ///< the MPI standard it implements
};
MpiLibrary mpi_library();

/// Starts MPI (thread level FUNNELED) and Kokkos for the life of the object,
/// tells the logger this process's rank, and makes MPI_COMM_WORLD return
/// errors instead of aborting, so every MPI call can be checked.
/// Kokkos options (--kokkos-threads=...) are removed from argv.
class Environment {
 public:
  Environment(int& argc, char**& argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  int world_rank() const { return rank_; }
  int world_size() const { return size_; }

 private:
  int rank_ = 0, size_ = 1;
  bool owns_mpi_ = false;
};

}  // namespace qvae::par
