#include "qvae/rbm/sampler.hpp"

#include <algorithm>
#include <cmath>

#include "qvae/core/error.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/rbm/coupling_energy.hpp"
#include "qvae/rbm/random_streams.hpp"

namespace qvae::rbm {

ChainBlock random_chains(std::int64_t units, std::uint64_t seed, std::int64_t first_chain, std::int64_t count) {
  if (units < 0 || first_chain < 0 || count < 0) throw std::invalid_argument("qvae::rbm::random_chains: negative size");
  ChainBlock chains;
  chains.first_chain = first_chain;
  chains.count = count;
  chains.units = units;
  chains.states.resize(static_cast<std::size_t>(units * count));
  chains.sweeps.assign(static_cast<std::size_t>(count), 0);
  for (std::int64_t c = 0; c < count; ++c) {
    core::Philox rng(seed, core::stream_id(kChainStartDomain, static_cast<std::uint64_t>(first_chain + c)));
    std::uint8_t* row = chains.state(c);
    for (std::int64_t unit = 0; unit < units; ++unit) row[unit] = static_cast<std::uint8_t>(rng.next_u32() >> 31);
  }
  return chains;
}

std::vector<double> chain_energies(const BoltzmannMachine& machine, const ChainBlock& chains) {
  std::vector<double> out(static_cast<std::size_t>(chains.count));
  machine.energies(chains.states.data(), chains.count, out.data());
  return out;
}

std::vector<std::int64_t> clamped_nodes(const BoltzmannMachine& machine, const std::vector<int>& partitions) {
  std::vector<std::int64_t> nodes;
  for (std::int64_t node = 0; node < machine.num_nodes(); ++node)
    if (std::find(partitions.begin(), partitions.end(), machine.partition_of(node)) != partitions.end())
      nodes.push_back(node);
  return nodes;
}

namespace {

void require_binary(const std::vector<std::uint8_t>& values, const std::string& what) {
  const auto bad = std::find_if(values.begin(), values.end(), [](std::uint8_t v) { return v > 1; });
  if (bad != values.end())
    throw core::InputError(core::describe(
        what + " holds the value " + std::to_string(int{*bad}) + " at index " + std::to_string(bad - values.begin()),
        "qvae::rbm::Sampler", "unit states are 0 or 1"));
}

}  // namespace

Sampler::Sampler(const BoltzmannMachine& machine, SamplerSettings settings)
    : machine_(machine), settings_(settings), sampled_(static_cast<std::size_t>(machine.partitions()), 1) {
  if (!std::isfinite(settings.beta) || settings.beta < 0)
    throw core::UsageError(core::describe("beta must be a finite number >= 0", "qvae::rbm::Sampler"));
}

Sampler::~Sampler() = default;

void Sampler::set_chains(const ChainBlock& chains) {
  const std::int64_t n = machine_.num_nodes();
  if (chains.units != n || chains.count < 0 || chains.first_chain < 0 ||
      static_cast<std::int64_t>(chains.states.size()) != chains.count * n ||
      static_cast<std::int64_t>(chains.sweeps.size()) != chains.count)
    throw core::InputError(core::describe("chain block of " + std::to_string(chains.count) + " chains x " +
                                              std::to_string(chains.units) + " units does not fit a machine of " +
                                              std::to_string(n) + " units (or its arrays have the wrong length)",
                                          "qvae::rbm::Sampler::set_chains"));
  require_binary(chains.states, "a chain state");
  if (std::any_of(chains.sweeps.begin(), chains.sweeps.end(), [](std::int64_t s) { return s < 0; }))
    throw core::InputError(core::describe("a chain's sweep counter is negative", "qvae::rbm::Sampler::set_chains"));
  if (clamp_.rows > 1 && clamp_.rows != chains.count)
    throw core::InputError(core::describe("the clamp has " + std::to_string(clamp_.rows) + " rows but the block has " +
                                              std::to_string(chains.count) + " chains",
                                          "qvae::rbm::Sampler::set_chains", "clear or replace the clamp first"));
  ChainBlock clamped = chains;
  apply_clamp(clamped);
  first_chain_ = chains.first_chain;
  count_ = chains.count;
  load_chains(clamped);
}

ChainBlock Sampler::chains() const { return store_chains(); }

void Sampler::set_clamp(Clamp clamp) {
  const int k = machine_.partitions();
  std::sort(clamp.partitions.begin(), clamp.partitions.end());
  for (std::size_t i = 0; i < clamp.partitions.size(); ++i) {
    const int p = clamp.partitions[i];
    if (p < 0 || p >= k)
      throw core::InputError(
          core::describe("clamped partition " + std::to_string(p) + " is outside [0, " + std::to_string(k) + ")",
                         "qvae::rbm::Sampler::set_clamp"));
    if (i > 0 && clamp.partitions[i - 1] == p)
      throw core::InputError(
          core::describe("partition " + std::to_string(p) + " is clamped twice", "qvae::rbm::Sampler::set_clamp"));
  }
  const std::int64_t columns = static_cast<std::int64_t>(clamped_nodes(machine_, clamp.partitions).size());
  if (!(clamp.rows == 1 || clamp.rows == count_) ||
      static_cast<std::int64_t>(clamp.values.size()) != clamp.rows * columns)
    throw core::InputError(core::describe(
        "clamp values of " + std::to_string(clamp.rows) + " rows and " + std::to_string(clamp.values.size()) +
            " values do not fit " + std::to_string(count_) + " chains x " + std::to_string(columns) + " clamped units",
        "qvae::rbm::Sampler::set_clamp",
        "give one row for all chains or one row per chain, one column per unit of "
        "the clamped partitions"));
  require_binary(clamp.values, "a clamp value");
  clamp_ = std::move(clamp);
  std::fill(sampled_.begin(), sampled_.end(), 1);
  for (int p : clamp_.partitions) sampled_[static_cast<std::size_t>(p)] = 0;
  if (count_ > 0) {
    ChainBlock current = store_chains();
    apply_clamp(current);
    load_chains(current);
  }
}

void Sampler::clear_clamp() {
  clamp_ = Clamp{};
  std::fill(sampled_.begin(), sampled_.end(), 1);
}

void Sampler::apply_clamp(ChainBlock& chains) const {
  if (clamp_.partitions.empty()) return;
  const std::vector<std::int64_t> nodes = clamped_nodes(machine_, clamp_.partitions);
  const std::size_t columns = nodes.size();
  for (std::int64_t c = 0; c < chains.count; ++c) {
    const std::uint8_t* values = clamp_.values.data() + (clamp_.rows == 1 ? 0 : static_cast<std::size_t>(c) * columns);
    std::uint8_t* row = chains.state(c);
    for (std::size_t k = 0; k < columns; ++k) row[nodes[k]] = values[k];
  }
}

void Sampler::set_beta(double beta, BetaScope scope) {
  if (!std::isfinite(beta) || beta < 0)
    throw core::UsageError(core::describe("beta must be a finite number >= 0", "qvae::rbm::Sampler::set_beta"));
  settings_.beta = beta;
  settings_.beta_scope = scope;
  load_parameters();
}

void Sampler::refresh_parameters() { load_parameters(); }

void Sampler::sweep(std::int64_t sweeps) {
  if (sweeps < 0) throw std::invalid_argument("qvae::rbm::Sampler::sweep: negative number of sweeps");
  run_sweeps(sweeps, sampled_);
}

void Sampler::anneal(const std::vector<AnnealingStep>& steps, double* accumulated,
                     const std::function<void(std::int64_t, std::int64_t)>& progress) {
  for (const AnnealingStep& step : steps) {
    if (!std::isfinite(step.beta) || step.beta < 0 || step.sweeps < 0 || !std::isfinite(step.energy_weight))
      throw std::invalid_argument(
          "qvae::rbm::Sampler::anneal: a step needs a finite beta >= 0, sweeps >= 0 and a finite energy weight");
  }
  if (steps.empty()) return;
  run_anneal(steps, sampled_, accumulated, progress);
  set_beta(steps.back().beta, BetaScope::couplings);
}

void Sampler::run_anneal(const std::vector<AnnealingStep>& steps, const std::vector<std::uint8_t>& sampled,
                         double* accumulated, const std::function<void(std::int64_t, std::int64_t)>& progress) {
  if (!coupling_) coupling_ = std::make_unique<CouplingEnergy>(machine_);
  coupling_->refresh_weights();  // W as it is now (β moves nothing in Q)
  std::vector<double> q(static_cast<std::size_t>(count_));
  const std::int64_t total = static_cast<std::int64_t>(steps.size());
  for (std::int64_t s = 0; s < total; ++s) {
    const AnnealingStep& step = steps[static_cast<std::size_t>(s)];
    set_beta(step.beta, BetaScope::couplings);
    run_sweeps(step.sweeps, sampled);
    coupling_->evaluate(store_chains(), q.data());
    for (std::size_t c = 0; c < q.size(); ++c) accumulated[c] += step.energy_weight * q[c];
    if (progress) progress(s + 1, total);
  }
}

}  // namespace qvae::rbm
