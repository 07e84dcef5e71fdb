// Shared by the train tests (test_train.cpp, test_stability.cpp): the config
// schema, the tiny experiment with overrides, a directory both ranks share,
// simulated showers, and reading datasets back.
#pragma once

#include <mpi.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "qvae/core/config.hpp"
#include "qvae/core/run_options.hpp"
#include "qvae/data/calo_file.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/model/config.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/par/partition.hpp"
#include "qvae/sim/gflash.hpp"
#include "qvae/train/config.hpp"

namespace qvae::train_test {

namespace fs = std::filesystem;

inline const core::ConfigSchema& test_schema() {
  static const core::ConfigSchema schema = [] {
    core::ConfigSchema s;
    core::add_run_keys(s);
    model::add_model_keys(s);
    train::add_train_keys(s);
    return s;
  }();
  return schema;
}

inline core::Config tiny_config(const std::vector<core::ConfigOverride>& overrides) {
  return core::Config::resolve(test_schema(), {std::string(QVAE_EXPERIMENT_CONFIG_DIR) + "/tiny.ini"}, overrides);
}

/// A directory shared by both ranks (rank 0's pid), removed at the end.
struct SharedTempDir {
  fs::path path;
  explicit SharedTempDir(const par::Communicator& comm, const std::string& tag) {
    const int pid = comm.broadcast_value(static_cast<int>(::getpid()));
    path = fs::temp_directory_path() / ("qvae-test-train-" + tag + "-" + std::to_string(pid));
    if (comm.is_root()) fs::create_directories(path);
    comm.barrier();
  }
  ~SharedTempDir() {
    MPI_Barrier(MPI_COMM_WORLD);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    std::error_code ignored;
    if (rank == 0) fs::remove_all(path, ignored);
  }
};

/// `events` GFlash ds2 showers in `path`, written collectively (contiguous unless `settings` say otherwise).
inline void write_showers(const std::string& path, std::int64_t events, const par::Communicator& comm,
                          const data::WriteSettings& settings = {}) {
  const sim::GFlashSimulator simulator(geometry::Geometry::builtin("ds2"), sim::GFlashParameters{});
  const par::Block mine = par::my_block(events, comm);
  data::ShowerBlock block;
  block.first_event = mine.offset;
  block.voxels = simulator.geometry().voxels();
  block.incident_energies.resize(static_cast<std::size_t>(mine.count));
  block.showers.resize(static_cast<std::size_t>(mine.count * block.voxels));
  sim::simulate_events(simulator, sim::EnergySpectrum{}, 11, mine.offset, mine.count, block.incident_energies.data(),
                       block.showers.data());
  data::write_calo_file(path, comm, simulator.geometry(), block, io::Provenance{"test_train", 11, ""}, settings);
}

template <class T>
std::vector<T> read_dataset(const std::string& path, const std::string& name) {
  const io::File file = io::File::open_serial(path);
  return io::read_all<T>(file, name, 0);
}

inline std::vector<double> read_doubles(const std::string& path, const std::string& name) {
  return read_dataset<double>(path, name);
}

}  // namespace qvae::train_test
