// Block-Gibbs samplers of a BoltzmannMachine behind one interface
// (docs/rbm.md): a sweep updates partitions 0..K−1 in order, each
// given the others — exact block Gibbs, since each partition is an
// independent set — with
//
//   P(z_i = 1 | rest) = σ(β_b·b_i + β·Σ_j W_ij z_j),   β_b = β (scope all) or 1.
//
// A sampler holds a block of chains [first_chain, first_chain + count) — on
// MPI runs, this rank's contiguous block (par::my_block).  Chain c's
// randomness is Philox keyed by (seed, stream (kGibbsSweepDomain, c)) with a
// counter derived from (sweeps done by c, partition, unit), so a chain's
// trajectory does not depend on which rank or block holds it, on the backend
// layout, or on whether the run was interrupted and resumed from stored
// chains (states + per-chain sweep counters).
//
// Backends: "kokkos" (sparse, qvae/rbm/kokkos_gibbs_sampler.hpp) and "torch"
// (the dense masked-matmul reference, qvae/rbm/torch_sampler.hpp, in the
// qvae_rbm_torch library).  Both draw the same uniforms.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qvae/rbm/boltzmann_machine.hpp"

namespace qvae::rbm {

class CouplingEnergy;

struct SamplerSettings {
  std::uint64_t seed = 0;
  double beta = 1.0;
  BetaScope beta_scope = BetaScope::couplings;
};

/// States of chains [first_chain, first_chain + count): `states` holds count
/// rows of N bytes (0/1, node order) as stored in files; `sweeps[c]` is the
/// number of sweeps chain first_chain + c has done (its RNG counter position).
struct ChainBlock {
  std::int64_t first_chain = 0;
  std::int64_t count = 0;
  std::int64_t units = 0;
  std::vector<std::uint8_t> states;
  std::vector<std::int64_t> sweeps;

  const std::uint8_t* state(std::int64_t chain) const { return states.data() + chain * units; }
  std::uint8_t* state(std::int64_t chain) { return states.data() + chain * units; }
};

/// Chains [first_chain, first_chain + count) of `units` units, each unit
/// Bernoulli(1/2) from Philox (seed, (kChainStartDomain, chain)); 0 sweeps done.
ChainBlock random_chains(std::int64_t units, std::uint64_t seed, std::int64_t first_chain, std::int64_t count);

/// Energies E(z) of every chain of `chains`.
std::vector<double> chain_energies(const BoltzmannMachine& machine, const ChainBlock& chains);

/// Conditioning: the units of `partitions` keep the given values and are never
/// updated.  `values` holds `rows` rows of clamped_nodes(machine, partitions).size()
/// bytes (0/1, ascending node order); one row applies to every chain, otherwise
/// there is one row per chain of the block.
struct Clamp {
  std::vector<int> partitions;
  std::int64_t rows = 0;
  std::vector<std::uint8_t> values;
};
/// The nodes of `partitions`, ascending: the columns of Clamp::values.
std::vector<std::int64_t> clamped_nodes(const BoltzmannMachine& machine, const std::vector<int>& partitions);

/// One temperature of an annealing run (docs/logz.md): the couplings are
/// scaled by `beta` (the biases are not: BetaScope::couplings), every chain
/// runs `sweeps` sweeps, then its accumulator gains energy_weight · Q(z), with
/// Q(z) = Σ_e W_e z_i z_j the coupling energy of its state (unscaled W; see
/// qvae/rbm/coupling_energy.hpp).  AIS weights are such sums.
struct AnnealingStep {
  double beta = 1.0;
  std::int64_t sweeps = 1;
  double energy_weight = 0.0;
};

/// Memory a sampler holds: per chain (state and counter, in the backend's
/// working form) and for the model (couplings, fields) — docs/performance.md.
struct MemoryUse {
  std::int64_t bytes_per_chain = 0;
  std::int64_t model_bytes = 0;
};

class Sampler {
 public:
  /// Reads the machine's parameters now and again on refresh_parameters(); the
  /// machine must outlive the sampler.
  Sampler(const BoltzmannMachine& machine, SamplerSettings settings);
  virtual ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  /// "kokkos" or "torch".
  virtual std::string backend() const = 0;
  virtual MemoryUse memory_use() const = 0;

