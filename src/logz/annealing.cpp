// Forward and reverse AIS along the coupling-scaled geometric path
// (docs/logz.md, "The annealing path"; qvae/logz/annealing.hpp).
#include "qvae/logz/annealing.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "qvae/core/choices.hpp"
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

/// The sampler's progress (tile-steps) as temperatures done, for on_progress.
std::function<void(std::int64_t, std::int64_t)> progress_in_temperatures(const AnnealingSettings& settings) {
  if (!settings.on_progress) return {};
  const std::int64_t temperatures = static_cast<std::int64_t>(settings.betas.size()) - 1;
  return [&settings, temperatures](std::int64_t done, std::int64_t total) {
    settings.on_progress(temperatures * done / total);
  };
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
  const std::vector<double>& betas = settings.betas;
  const std::size_t steps = betas.size() - 1;
  // At β = 0 one sweep draws every unit from σ(b): x_1 ~ p_0 exactly.  Then
  // x_{k+1} ~ T_k(x_k, ·), which leaves p_k invariant, and
  // log f_k(x_k) − log f_{k−1}(x_k) = (β_k − β_{k−1}) Q(x_k).
  std::vector<rbm::AnnealingStep> path(steps);
  for (std::size_t k = 1; k <= steps; ++k)
    path[k - 1] = {betas[k - 1], k == 1 ? 1 : settings.sweeps_per_temperature, betas[k] - betas[k - 1]};
  std::vector<double> log_weight(static_cast<std::size_t>(block.count), 0.0);
  comm.barrier();
  const core::Stopwatch t0;
  const double cpu0 = process_cpu_seconds();
  sampler->anneal(path, log_weight.data(), progress_in_temperatures(settings));
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
  // From x_K: log f_{k−1}(x_k) − log f_k(x_k) = −(β_k − β_{k−1}) Q(x_k), then
  // x_{k−1} ~ T_{k−1}(x_k, ·), which leaves p_{k−1} invariant.
  const std::vector<double>& betas = settings.betas;
  const std::size_t steps = betas.size() - 1;
  std::vector<rbm::AnnealingStep> path(steps);
  for (std::size_t k = steps; k >= 1; --k)
    path[steps - k] = {betas[k], k == steps ? 0 : settings.sweeps_per_temperature, -(betas[k] - betas[k - 1])};
  std::vector<double> log_ratio(static_cast<std::size_t>(block.count), 0.0);
  const double cpu0 = process_cpu_seconds();
  sampler->anneal(path, log_ratio.data(), progress_in_temperatures(settings));
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
