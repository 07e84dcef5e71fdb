// Test helpers: small K-partite machines and brute-force partition functions.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "qvae/core/philox.hpp"
#include "qvae/logz/log_sum_exp.hpp"
#include "qvae/rbm/boltzmann_machine.hpp"

namespace qvae::logz::testing {

/// Partitions of the given sizes, nodes numbered partition by partition; each
/// cross-partition pair is a coupler with probability `density`; weights
/// N(0, weight_sigma²), biases N(0, bias_sigma²).  Deterministic in `seed`.
inline rbm::BoltzmannMachine random_machine(const std::vector<int>& sizes, double density, double weight_sigma,
                                            double bias_sigma, std::uint64_t seed) {
  graph::PartitionedGraph graph;
  graph.topology = "test";
  graph.description = "random test model";
  graph.partitions = static_cast<int>(sizes.size());
  for (int p = 0; p < graph.partitions; ++p)
    for (int k = 0; k < sizes[static_cast<std::size_t>(p)]; ++k) graph.partition.push_back(p);
  const int n = static_cast<int>(graph.partition.size());
  core::Philox pick(seed, 11);
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j)
      if (graph.partition[static_cast<std::size_t>(i)] != graph.partition[static_cast<std::size_t>(j)] &&
          pick.uniform() < density)
        graph.couplers.push_back({i, j});
  rbm::BoltzmannMachine machine(graph);
  core::Philox values(seed, 12);
  for (int i = 0; i < n; ++i) machine.biases()[i] = bias_sigma * values.normal();
  for (std::int64_t e = 0; e < machine.num_couplers(); ++e) machine.weights()[e] = weight_sigma * values.normal();
  return machine;
}

/// 4 partitions of n units, every cross-partition pair coupled with probability 0.5.
inline rbm::BoltzmannMachine four_partite(int n, double sigma, std::uint64_t seed) {
  return random_machine({n, n, n, n}, 0.5, sigma, sigma, seed);
}

/// log Σ_z e^{−E(z)} over all 2^N states, optionally with some nodes fixed (−1: free).
inline double brute_force_log_z(const rbm::BoltzmannMachine& machine, const std::vector<int>& fixed = {}) {
  const int n = static_cast<int>(machine.num_nodes());
  std::vector<int> free_nodes;
  std::vector<std::uint8_t> z(static_cast<std::size_t>(n), 0);
  for (int i = 0; i < n; ++i) {
    if (fixed.empty() || fixed[static_cast<std::size_t>(i)] < 0)
      free_nodes.push_back(i);
    else
      z[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(fixed[static_cast<std::size_t>(i)]);
  }
  std::vector<double> terms(std::size_t{1} << free_nodes.size());
  for (std::size_t s = 0; s < terms.size(); ++s) {
    for (std::size_t k = 0; k < free_nodes.size(); ++k)
      z[static_cast<std::size_t>(free_nodes[k])] = static_cast<std::uint8_t>((s >> k) & 1u);
    terms[s] = -machine.energy(z.data());
  }
  return log_sum_exp(terms);
}

/// Mean and standard error of the mean of a sample.
struct MeanError {
  double mean = 0, std_error = 0, sd = 0;
};
inline MeanError mean_error(const std::vector<double>& values) {
  MeanError out;
  for (double v : values) out.mean += v;
  out.mean /= static_cast<double>(values.size());
  double square = 0;
  for (double v : values) square += (v - out.mean) * (v - out.mean);
  out.sd = std::sqrt(square / static_cast<double>(values.size() - 1));
  out.std_error = out.sd / std::sqrt(static_cast<double>(values.size()));
  return out;
}

}  // namespace qvae::logz::testing
