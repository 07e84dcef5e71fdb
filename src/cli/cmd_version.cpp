// qvae version [--json]: this build and the libraries it runs on.

#include <iostream>

#include <torch/cuda.h>
#include <torch/version.h>
#include <Kokkos_Core.hpp>
#include <boost/version.hpp>

#include "cli.hpp"
#include "qvae/build_info.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/io/h5.hpp"

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
  const par::MpiLibrary library = par::mpi_library();
  return {{"library", library.name},
          {"standard", std::to_string(library.major) + "." + std::to_string(library.minor)},
          {"ranks", world.size()}};
}

nlohmann::json hdf5_info() {
  const io::Hdf5Library library = io::hdf5_library();
  return {{"version", library.version}, {"parallel", library.parallel}};
}

}  // namespace

int run_version(Context& context) {
  CommandLine cli("version", "qvae version [--json]",
                  "Prints the qvae version and the versions of the libraries it runs on.");
  if (!cli.parse(context)) return 0;
  const nlohmann::json info = {
      {"qvae",
       {{"version", build::version},
        {"git", build::git_hash},
        {"build_type", build::build_type},
        {"compiler", build::compiler}}},
      {"mpi", mpi_info(context.world)},
      {"libtorch",
       {{"version", TORCH_VERSION},
        {"cuda", torch::cuda::is_available()},
        {"cuda_devices", static_cast<std::int64_t>(torch::cuda::device_count())}}},
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
            << "  LibTorch  " << TORCH_VERSION
            << (info["libtorch"]["cuda"].get<bool>()
                    ? " (CUDA, " + std::to_string(info["libtorch"]["cuda_devices"].get<std::int64_t>()) + " GPU(s))"
                    : std::string(" (CPU only)"))
            << "\n"
            << "  HDF5      " << info["hdf5"]["version"].get<std::string>()
            << (info["hdf5"]["parallel"].get<bool>() ? " (parallel)" : " (serial)") << "\n"
            << "  Kokkos    " << info["kokkos"]["version"].get<std::string>() << " (backends: " << backends << ")\n"
            << "  Boost     " << info["boost"].get<std::string>() << "\n";
  return 0;
}

}  // namespace qvae::cli
