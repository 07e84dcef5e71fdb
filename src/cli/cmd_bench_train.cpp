// qvae bench train: training steps/s of the configured QVAE (default: the
// reference ds2 CNN on Pegasus 4 x 302) on GFlash showers, one LibTorch thread
// per rank; reports showers/s and peak memory per rank.
// Options are declared in cmd_bench.cpp (--events, --geometry, --batch-size,
// --batches, --threads).  Results in docs/performance.md.
#include <algorithm>
#include <cstdio>
#include <optional>

#include "cli.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/sim/gflash.hpp"
#include "qvae/train/trainer.hpp"

namespace qvae::cli {

int bench_train(Context& context, CommandLine& cli) {
  const po::variables_map& values = cli.values();
  const par::Communicator& comm = context.world;
  train::BenchTrainRequest request;
  request.config = cli.config();
  request.batch_size = values.count("batch-size") ? values["batch-size"].as<std::int64_t>() : 32;
  request.batches = values.count("batches") ? values["batches"].as<int>() : 3;
  request.threads = values.count("threads") ? values["threads"].as<int>() : 1;
  const std::string geometry_name = values.count("geometry") ? values["geometry"].as<std::string>() : "ds2";
  std::int64_t events = values.count("events") ? values["events"].as<std::int64_t>() : 0;
  std::optional<sim::GFlashSimulator> simulator;
  par::run_agreed(comm, [&] {
    if (request.batch_size < 1 || request.batches < 1)
      throw core::UsageError(core::describe("--batch-size and --batches must be >= 1", "qvae bench train"));
    simulator.emplace(geometry::Geometry::builtin(geometry_name), sim::parameters_from(cli.config()));
  });
  // Enough events for the warm-up and the timed steps, the same block on every rank.
  events = std::min<std::int64_t>(std::max<std::int64_t>(events, request.batch_size),
                                  request.batch_size * (request.batches + 1));
  data::ShowerBlock showers;
  showers.voxels = simulator->geometry().voxels();
  showers.incident_energies.resize(static_cast<std::size_t>(events));
  showers.showers.resize(static_cast<std::size_t>(events * showers.voxels));
  sim::simulate_events(*simulator, sim::EnergySpectrum{}, cli.run().seed, 0, events, showers.incident_energies.data(),
                       showers.showers.data());
  train::BenchTrainResult result;
  par::run_agreed(comm, [&] { result = train::benchmark_training(request, showers, simulator->geometry(), comm); });
  nlohmann::json summary = {{"subject", "train"},
                            {"geometry", simulator->geometry().name()},
                            {"parameters", result.parameters},
                            {"batch_size", request.batch_size},
                            {"batches", request.batches},
                            {"threads_per_rank", request.threads},
                            {"device", result.device},
                            {"ranks", comm.size()},
                            {"seconds", result.seconds},
                            {"step_seconds", result.step_seconds},
                            {"cpu_step_seconds", result.cpu_step_seconds},
                            {"showers_per_s", result.showers_per_s},
                            {"peak_rss_mb_per_rank", result.peak_rss_mb}};
  nlohmann::json breakdown = nlohmann::json::object();
  for (const auto& [phase, seconds] : result.step_breakdown) breakdown[phase] = seconds;
  summary["step_breakdown_s"] = breakdown;
  summary["gradient_buckets"] = result.gradient_buckets;
  summary["buckets_started_in_backward"] = result.buckets_started_in_backward;
  if (cli.json())
    core::print_json_summary(summary, comm.is_root());
  else if (comm.is_root())
    std::fprintf(stderr,
                 "bench train: %lld-parameter model on %s, global batch %lld, %d timed steps on %d rank(s) x %d "
                 "thread(s): %.2f s/step (%.2f s CPU on the slowest rank), %.1f showers/s, peak %.0f MB per rank\n",
                 static_cast<long long>(result.parameters), result.device.c_str(),
                 static_cast<long long>(request.batch_size), request.batches, comm.size(), request.threads,
                 result.step_seconds, result.cpu_step_seconds, result.showers_per_s, result.peak_rss_mb);
  if (!cli.json() && comm.is_root()) {
    std::fprintf(stderr, "  per step, mean over ranks:");
    for (const auto& [phase, seconds] : result.step_breakdown)
      std::fprintf(stderr, " %s %.3f s", phase.c_str(), seconds);
    std::fprintf(stderr, "\n");
  }
  return 0;
}

}  // namespace qvae::cli
