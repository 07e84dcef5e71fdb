// qvae bench train: timed data-parallel steps of the configured model on
// showers held in memory (docs/performance.md "Training").
#include <algorithm>
#include <optional>

#include "data_parallel_model.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/resource_usage.hpp"
#include "qvae/core/run_options.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/data/splits.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/train/trainer.hpp"

namespace qvae::train {
namespace {

/// Showers held in memory (qvae bench train: the caller's block; training streams its rows instead).
struct InMemoryShowers {
  std::int64_t voxels = 0;
  std::vector<double> energies;
  std::vector<float> showers;

  data::ShowerBlock gather(const std::int64_t* events, std::int64_t count) const {
    data::ShowerBlock block;
    block.voxels = voxels;
    block.first_event = count > 0 ? events[0] : 0;
    block.incident_energies.resize(static_cast<std::size_t>(count));
    block.showers.resize(static_cast<std::size_t>(count * voxels));
    for (std::int64_t i = 0; i < count; ++i) {
      const auto e = static_cast<std::size_t>(events[i]);
      block.incident_energies[static_cast<std::size_t>(i)] = energies[e];
      std::copy_n(showers.data() + e * static_cast<std::size_t>(voxels), voxels, block.shower(i));
    }
    return block;
  }
};

}  // namespace

BenchTrainResult benchmark_training(const BenchTrainRequest& request, const data::ShowerBlock& showers,
                                    const geometry::Geometry& geometry, const par::Communicator& comm) {
  BenchTrainResult result;
  TrainConfig train_config = train_config_from(request.config);
  train_config.batch_size = request.batch_size;
  train_config.micro_batch_size = 0;
  const model::ModelConfig model_config = model::model_config_from(request.config);
  if (request.threads > 0) torch::set_num_threads(request.threads);
  InMemoryShowers data;
  data.voxels = showers.voxels;
  data.energies = showers.incident_energies;
  data.showers = showers.showers;
  const std::int64_t events = showers.events();
  if (events < request.batch_size)
    throw core::UsageError(core::describe("need at least one batch of events", "qvae bench train",
                                          "raise --events or lower --batch-size"));
  const std::int64_t batches_per_epoch = events / request.batch_size;
  std::optional<DataParallelModel> trainer;
  par::run_agreed(comm, [&] { trainer.emplace(model_config, geometry, train_config, core::RunOptions{}.seed, comm); });
  result.parameters = trainer->parameter_count();
  result.device = trainer->device().str();
  const std::vector<std::int64_t> order = data::epoch_permutation(events, 0, 1);
  auto run_step = [&](int index) {
    const std::int64_t b = index % batches_per_epoch;
    const std::int64_t* batch = order.data() + b * request.batch_size;
    const par::Block share = trainer->my_rows(request.batch_size);
    trainer->step(
        batch, request.batch_size, [&] { return data.gather(batch + share.offset, share.count); }, 1, b,
        batches_per_epoch, batches_per_epoch, Stage::joint, false);
  };
  run_step(0);  // warm-up: allocations, sampler construction
  comm.barrier();
  const core::Stopwatch start;
  const double cpu_start = core::process_cpu_seconds();
  trainer->reset_step_times();
  for (int i = 1; i <= request.batches; ++i) run_step(i);
  result.cpu_step_seconds = comm.max(core::process_cpu_seconds() - cpu_start) / std::max(request.batches, 1);
  result.seconds = comm.max(start.seconds());
  result.step_seconds = result.seconds / std::max(request.batches, 1);
  result.showers_per_s = result.seconds > 0 ? static_cast<double>(request.batches) *
                                                  static_cast<double>(request.batch_size) / result.seconds
                                            : 0.0;
  result.peak_rss_mb = comm.max(core::peak_rss_mb());
  const StepTimes& t = trainer->step_times();
  std::vector<std::pair<std::string, double>> phases = t.phases();
  std::vector<double> seconds;
  for (const auto& phase : phases) seconds.push_back(phase.second);
  comm.sum_in_place(seconds.data(), seconds.size());
  const double per_step = 1.0 / (static_cast<double>(comm.size()) * std::max(t.steps, 1));
  for (std::size_t i = 0; i < phases.size(); ++i) phases[i].second = seconds[i] * per_step;
  result.step_breakdown = phases;
  result.gradient_buckets = static_cast<std::int64_t>(trainer->gradient_buckets());
  result.buckets_started_in_backward =
      static_cast<double>(t.buckets_started_in_backward) / static_cast<double>(std::max(t.steps, 1));
  return result;
}

}  // namespace qvae::train
