// Test helpers: small K-partite machines that can be enumerated exactly, and
// z-score checks of sampled statistics against exact ones.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "qvae/core/philox.hpp"
#include "qvae/rbm/boltzmann_machine.hpp"
#include "qvae/rbm/sampler.hpp"
#include "random_machine.hpp"

namespace qvae::rbm::testing {

using qvae::testing::random_machine;

/// Exact first and second moments of p_β(z) ∝ exp(−scaled_energy(z)), optionally
/// conditioned on fixed values of some nodes (fixed[i] = -1: free).
struct ExactMoments {
  std::vector<double> mean;  ///< E[z_i]
  std::vector<double> pair;  ///< E[z_i z_j], i < j, row-major upper triangle
  double mean_energy = 0;    ///< E[E(z)] (β = 1 energy)
};

inline ExactMoments exact_moments(const BoltzmannMachine& machine, double beta, BetaScope scope,
                                  const std::vector<int>& fixed = {}) {
  const int n = static_cast<int>(machine.num_nodes());
  std::vector<int> free_nodes;
  for (int i = 0; i < n; ++i)
    if (fixed.empty() || fixed[i] < 0) free_nodes.push_back(i);
  const int f = static_cast<int>(free_nodes.size());
  std::vector<std::uint8_t> z(n, 0);
  for (int i = 0; i < n; ++i)
    if (!fixed.empty() && fixed[i] >= 0) z[i] = static_cast<std::uint8_t>(fixed[i]);
  // First pass: the largest log-weight, for a stable sum.
  std::vector<double> log_weight(std::size_t{1} << f);
  double top = -1e300;
  for (std::size_t s = 0; s < log_weight.size(); ++s) {
    for (int k = 0; k < f; ++k) z[free_nodes[k]] = (s >> k) & 1;
    log_weight[s] = -machine.scaled_energy(z.data(), beta, scope);
    top = std::max(top, log_weight[s]);
  }
  ExactMoments out;
  out.mean.assign(n, 0.0);
  out.pair.assign(static_cast<std::size_t>(n) * n, 0.0);
  double total = 0;
  for (std::size_t s = 0; s < log_weight.size(); ++s) {
    for (int k = 0; k < f; ++k) z[free_nodes[k]] = (s >> k) & 1;
    const double w = std::exp(log_weight[s] - top);
    total += w;
    out.mean_energy += w * machine.energy(z.data());
    for (int i = 0; i < n; ++i) {
      if (!z[i]) continue;
      out.mean[i] += w;
      for (int j = i + 1; j < n; ++j)
        if (z[j]) out.pair[static_cast<std::size_t>(i) * n + j] += w;
    }
  }
  for (auto& v : out.mean) v /= total;
  for (auto& v : out.pair) v /= total;
  out.mean_energy /= total;
  return out;
}

/// Sampled moments of independent chains (one state per chain).
inline ExactMoments sampled_moments(const ChainBlock& chains) {
  const std::int64_t n = chains.units;
  ExactMoments out;
  out.mean.assign(n, 0.0);
  out.pair.assign(static_cast<std::size_t>(n * n), 0.0);
  for (std::int64_t c = 0; c < chains.count; ++c) {
    const std::uint8_t* z = chains.state(c);
    for (std::int64_t i = 0; i < n; ++i) {
      if (!z[i]) continue;
      out.mean[i] += 1;
      for (std::int64_t j = i + 1; j < n; ++j)
        if (z[j]) out.pair[static_cast<std::size_t>(i * n + j)] += 1;
    }
  }
  for (auto& v : out.mean) v /= static_cast<double>(chains.count);
  for (auto& v : out.pair) v /= static_cast<double>(chains.count);
  return out;
}

/// Every marginal and pair moment of `sampled` (from `samples` independent
/// chains) within `bound` standard errors of `exact`.  The standard error of a
/// Bernoulli mean is sqrt(p(1−p)/samples); statistics with p(1−p) tiny are
/// skipped unless they differ by more than 5/samples.  With |z| < 5 on ~150
/// statistics the chance of a false alarm is below 1e-4 (Bonferroni).
/// Returns the largest |z|.
inline double expect_moments_match(const ExactMoments& exact, const ExactMoments& sampled, std::int64_t samples,
                                   double bound, const std::string& label, const std::vector<int>& skip_nodes = {}) {
  const std::size_t n = exact.mean.size();
  double worst = 0;
  auto check = [&](double p, double estimate, const std::string& what) {
    const double variance = p * (1 - p) / static_cast<double>(samples);
    if (variance < 1e-12) {
      EXPECT_NEAR(estimate, p, 5.0 / static_cast<double>(samples)) << label << ": " << what;
      return;
    }
    const double z = (estimate - p) / std::sqrt(variance);
    worst = std::max(worst, std::fabs(z));
    EXPECT_LT(std::fabs(z), bound) << label << ": " << what << " exact " << p << " sampled " << estimate;
  };
  auto skipped = [&](std::size_t i) {
    for (int s : skip_nodes)
      if (static_cast<std::size_t>(s) == i) return true;
    return false;
  };
  for (std::size_t i = 0; i < n; ++i) {
    if (skipped(i)) continue;
    check(exact.mean[i], sampled.mean[i], "mean of unit " + std::to_string(i));
    for (std::size_t j = i + 1; j < n; ++j)
      if (!skipped(j))
        check(exact.pair[i * n + j], sampled.pair[i * n + j],
              "pair (" + std::to_string(i) + ", " + std::to_string(j) + ")");
  }
  return worst;
}

}  // namespace qvae::rbm::testing
