// Annealed importance sampling along the geometric path that scales the
// couplings (docs/logz.md):
//
//   f_β(z) = exp(bᵀz + β Q(z)),  Q(z) = Σ_e W_e z_i z_j,  f_0 = independent biases, f_1 = the model.
//
// The transition at β_k is s block-Gibbs sweeps of rbm::Sampler with
// set_beta(β_k, BetaScope::couplings): it leaves exactly p_k ∝ f_{β_k}
// invariant, because the couplings scope multiplies W by β and leaves b alone.
// Only the coupling energy Q enters the weights, since log f_k − log f_{k−1} =
// (β_k − β_{k−1}) Q.
//
// Forward AIS (Neal 2001): x_1 ~ p_0 exactly (one sweep at β = 0 draws every
// unit from σ(b) whatever the start), then for k = 1..K:
//   log w += (β_k − β_{k−1}) Q(x_k);  x_{k+1} ~ T_k(x_k, ·)  (k < K).
//   log Ẑ = log Z₀ + LSE_m(log w_m) − log M;  E[Ẑ] = Z, so E[log Ẑ] ≤ log Z.
// Reverse AIS: x_K ~ p_K (exact samples: a stochastic upper bound; data or
// long chains: no guarantee), then for k = K..1:
//   log r += −(β_k − β_{k−1}) Q(x_k);  x_{k−1} ~ T_{k−1}(x_k, ·)  (k > 1).
//   log Ẑ = log Z₀ − (LSE_m(log r_m) − log M);  E[r] = Z₀/Z, so E[log Ẑ] ≥ log Z.
// The unbiasedness of r needs only that each T_k leaves p_k invariant, so the
// sampler's fixed partition order 0..K−1 serves both directions.  (RAISE's
// reading — log p̂(v) = −E(v) − log Z₀ + log r — is then an unbiased estimate
// for the annealing model whose forward kernels are the reversed sweeps
// K−1..0, which leave the same p_k invariant.)
//
// Per-chain log-weights stay in double and are combined once, with
// log-sum-exp.  Chains are spread over ranks in contiguous blocks
// (par::my_block); chain c's sweeps draw from the sampler's (seed, c, sweep)
// streams, the weights of every chain are gathered in chain order and every
// rank combines them the same way, so results are identical for any rank count.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "qvae/par/communicator.hpp"
#include "qvae/rbm/boltzmann_machine.hpp"
#include "qvae/rbm/sampler.hpp"

namespace qvae::logz {

enum class Direction { forward, reverse };
const char* to_string(Direction direction) noexcept;

/// Where reverse chains start: exact samples (small models; a
/// guaranteed stochastic upper bound), data (RAISE: latent codes from a
/// file) or long equilibrated Gibbs chains (reported as not a guaranteed bound).
enum class ReverseStart { exact, data, chains };
/// "exact" | "data" | "chains"; anything else is a core::UsageError.
ReverseStart parse_reverse_start(const std::string& text);
const char* to_string(ReverseStart start) noexcept;

struct AnnealingSettings {
  std::int64_t chains = 1024;  ///< over all ranks
  std::int64_t sweeps_per_temperature = 1;
  std::vector<double> betas;  ///< the schedule, β_0 = 0 … β_K = 1
  std::uint64_t seed = 0;     ///< forward chains use it; reverse chains derive theirs
  rbm::SamplerFactory factory = rbm::make_kokkos_sampler;
  /// Called on every rank with the temperatures done so far (progress display).
  std::function<void(std::int64_t)> on_progress;
};

/// The sampler seed of each direction: the run's seed for forward chains,
/// derive_seed(seed, reverse_chains) for reverse chains.
std::uint64_t chain_seed(std::uint64_t seed, Direction direction);

/// Where the reverse chains of this rank start: `states` holds this rank's
/// block [par::my_block(chains)) of start states (0 sweeps done).  The chains
/// first run `equilibration_sweeps` sweeps at β = 1 (for ReverseStart::chains).
struct ReverseStartStates {
  ReverseStart kind = ReverseStart::exact;
  rbm::ChainBlock states;
  std::int64_t equilibration_sweeps = 0;
};

/// This rank's block of exact samples of p_K (ExactSampler; seeded by
/// derive_seed(seed, exact_start)).
ReverseStartStates exact_start(const rbm::BoltzmannMachine& machine, std::uint64_t seed, std::int64_t chains,
                               const par::Communicator& comm);
/// This rank's block of uniformly random states, to be equilibrated for
/// `equilibration_sweeps` sweeps at β = 1 by the reverse sampler itself.
ReverseStartStates equilibrated_start(const rbm::BoltzmannMachine& machine, std::uint64_t seed, std::int64_t chains,
                                      std::int64_t equilibration_sweeps, const par::Communicator& comm);
/// Chain c starts at data row c mod D; `rows` holds this rank's block
/// [par::my_block(chains)) of those rows, N bytes each (see read_latents).
ReverseStartStates data_start(rbm::ChainBlock rows);

/// One annealing run: every chain's log-weight, gathered in chain order.
struct AnnealingRun {
  Direction direction = Direction::forward;
  std::vector<double> log_weights;  ///< forward: log w_m; reverse: log r_m (all chains, same on every rank)
  std::vector<double> betas;
  double log_z0 = 0;  ///< Σ softplus(b)
  std::int64_t sweeps_per_temperature = 1;
  std::uint64_t sampler_seed = 0;
  double seconds = 0;        ///< slowest rank, annealing only
  double start_seconds = 0;  ///< slowest rank, preparing start states (reverse)
  /// CPU time of the annealing loops, summed over ranks (no waits in collectives):
  /// the work a dedicated core per rank would take, whatever else loads the machine.
  double cpu_seconds = 0;
  std::string backend;
  std::int64_t temperatures() const { return static_cast<std::int64_t>(betas.size()) - 1; }
  /// Chain·temperature steps: chains × K.
  double chain_temperature_steps() const {
    return static_cast<double>(log_weights.size()) * static_cast<double>(temperatures());
  }
};

/// Collective: forward AIS.
AnnealingRun run_forward_ais(const rbm::BoltzmannMachine& machine, const AnnealingSettings& settings,
                             const par::Communicator& comm);
/// Collective: reverse AIS from `start` (this rank's block of settings.chains chains).
AnnealingRun run_reverse_ais(const rbm::BoltzmannMachine& machine, const AnnealingSettings& settings,
                             const ReverseStartStates& start, const par::Communicator& comm);

/// log Z from one run, its bootstrap standard error and the effective sample size.
struct Estimate {
  double log_z = 0;
  double std_error = 0;  ///< sd of log Ẑ over bootstrap resamples of the chains
  double ess = 0;        ///< Kish ESS of the chains' weights (w or r)
  std::int64_t chains = 0;
  std::int64_t bootstrap_resamples = 0;
};

/// log Ẑ of a run (forward: log Z₀ + LSE(log w) − log M; reverse:
/// log Z₀ − LSE(log r) + log M) with a bootstrap over chains: resample b draws
/// M chain indices from Philox (seed', (kBootstrapDomain, b)), seed' =
/// derive_seed(seed, bootstrap).  Deterministic in (weights, seed).
Estimate estimate_log_z(const AnnealingRun& run, std::uint64_t seed, std::int64_t bootstrap_resamples = 200);

}  // namespace qvae::logz
