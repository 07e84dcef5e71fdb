// Timed training steps of a configured QVAE on GFlash showers: the library
// half of `qvae bench train` (train::benchmark_training), runnable before the
// subcommand is wired.  Not a test (built with QVAE_BUILD_BENCHMARKS).
//   mpirun -np 2 bench_train_steps [--config FILE] [BATCH [STEPS]]
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "qvae/core/config.hpp"
#include "qvae/core/run_options.hpp"
#include "qvae/model/config.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/par/environment.hpp"
#include "qvae/sim/gflash.hpp"
#include "qvae/train/config.hpp"
#include "qvae/train/trainer.hpp"

int main(int argc, char** argv) {
  qvae::par::Environment environment(argc, argv);
  const qvae::par::Communicator comm;
  std::vector<std::string> files;
  std::vector<std::string> numbers;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc)
      files.push_back(argv[++i]);
    else
      numbers.push_back(arg);
  }
  qvae::core::ConfigSchema schema;
  qvae::core::add_run_keys(schema);
  qvae::sim::add_sim_keys(schema);
  qvae::model::add_model_keys(schema);
  qvae::train::add_train_keys(schema);
  qvae::train::BenchTrainRequest request;
  request.config = qvae::core::Config::resolve(schema, files, {});
  request.batch_size = numbers.size() > 0 ? std::atoll(numbers[0].c_str()) : 32;
  request.batches = numbers.size() > 1 ? std::atoi(numbers[1].c_str()) : 3;
  const qvae::sim::GFlashSimulator simulator(qvae::geometry::Geometry::builtin("ds2"),
                                             qvae::sim::parameters_from(request.config));
  qvae::data::ShowerBlock showers;
  const std::int64_t events = request.batch_size * (request.batches + 1);
  showers.voxels = simulator.geometry().voxels();
  showers.incident_energies.resize(static_cast<std::size_t>(events));
  showers.showers.resize(static_cast<std::size_t>(events * showers.voxels));
  qvae::sim::simulate_events(simulator, qvae::sim::EnergySpectrum{}, 1, 0, events, showers.incident_energies.data(),
                             showers.showers.data());
  const qvae::train::BenchTrainResult r = qvae::train::benchmark_training(request, showers, simulator.geometry(), comm);
  if (comm.is_root())
    std::printf(
        "{\"ranks\":%d,\"parameters\":%lld,\"batch\":%lld,\"steps\":%d,\"step_s\":%.3f,\"cpu_step_s\":%.3f,"
        "\"showers_per_s\":%.2f,\"showers_per_s_dedicated\":%.2f,\"peak_rss_mb\":%.0f}\n",
        comm.size(), static_cast<long long>(r.parameters), static_cast<long long>(request.batch_size), request.batches,
        r.step_seconds, r.cpu_step_seconds, r.showers_per_s,
        static_cast<double>(request.batch_size) / r.cpu_step_seconds, r.peak_rss_mb);
  return 0;
}
