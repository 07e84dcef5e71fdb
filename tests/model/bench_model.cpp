// Google Benchmark: one QVAE training step on ds2 GFlash showers, one core.
//   ./build/bin/bench_model                      (all)
//   ./build/bin/bench_model --benchmark_filter=Tiny
// Network = forward + loss + backward with fixed negative samples (what the
// batch size and the architecture cost); NegativePhase = the Kokkos Gibbs
// chains of the batch (rbm.gibbs_steps sweeps); Generate = showers per call.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "qvae/core/config.hpp"
#include "qvae/geometry/geometry.hpp"
#include "qvae/model/qvae.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/par/environment.hpp"
#include "qvae/sim/gflash.hpp"

namespace {

using namespace qvae::model;

/// A model from configs/model/<name> and a batch of GFlash showers.
struct Setup {
  Qvae model{nullptr};
  torch::Tensor reduced, energies;
  NoiseKeys keys;
};

/// Models and batches, built once; cleared before Kokkos finalizes.
std::map<std::pair<std::string, std::int64_t>, std::unique_ptr<Setup>>& cache() {
  static std::map<std::pair<std::string, std::int64_t>, std::unique_ptr<Setup>> instance;
  return instance;
}

Setup& setup(const std::string& config_file, std::int64_t batch) {
  auto& entry = cache()[{config_file, batch}];
  if (entry) return *entry;
  torch::set_num_threads(1);
  torch::manual_seed(1);
  qvae::core::ConfigSchema schema;
  add_model_keys(schema);
  const ModelConfig config = model_config_from(
      qvae::core::Config::resolve(schema, {std::string(QVAE_MODEL_CONFIG_DIR) + "/" + config_file}, {}));
  const auto geometry = qvae::geometry::Geometry::builtin("ds2");
  entry = std::make_unique<Setup>();
  entry->model = Qvae(config, geometry, make_prior(config, 1, qvae::par::Communicator()));
  const qvae::sim::EnergySpectrum spectrum;
  const qvae::sim::GFlashSimulator simulator(geometry, qvae::sim::GFlashParameters{});
  torch::Tensor showers = torch::zeros({batch, geometry.voxels()}, torch::kDouble);
  std::vector<double> energies;
  for (std::int64_t i = 0; i < batch; ++i) {
    energies.push_back(spectrum.draw(3, i));
    simulator.simulate(3, i, energies.back(), showers.data_ptr<double>() + i * geometry.voxels());
  }
  entry->energies = torch::tensor(energies, torch::kDouble);
  entry->reduced = entry->model->reduce(showers, entry->energies);
  entry->keys = {5, 0, torch::arange(batch, torch::kLong), 0};
  return *entry;
}

void network_step(benchmark::State& state, const std::string& config_file) {
  Setup& s = setup(config_file, state.range(0));
  auto& model = s.model;
  torch::Tensor negative;
  {
    const ForwardOutput out = model->forward(s.reduced, s.energies, {1.0, 0.05, s.keys});
    negative = model->negative_samples(out, s.keys);
  }
  for (auto _ : state) {
    model->zero_grad();
    const ForwardOutput out = model->forward(s.reduced, s.energies, {1.0, 0.05, s.keys});
    model->loss(out, negative).total.backward();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["parameters"] = static_cast<double>([&] {
    std::int64_t n = 0;
    for (const auto& p : model->parameters()) n += p.numel();
    return n;
  }());
}

void negative_phase(benchmark::State& state, const std::string& config_file) {
  Setup& s = setup(config_file, state.range(0));
  const ForwardOutput out = [&] {
    torch::NoGradGuard guard;
    return s.model->forward(s.reduced, s.energies, {1.0, 0.05, s.keys});
  }();
  for (auto _ : state) benchmark::DoNotOptimize(s.model->negative_samples(out, s.keys).data_ptr());
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["sweeps"] = s.model->config().rbm.gibbs_steps;
}

void generate(benchmark::State& state, const std::string& config_file) {
  Setup& s = setup(config_file, state.range(0));
  const std::vector<double> energies(s.energies.data_ptr<double>(), s.energies.data_ptr<double>() + state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(s.model->generate(energies, 9, 0).showers.data());
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

BENCHMARK_CAPTURE(network_step, Tiny, std::string("tiny.ini"))->Arg(32)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(network_step, Reference, std::string("ds2-cnn-pegasus.ini"))
    ->Arg(32)
    ->Arg(128)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);
BENCHMARK_CAPTURE(negative_phase, Tiny, std::string("tiny.ini"))->Arg(32)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(negative_phase, Reference, std::string("ds2-cnn-pegasus.ini"))
    ->Arg(32)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(generate, Tiny, std::string("tiny.ini"))->Arg(32)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  qvae::par::Environment env(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  cache().clear();
  return 0;
}
