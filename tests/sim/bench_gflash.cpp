// Google Benchmark: ds2 showers per second of the GFlash generator on one core.
//   ./build/bin/bench_gflash   (items_per_second = showers/s)
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "qvae/geometry/geometry.hpp"
#include "qvae/par/environment.hpp"
#include "qvae/sim/gflash.hpp"

namespace {

const qvae::sim::GFlashSimulator& ds2() {
  static const qvae::sim::GFlashSimulator simulator(qvae::geometry::Geometry::builtin("ds2"),
                                                    qvae::sim::GFlashParameters{});
  return simulator;
}

/// Energies of the real ds2 spectrum, drawn before timing.
void BM_Ds2LogUniform(benchmark::State& state) {
  const auto& simulator = ds2();
  const qvae::sim::EnergySpectrum spectrum;  // log-uniform 1 GeV - 1 TeV
  constexpr std::int64_t kEnergies = 4096;
  std::vector<double> energies(kEnergies);
  for (std::int64_t i = 0; i < kEnergies; ++i) energies[static_cast<std::size_t>(i)] = spectrum.draw(1, i);
  std::vector<double> voxels(static_cast<std::size_t>(simulator.geometry().voxels()));
  std::int64_t event = 0;
  for (auto _ : state) {
    simulator.simulate(1, event, energies[static_cast<std::size_t>(event % kEnergies)], voxels.data());
    benchmark::DoNotOptimize(voxels.data());
    benchmark::ClobberMemory();
    ++event;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ds2LogUniform)->Unit(benchmark::kMicrosecond);

void BM_Ds2FixedEnergy(benchmark::State& state) {
  const auto& simulator = ds2();
  const double e_inc_mev = static_cast<double>(state.range(0));
  std::vector<double> voxels(static_cast<std::size_t>(simulator.geometry().voxels()));
  std::int64_t event = 0;
  for (auto _ : state) {
    simulator.simulate(1, event++, e_inc_mev, voxels.data());
    benchmark::DoNotOptimize(voxels.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::to_string(state.range(0) / 1000) + " GeV");
}
BENCHMARK(BM_Ds2FixedEnergy)->Arg(1000)->Arg(1000000)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  qvae::par::Environment env(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
