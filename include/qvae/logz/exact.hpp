// Exact partition functions by enumeration (docs/logz.md), for
// validation and small models:
//
//   log Z = LSE over the states z_E of every partition but the largest (A) of
//           [ b_Eᵀz_E + Σ_{couplers inside E} W z z + Σ_{j∈A} softplus(b_j + Σ_{i∈E} W_ij z_i) ]
//
// since every partition is an independent set, the largest one sums out in
// closed form.  States of E are visited in Gray-code order (one unit flips per
// term), in double, with a running log-sum-exp per chunk of 2^c states.
// Chunks are spread over ranks and their partial sums combined in chunk
// order, so the result is identical for any rank count.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "qvae/par/communicator.hpp"
#include "qvae/rbm/boltzmann_machine.hpp"
#include "qvae/rbm/sampler.hpp"

namespace qvae::logz {

namespace detail {
struct EnumerationPlan;
}

/// log Z₀ of the independent-bias model (all couplings 0): Σ_i softplus(b_i).
double independent_log_z(const rbm::BoltzmannMachine& machine);

struct ExactOptions {
  /// Enumerate more than 2^max_log2_terms states (by default 2^32) only when set.
  bool force = false;
  int max_log2_terms = 32;
};

struct ExactResult {
  double log_z = 0;
  int analytic_partition = -1;        ///< the partition summed in closed form
  std::int64_t enumerated_units = 0;  ///< log2 of the number of terms
  double terms = 0;                   ///< 2^enumerated_units
  double seconds = 0;                 ///< slowest rank
};

/// Units the enumeration of `machine` visits (free units outside the largest
/// free partition) when `clamped_partitions` are held fixed.
std::int64_t enumerated_units(const rbm::BoltzmannMachine& machine, const std::vector<int>& clamped_partitions = {});

/// Collective: exact log Z.  More than 2^max_log2_terms terms without `force`
/// is a core::UsageError saying how many and what to do.
ExactResult exact_log_z(const rbm::BoltzmannMachine& machine, const par::Communicator& comm,
                        const ExactOptions& options = {});

/// Collective: the conditional log Z(u) = log Σ_{z_1..z_{K−1}} e^{−E(u, z_1, …)}
/// with partition 0 held at the code `code` (one 0/1 byte per node of
/// partition 0, ascending node order).  E is the full energy, so b₀ᵀu is
/// included; the reference's conditional energy (energy_exp_cond) drops
/// it: log Z_cond(u) = log Z(u) − b₀ᵀu.  A code of the wrong length or with
/// values other than 0/1 is a core::InputError.
ExactResult exact_conditional_log_z(const rbm::BoltzmannMachine& machine, const std::vector<std::uint8_t>& code,
                                    const par::Communicator& comm, const ExactOptions& options = {});

/// Exact samples of p(z) = e^{−E(z)}/Z for starting reverse AIS: a
/// table of the 2^k enumerated states' probabilities (k ≤ kMaxSamplerLog2Terms),
/// then per chain one inverse-CDF draw and the largest partition from its
/// exact conditional.  Chain c draws from Philox (seed, (kExactSampleDomain, c)),
/// so samples do not depend on which rank draws them.
class ExactSampler {
 public:
  static constexpr int kMaxSamplerLog2Terms = 24;  ///< a 128 MiB table
  /// A model with more enumerated units than kMaxSamplerLog2Terms is a core::UsageError.
  explicit ExactSampler(const rbm::BoltzmannMachine& machine);
  /// States of chains [first_chain, first_chain + count), 0 sweeps done.
  rbm::ChainBlock sample(std::uint64_t seed, std::int64_t first_chain, std::int64_t count) const;
  double log_z() const { return log_z_; }

 private:
  std::int64_t units_ = 0;
  std::shared_ptr<const detail::EnumerationPlan> plan_;
  std::vector<double> cumulative_;  ///< by Gray index g, state bits = g ^ (g >> 1)
  double log_z_ = 0;
};

}  // namespace qvae::logz
