// qvae version [--json]: this build and the libraries it runs on.
#include <hdf5.h>
#include <mpi.h>

#include <iostream>

#include <Kokkos_Core.hpp>
#include <boost/version.hpp>
#include <torch/version.h>

#include "cli.hpp"
#include "qvae/build_info.hpp"
#include "qvae/core/json_output.hpp"

namespace qvae::cli {
namespace {

nlohmann::json kokkos_info() {
  nlohmann::json backends = nlohmann::json::array();
#ifdef KOKKOS_ENABLE_SERIAL
  backends.push_back("Serial");
#endif
#ifdef KOKKOS_ENABLE_OPENMP
  backends.push_back("OpenMP");
#endif
#ifdef KOKKOS_ENABLE_THREADS
  backends.push_back("Threads");
#endif
#ifdef KOKKOS_ENABLE_CUDA
  backends.push_back("Cuda");
#endif
#ifdef KOKKOS_ENABLE_HIP
  backends.push_back("HIP");
#endif
#ifdef KOKKOS_ENABLE_SYCL
  backends.push_back("SYCL");
#endif
  const int v = KOKKOS_VERSION;
  return {{"version", std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100)},
          {"backends", backends},
          {"default_execution_space", Kokkos::DefaultExecutionSpace::name()}};
}

nlohmann::json mpi_info(const par::Communicator& world) {
  char library[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0, major = 0, minor = 0;
  QVAE_CHECK_MPI(MPI_Get_library_version(library, &length));
  QVAE_CHECK_MPI(MPI_Get_version(&major, &minor));
  std::string text(library, static_cast<std::size_t>(length));
  text = text.substr(0, text.find_first_of("\n,"));
  return {{"library", text}, {"standard", std::to_string(major) + "." + std::to_string(minor)}, {"ranks", world.size()}};
}

nlohmann::json hdf5_info() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
#ifdef H5_HAVE_PARALLEL
  const bool parallel = true;
#else
  const bool parallel = false;
#endif
  return {{"version", std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release)},
          {"parallel", parallel}};
}

}  // namespace

int run_version(Context& context) {
  CommandLine cli("version", "qvae version [--json]",
                  "Prints the qvae version and the versions of the libraries it runs on.");
  if (!cli.parse(context)) return 0;
  const nlohmann::json info = {
      {"qvae", {{"version", build::version}, {"git", build::git_hash}, {"build_type", build::build_type},
                {"compiler", build::compiler}}},
      {"mpi", mpi_info(context.world)},
      {"libtorch", {{"version", TORCH_VERSION}}},
      {"hdf5", hdf5_info()},
      {"kokkos", kokkos_info()},
      {"boost", std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000)},
  };
  if (!context.world.is_root()) return 0;
  if (cli.json()) {
    core::print_json_summary(info);
    return 0;
  }
  std::string backends;
  for (const auto& b : info["kokkos"]["backends"]) backends += (backends.empty() ? "" : ", ") + b.get<std::string>();
  std::cout << "qvae " << build::version << " (git " << build::git_hash << ", " << build::build_type << ", "
            << build::compiler << ")\n"
            << "  MPI       " << info["mpi"]["library"].get<std::string>() << " (MPI "
            << info["mpi"]["standard"].get<std::string>() << "), " << context.world.size() << " rank(s)\n"
            << "  LibTorch  " << TORCH_VERSION << "\n"
            << "  HDF5      " << info["hdf5"]["version"].get<std::string>()
            << (info["hdf5"]["parallel"].get<bool>() ? " (parallel)" : " (serial)") << "\n"
            << "  Kokkos    " << info["kokkos"]["version"].get<std::string>() << " (backends: " << backends << ")\n"
            << "  Boost     " << info["boost"].get<std::string>() << "\n";
  return 0;
}

}  // namespace qvae::cli
