// Google Benchmark: the Fréchet distance of two d-dimensional Gaussians (its
// cost is Tr sqrt(S1 S2)), as the FPD computes it for every batch size and
// resample, and the symmetric eigen-decomposition behind it.
//   ./build/bin/bench_linalg
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "qvae/core/philox.hpp"
#include "qvae/eval/linalg.hpp"

namespace {

/// A sample covariance of `rows` random rows of dimension d (rank min(rows - 1, d)).
std::vector<double> covariance(int d, std::int64_t rows, std::uint64_t seed) {
  qvae::core::Philox random(seed, 0);
  std::vector<double> matrix(static_cast<std::size_t>(rows * d));
  for (std::size_t i = 0; i < matrix.size(); ++i)  // correlated neighbours, as in shower features
    matrix[i] = random.normal() + (i % static_cast<std::size_t>(d) == 0 ? 0.0 : 0.5 * matrix[i - 1]);
  std::vector<std::int64_t> indices(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) indices[static_cast<std::size_t>(r)] = r;
  std::vector<double> mean, cov;
  qvae::eval::mean_and_covariance(matrix.data(), d, indices.data(), rows, mean, cov);
  return cov;
}

void BM_FrechetDistance(benchmark::State& state) {
  const int d = static_cast<int>(state.range(0));
  const std::vector<double> a = covariance(d, 4 * d, 1), b = covariance(d, 4 * d, 2);
  const std::vector<double> mean(static_cast<std::size_t>(d), 0.0);
  for (auto _ : state) benchmark::DoNotOptimize(qvae::eval::frechet_distance(mean, a, mean, b, d));
}
BENCHMARK(BM_FrechetDistance)->Arg(64)->Arg(256)->Arg(512)->Unit(benchmark::kMillisecond);

void BM_SymmetricEigen(benchmark::State& state) {
  const int d = static_cast<int>(state.range(0));
  const std::vector<double> a = covariance(d, 4 * d, 3);
  for (auto _ : state) benchmark::DoNotOptimize(qvae::eval::symmetric_eigen(a, d).values.data());
}
BENCHMARK(BM_SymmetricEigen)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
