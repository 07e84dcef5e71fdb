// Forward and reverse AIS along the coupling-scaled geometric path
// (docs/logz.md, "The annealing path"; qvae/logz/annealing.hpp).
#include "qvae/logz/annealing.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "qvae/core/choices.hpp"
#include "qvae/core/cpu_dispatch.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/core/resource_usage.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/logz/exact.hpp"
#include "qvae/logz/log_sum_exp.hpp"
#include "qvae/logz/random_streams.hpp"
#include "qvae/logz/schedule.hpp"
#include "qvae/par/partition.hpp"

namespace qvae::logz {

// ---------------------------------------------------------------------------
// Coupling energy Q(z) of many chains.

namespace {

constexpr std::int64_t kEnergyLanes = 16;

/// Q of one tile: `tile` holds units × kEnergyLanes doubles (0/1), unit-major.
struct EnergyTileArgs {
  const double* tile;
  std::int64_t units;
  const std::int64_t* first;
  const std::int64_t* neighbour;
  const double* weight;
  double* out;  ///< kEnergyLanes values
};

// Four lanes of doubles (GCC/Clang vector extension): 16 lanes are 4 of them,
// kept in registers; lowered to SSE2 pairs in the portable build.
typedef double Double4 __attribute__((vector_size(32)));
typedef double UnalignedDouble4 __attribute__((vector_size(32), aligned(8), may_alias));
static_assert(kEnergyLanes == 16, "the tile body below holds 16 lanes as 4 x Double4");
inline const UnalignedDouble4* lanes_of(const double* tile, std::int64_t unit) {
  return reinterpret_cast<const UnalignedDouble4*>(tile + unit * kEnergyLanes);
}

#define QVAE_LOGZ_TILE_BODY                                                  \
  Double4 q0{}, q1{}, q2{}, q3{};                                            \
  for (std::int64_t unit = 0; unit < args.units; ++unit) {                   \
    Double4 f0{}, f1{}, f2{}, f3{};                                          \
    for (std::int64_t k = args.first[unit]; k < args.first[unit + 1]; ++k) { \
      const double w = args.weight[k];                                       \
      const UnalignedDouble4* z = lanes_of(args.tile, args.neighbour[k]);    \
      f0 += w * z[0];                                                        \
      f1 += w * z[1];                                                        \
      f2 += w * z[2];                                                        \
      f3 += w * z[3];                                                        \
    }                                                                        \
    const UnalignedDouble4* z = lanes_of(args.tile, unit);                   \
    q0 += z[0] * f0;                                                         \
    q1 += z[1] * f1;                                                         \
    q2 += z[2] * f2;                                                         \
    q3 += z[3] * f3;                                                         \
  }                                                                          \
  std::memcpy(args.out, &q0, sizeof q0);                                     \
  std::memcpy(args.out + 4, &q1, sizeof q1);                                 \
  std::memcpy(args.out + 8, &q2, sizeof q2);                                 \
  std::memcpy(args.out + 12, &q3, sizeof q3);

void energy_tile_portable(const EnergyTileArgs& args) { QVAE_LOGZ_TILE_BODY }

#if QVAE_X86_DISPATCH
// The same arithmetic: products are exact (a factor is 0 or 1), so contracted
// multiply-adds give the same bits as separate ones.
QVAE_TARGET("avx2,fma") void energy_tile_avx2(const EnergyTileArgs& args) { QVAE_LOGZ_TILE_BODY }
#endif
#undef QVAE_LOGZ_TILE_BODY

using EnergyTileKernel = void (*)(const EnergyTileArgs&);
core::DispatchedKernel<EnergyTileKernel>& energy_tile_kernel() {
#if QVAE_X86_DISPATCH
  static core::DispatchedKernel<EnergyTileKernel> kernel(energy_tile_avx2, energy_tile_portable,
                                                         {core::CpuFeature::avx2, core::CpuFeature::fma});
#else
  static core::DispatchedKernel<EnergyTileKernel> kernel(energy_tile_portable);
#endif
  return kernel;
}

}  // namespace

namespace detail {
void force_portable_energy_kernel(bool portable) { energy_tile_kernel().force_portable(portable); }
}  // namespace detail

CouplingEnergy::CouplingEnergy(const rbm::BoltzmannMachine& machine) : units_(machine.num_nodes()) {
  // Each coupler once, under its lower endpoint (couplers() has i < j).
  std::vector<std::int64_t> count(static_cast<std::size_t>(units_ + 1), 0);
  for (const auto& [i, j] : machine.couplers()) ++count[static_cast<std::size_t>(i) + 1];
  first_.assign(static_cast<std::size_t>(units_ + 1), 0);
  for (std::int64_t u = 0; u < units_; ++u)
    first_[static_cast<std::size_t>(u) + 1] =
        first_[static_cast<std::size_t>(u)] + count[static_cast<std::size_t>(u) + 1];
  neighbour_.resize(machine.couplers().size());
  weight_.resize(machine.couplers().size());
  std::vector<std::int64_t> next(first_.begin(), first_.end() - 1);
  for (std::size_t e = 0; e < machine.couplers().size(); ++e) {
    const auto [i, j] = machine.couplers()[e];
    const std::int64_t slot = next[static_cast<std::size_t>(i)]++;
    neighbour_[static_cast<std::size_t>(slot)] = j;
    weight_[static_cast<std::size_t>(slot)] = machine.weights()[e];
  }
}

void CouplingEnergy::evaluate(const rbm::ChainBlock& chains, double* out) const {
  if (chains.units != units_)
    throw std::invalid_argument("qvae::logz::CouplingEnergy: chains of another width than the machine");
  const EnergyTileKernel kernel = energy_tile_kernel().get();
  std::vector<double> tile(static_cast<std::size_t>(units_ * kEnergyLanes));
  double values[kEnergyLanes];
  EnergyTileArgs args{tile.data(), units_, first_.data(), neighbour_.data(), weight_.data(), values};
  for (std::int64_t first_chain = 0; first_chain < chains.count; first_chain += kEnergyLanes) {
    const std::int64_t lanes = std::min(kEnergyLanes, chains.count - first_chain);
    if (lanes < kEnergyLanes) std::fill(tile.begin(), tile.end(), 0.0);  // padding lanes: all units 0
    for (std::int64_t lane = 0; lane < lanes; ++lane) {
      const std::uint8_t* row = chains.state(first_chain + lane);
      double* column = tile.data() + lane;
      for (std::int64_t unit = 0; unit < units_; ++unit) column[unit * kEnergyLanes] = row[unit] ? 1.0 : 0.0;
    }
    kernel(args);
    std::copy(values, values + lanes, out + first_chain);
  }
}

std::vector<double> CouplingEnergy::evaluate(const rbm::ChainBlock& chains) const {
  std::vector<double> out(static_cast<std::size_t>(chains.count));
  evaluate(chains, out.data());
  return out;
}

// ---------------------------------------------------------------------------
// Names.

const char* to_string(Direction direction) noexcept { return direction == Direction::forward ? "forward" : "reverse"; }

ReverseStart parse_reverse_start(const std::string& text) {
  return core::parse_choice(text, {ReverseStart::exact, ReverseStart::data, ReverseStart::chains}, "--reverse-start");
}

const char* to_string(ReverseStart start) noexcept {
  switch (start) {
    case ReverseStart::exact:
      return "exact";
    case ReverseStart::data:
      return "data";
    case ReverseStart::chains:
      return "chains";
  }
  return "?";
}

std::uint64_t chain_seed(std::uint64_t seed, Direction direction) {
  return direction == Direction::forward ? seed : derive_seed(seed, SeedPurpose::reverse_chains);
}

// ---------------------------------------------------------------------------
// Reverse starts.

ReverseStartStates exact_start(const rbm::BoltzmannMachine& machine, std::uint64_t seed, std::int64_t chains,
                               const par::Communicator& comm) {
  const par::Block block = par::my_block(chains, comm);
  const ExactSampler sampler(machine);  // the same table on every rank
  ReverseStartStates start;
  start.kind = ReverseStart::exact;
  start.states = sampler.sample(derive_seed(seed, SeedPurpose::exact_start), block.offset, block.count);
  return start;
}

ReverseStartStates equilibrated_start(const rbm::BoltzmannMachine& machine, std::uint64_t seed, std::int64_t chains,
                                      std::int64_t equilibration_sweeps, const par::Communicator& comm) {
  const par::Block block = par::my_block(chains, comm);
  ReverseStartStates start;
  start.kind = ReverseStart::chains;
  start.states =
      rbm::random_chains(machine.num_nodes(), chain_seed(seed, Direction::reverse), block.offset, block.count);
  start.equilibration_sweeps = equilibration_sweeps;
  return start;
}

ReverseStartStates data_start(rbm::ChainBlock rows) {
  ReverseStartStates start;
  start.kind = ReverseStart::data;
  start.states = std::move(rows);
  return start;
}

// ---------------------------------------------------------------------------
// Annealing.

namespace {

using core::process_cpu_seconds;

void check_settings(const AnnealingSettings& settings, const std::string& where) {
  if (settings.chains < 1 || settings.sweeps_per_temperature < 1)
    throw core::UsageError(core::describe("annealing needs >= 1 chain and >= 1 sweep per temperature", where));
  check_schedule(settings.betas);
  if (!settings.factory) throw std::invalid_argument(where + ": no sampler factory");
}

std::unique_ptr<rbm::Sampler> make_sampler(const rbm::BoltzmannMachine& machine, const AnnealingSettings& settings,
                                           std::uint64_t seed, double beta) {
  rbm::SamplerSettings sampler_settings;
  sampler_settings.seed = seed;
  sampler_settings.beta = beta;
  sampler_settings.beta_scope = rbm::BetaScope::couplings;  // f_β = exp(bᵀz + β Q): biases are not scaled
  return settings.factory(machine, sampler_settings);
}

AnnealingRun new_run(const rbm::BoltzmannMachine& machine, const AnnealingSettings& settings, Direction direction,
                     const rbm::Sampler& sampler) {
  AnnealingRun run;
  run.direction = direction;
  run.betas = settings.betas;
  run.log_z0 = independent_log_z(machine);
  run.sweeps_per_temperature = settings.sweeps_per_temperature;
  run.sampler_seed = chain_seed(settings.seed, direction);
  run.backend = sampler.backend();
  return run;
}

}  // namespace

AnnealingRun run_forward_ais(const rbm::BoltzmannMachine& machine, const AnnealingSettings& settings,
                             const par::Communicator& comm) {
  check_settings(settings, "forward AIS");
  const par::Block block = par::my_block(settings.chains, comm);
  const std::uint64_t seed = chain_seed(settings.seed, Direction::forward);
  std::unique_ptr<rbm::Sampler> sampler = make_sampler(machine, settings, seed, 0.0);
  AnnealingRun run = new_run(machine, settings, Direction::forward, *sampler);
  sampler->set_chains(rbm::random_chains(machine.num_nodes(), seed, block.offset, block.count));
  const CouplingEnergy coupling(machine);
  const std::vector<double>& betas = settings.betas;
  const std::size_t steps = betas.size() - 1;
  std::vector<double> log_weight(static_cast<std::size_t>(block.count), 0.0), q(log_weight.size());
  comm.barrier();
  const core::Stopwatch t0;
  const double cpu0 = process_cpu_seconds();
  sampler->sweep(1);  // at β = 0 every unit is drawn from σ(b): x_1 ~ p_0 exactly
  for (std::size_t k = 1; k <= steps; ++k) {
    coupling.evaluate(sampler->chains(), q.data());
    const double step = betas[k] - betas[k - 1];  // log f_k(x_k) − log f_{k−1}(x_k) = Δβ Q(x_k)
    for (std::size_t c = 0; c < q.size(); ++c) log_weight[c] += step * q[c];
    if (k < steps) {  // x_{k+1} ~ T_k(x_k, ·), which leaves p_k invariant
      sampler->set_beta(betas[k], rbm::BetaScope::couplings);
      sampler->sweep(settings.sweeps_per_temperature);
    }
    if (settings.on_progress) settings.on_progress(static_cast<std::int64_t>(k));
  }
  const double cpu = process_cpu_seconds() - cpu0;
  run.seconds = comm.max(t0.seconds());
  run.cpu_seconds = comm.sum(cpu);
  run.log_weights = comm.allgather_blocks(log_weight);
  return run;
}

AnnealingRun run_reverse_ais(const rbm::BoltzmannMachine& machine, const AnnealingSettings& settings,
                             const ReverseStartStates& start, const par::Communicator& comm) {
  check_settings(settings, "reverse AIS");
  const par::Block block = par::my_block(settings.chains, comm);
  if (start.states.first_chain != block.offset || start.states.count != block.count)
    throw std::invalid_argument("qvae::logz::run_reverse_ais: start states are not this rank's block of chains");
  const std::uint64_t seed = chain_seed(settings.seed, Direction::reverse);
  std::unique_ptr<rbm::Sampler> sampler = make_sampler(machine, settings, seed, 1.0);
  AnnealingRun run = new_run(machine, settings, Direction::reverse, *sampler);
  sampler->set_chains(start.states);
  comm.barrier();
  core::Stopwatch t0;
  if (start.equilibration_sweeps > 0) sampler->sweep(start.equilibration_sweeps);  // long chains at β = 1
  run.start_seconds = comm.max(t0.seconds());
  t0.restart();
  const double cpu0 = process_cpu_seconds();
  const CouplingEnergy coupling(machine);
  const std::vector<double>& betas = settings.betas;
  const std::size_t steps = betas.size() - 1;
  std::vector<double> log_ratio(static_cast<std::size_t>(block.count), 0.0), q(log_ratio.size());
  for (std::size_t k = steps; k >= 1; --k) {
    coupling.evaluate(sampler->chains(), q.data());
    const double step = betas[k] - betas[k - 1];  // log f_{k−1}(x_k) − log f_k(x_k) = −Δβ Q(x_k)
    for (std::size_t c = 0; c < q.size(); ++c) log_ratio[c] -= step * q[c];
    if (k > 1) {  // x_{k−1} ~ T_{k−1}(x_k, ·), which leaves p_{k−1} invariant
      sampler->set_beta(betas[k - 1], rbm::BetaScope::couplings);
      sampler->sweep(settings.sweeps_per_temperature);
    }
    if (settings.on_progress) settings.on_progress(static_cast<std::int64_t>(steps - k + 1));
  }
  const double cpu = process_cpu_seconds() - cpu0;
  run.seconds = comm.max(t0.seconds());
  run.cpu_seconds = comm.sum(cpu);
  run.log_weights = comm.allgather_blocks(log_ratio);
  return run;
}

// ---------------------------------------------------------------------------
// Estimates.

Estimate estimate_log_z(const AnnealingRun& run, std::uint64_t seed, std::int64_t bootstrap_resamples) {
  const std::vector<double>& weights = run.log_weights;
  const double sign = run.direction == Direction::forward ? 1.0 : -1.0;
  Estimate estimate;
  estimate.chains = static_cast<std::int64_t>(weights.size());
  estimate.log_z = run.log_z0 + sign * log_mean_exp(weights);
  estimate.ess = effective_sample_size(weights);
  estimate.bootstrap_resamples = weights.size() > 1 ? std::max<std::int64_t>(bootstrap_resamples, 0) : 0;
  if (estimate.bootstrap_resamples < 2) {
    estimate.std_error = 0;
    return estimate;
  }
  const std::uint64_t bootstrap_seed = derive_seed(seed, SeedPurpose::bootstrap);
  const std::size_t m = weights.size();
  std::vector<double> resampled(m), values(static_cast<std::size_t>(estimate.bootstrap_resamples));
  for (std::int64_t b = 0; b < estimate.bootstrap_resamples; ++b) {
    core::Philox rng(bootstrap_seed, core::stream_id(kBootstrapDomain, static_cast<std::uint64_t>(b)));
    for (std::size_t i = 0; i < m; ++i)
      resampled[i] = weights[std::min(m - 1, static_cast<std::size_t>(rng.uniform() * static_cast<double>(m)))];
    values[static_cast<std::size_t>(b)] = run.log_z0 + sign * log_mean_exp(resampled);
  }
  // Deviations from the estimate itself: exactly 0 when every weight is equal.
  double mean = 0, square = 0;
  for (double& v : values) mean += (v -= estimate.log_z);
  mean /= static_cast<double>(values.size());
  for (double v : values) square += (v - mean) * (v - mean);
  estimate.std_error = std::sqrt(square / static_cast<double>(values.size() - 1));
  return estimate;
}

}  // namespace qvae::logz
