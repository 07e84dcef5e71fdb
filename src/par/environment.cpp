#include "qvae/par/environment.hpp"

#include <mpi.h>

#include <string>
#include <vector>

#include <Kokkos_Core.hpp>

#include "qvae/core/error.hpp"
#include "qvae/core/log.hpp"
#include "qvae/par/mpi_check.hpp"

namespace qvae::par {
namespace {

/// Kokkos also reads un-prefixed options such as --help and --threads; give it
/// only the --kokkos-* ones (and remove those from argv), so `qvae cmd --help`
/// is ours.
void initialize_kokkos(int& argc, char**& argv) {
  const std::string prefix = "--kokkos-";
  std::vector<char*> kokkos_args{argv[0]};
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]).compare(0, prefix.size(), prefix) == 0)
      kokkos_args.push_back(argv[i]);
    else
      argv[kept++] = argv[i];
  }
  argc = kept;
  argv[argc] = nullptr;
  int kokkos_argc = static_cast<int>(kokkos_args.size());
  kokkos_args.push_back(nullptr);
  Kokkos::initialize(kokkos_argc, kokkos_args.data());
}

}  // namespace

Environment::Environment(int& argc, char**& argv) {
  int initialized = 0;
  QVAE_CHECK_MPI(MPI_Initialized(&initialized));
  if (!initialized) {
    int provided = 0;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      throw core::RuntimeError(core::describe("MPI_Init_thread failed", "qvae::par::Environment",
                                              "check the MPI installation and launcher"));
    owns_mpi_ = true;
  }
  QVAE_CHECK_MPI(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  QVAE_CHECK_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  QVAE_CHECK_MPI(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  core::log::set_rank(rank_, size_);
  if (!Kokkos::is_initialized()) initialize_kokkos(argc, argv);
}

Environment::~Environment() {
  if (Kokkos::is_initialized()) Kokkos::finalize();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owns_mpi_ && !finalized) MPI_Finalize();
}

MpiLibrary mpi_library() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MpiLibrary library;
  QVAE_CHECK_MPI(MPI_Get_library_version(text, &length));
  QVAE_CHECK_MPI(MPI_Get_version(&library.major, &library.minor));
  library.name = std::string(text, static_cast<std::size_t>(length));
  library.name = library.name.substr(0, library.name.find_first_of("\n,"));
  return library;
}

}  // namespace qvae::par