  const BoltzmannMachine& machine() const { return machine_; }
  const SamplerSettings& settings() const { return settings_; }
  std::int64_t first_chain() const { return first_chain_; }
  std::int64_t chain_count() const { return count_; }

  /// Takes over `chains` (states and counters); units of clamped partitions are
  /// set to their clamp values.  Wrong sizes or values other than 0/1 are a
  /// core::InputError.
  void set_chains(const ChainBlock& chains);
  /// A copy of the current chains.
  ChainBlock chains() const;

  /// Clamps partitions (replacing any earlier clamp) and applies the values to
  /// the current chains.  A partition out of range, repeated partitions, values
  /// of the wrong shape (rows not 1 or chain_count(), columns not the clamped
  /// units) or other than 0/1 are a core::InputError.
  void set_clamp(Clamp clamp);
  void clear_clamp();
  const Clamp& clamp() const { return clamp_; }

  /// Changes β and its scope (docs/logz.md: AIS moves β between sweeps).
  void set_beta(double beta, BetaScope scope);
  /// Re-reads the machine's biases and weights (after a training step changed them).
  void refresh_parameters();

  /// Runs `sweeps` sweeps of every chain.
  void sweep(std::int64_t sweeps);

  /// Runs the steps of an annealing schedule on every chain (see AnnealingStep):
  /// after step s, accumulated[c] += steps[s].energy_weight · Q(z_c), in step
  /// order — the same bits as set_beta, sweep and CouplingEnergy on chains()
  /// step by step.  Backends may run every step of one tile of chains before
  /// the next, keeping its states in cache and evaluating Q in their own
  /// layout; `progress(done, total)` reports the work finished in the
  /// backend's units ((tile, step) pairs, or steps), done = total at the end.
  /// The machine's weights are read at the call, as set_beta reads them.
  /// Afterwards β is the last step's, scope couplings.
  void anneal(const std::vector<AnnealingStep>& steps, double* accumulated,
              const std::function<void(std::int64_t, std::int64_t)>& progress = {});

 protected:
  /// Backend hooks.  load_chains gets chains already validated and clamped;
  /// load_parameters reads machine() and settings() (β) into the backend's form.
  virtual void load_chains(const ChainBlock& chains) = 0;
  virtual ChainBlock store_chains() const = 0;
  virtual void load_parameters() = 0;
  /// `sampled[p]` is 0 for clamped partitions.
  virtual void run_sweeps(std::int64_t sweeps, const std::vector<std::uint8_t>& sampled) = 0;
  /// The steps of anneal(); by default set_beta, run_sweeps and Q of
  /// store_chains() one step at a time.
  virtual void run_anneal(const std::vector<AnnealingStep>& steps, const std::vector<std::uint8_t>& sampled,
                          double* accumulated, const std::function<void(std::int64_t, std::int64_t)>& progress);

 private:
  void apply_clamp(ChainBlock& chains) const;
  const BoltzmannMachine& machine_;
  SamplerSettings settings_;
  std::int64_t first_chain_ = 0, count_ = 0;
  Clamp clamp_;
  std::vector<std::uint8_t> sampled_;
  std::unique_ptr<CouplingEnergy> coupling_;  ///< for the default Q, built on first use
};

/// Makes a sampler of one backend (make_kokkos_sampler, make_torch_sampler).
using SamplerFactory = std::function<std::unique_ptr<Sampler>(const BoltzmannMachine&, const SamplerSettings&)>;

/// The sparse Kokkos sampler on the default host execution space (Serial here).
std::unique_ptr<Sampler> make_kokkos_sampler(const BoltzmannMachine& machine, const SamplerSettings& settings);

/// The Philox uniforms the samplers draw for partition p in one sweep of each
/// chain of a block: out[c · n_p + k] for chain first_chain + c at its sweep
/// sweeps_done[c] and the unit at position k of partition p.  Both backends
/// use them, so they can be compared draw for draw.
void gibbs_uniforms(const BoltzmannMachine& machine, std::uint64_t seed, std::int64_t first_chain, std::int64_t count,
                    const std::int64_t* sweeps_done, int partition, float* out);

/// Which host code path the sparse kernel uses on this CPU ("avx2" or "portable").
std::string host_kernel_isa();

}  // namespace qvae::rbm
