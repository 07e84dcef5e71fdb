// The offline stand-ins for a QPU: simulated annealing and Gibbs at a given β.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "qvae/core/error.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/dwave/samplers.hpp"

namespace qvae::dwave {
namespace {

/// Sets P0 of every row to `condition`, counting the rows that differed.
std::int64_t apply_condition(const rbm::BoltzmannMachine& machine, const std::vector<std::uint8_t>& condition,
                             SampleSet& set) {
  if (condition.empty()) return 0;
  const std::vector<std::int64_t>& p0 = machine.partition_nodes(0);
  std::int64_t violations = 0;
  for (std::int64_t r = 0; r < set.rows; ++r) {
    std::uint8_t* row = set.states.data() + r * set.units;
    bool differs = false;
    for (std::size_t k = 0; k < p0.size(); ++k) {
      differs |= row[p0[k]] != condition[k];
      row[p0[k]] = condition[k];
    }
    if (differs) violations += set.occurrences[static_cast<std::size_t>(r)];
  }
  return violations;
}

void check_condition(const rbm::BoltzmannMachine& machine, const SampleRequest& request) {
  if (!request.condition.empty() && static_cast<std::int64_t>(request.condition.size()) != machine.partition_size(0))
    throw core::InputError(core::describe("a condition of " + std::to_string(request.condition.size()) +
                                              " bits for a partition 0 of " +
                                              std::to_string(machine.partition_size(0)) + " units",
                                          "partition-0 conditioning"));
  if (request.reads < 0) throw core::UsageError(core::describe("a request for a negative number of reads", "sampler"));
}

// --- simulated annealing ---------------------------------------------------------------------

class AnnealSampler final : public IsingSampler {
 public:
  AnnealSampler(const rbm::BoltzmannMachine& machine, AnnealSettings settings, std::uint64_t seed)
      : machine_(machine), settings_(settings), seed_(seed) {
    if (settings_.sweeps < 1 || !(settings_.beta_start > 0) || !(settings_.beta_end > 0))
      throw core::UsageError(core::describe("annealing needs sweeps >= 1 and betas > 0", "[dwave] anneal_*"));
    // Adjacency by node: (neighbour, coupler).
    const std::size_t n = static_cast<std::size_t>(machine.num_nodes());
    begin_.assign(n + 1, 0);
    for (const auto& [a, b] : machine.couplers())
      ++begin_[static_cast<std::size_t>(a) + 1], ++begin_[static_cast<std::size_t>(b) + 1];
    std::partial_sum(begin_.begin(), begin_.end(), begin_.begin());
    neighbour_.resize(begin_.back());
    coupler_.resize(begin_.back());
    std::vector<std::size_t> fill(begin_.begin(), begin_.end() - 1);
    for (std::size_t e = 0; e < machine.couplers().size(); ++e) {
      const auto [a, b] = machine.couplers()[e];
      neighbour_[fill[static_cast<std::size_t>(a)]] = b, coupler_[fill[static_cast<std::size_t>(a)]++] = e;
      neighbour_[fill[static_cast<std::size_t>(b)]] = a, coupler_[fill[static_cast<std::size_t>(b)]++] = e;
    }
    // Geometric schedule, one sweep per β (dwave-samplers' default shape).
    for (std::int64_t k = 0; k < settings_.sweeps; ++k) {
      const double t = settings_.sweeps == 1 ? 1.0 : static_cast<double>(k) / static_cast<double>(settings_.sweeps - 1);
      betas_.push_back(settings_.beta_start * std::pow(settings_.beta_end / settings_.beta_start, t));
    }
  }

  std::string name() const override { return "anneal"; }
  bool remote() const override { return false; }

  std::vector<SampleSet> sample(const IsingModel& programmed, const std::vector<SampleRequest>& requests) override {
    const std::int64_t n = machine_.num_nodes();
    std::vector<SampleSet> out;
    for (const SampleRequest& request : requests) {
      check_condition(machine_, request);
      SampleSet set;
      set.rows = request.reads;
      set.units = n;
      set.states.resize(static_cast<std::size_t>(request.reads * n));
      set.occurrences.assign(static_cast<std::size_t>(request.reads), 1);
      std::vector<std::int8_t> spins(static_cast<std::size_t>(n));
      for (std::int64_t r = 0; r < request.reads; ++r) {
        anneal(programmed, request.first_read + r, request.condition, spins);
        for (std::int64_t i = 0; i < n; ++i) set.states[static_cast<std::size_t>(r * n + i)] = spins[i] > 0;
        set.energies.push_back(ising_energy(machine_, programmed, spins.data()));
      }
      set.pin_violations = apply_condition(machine_, request.condition, set);
      out.push_back(std::move(set));
    }
    return out;
  }

 private:
  /// One read: Metropolis in node order; the draws of read r come from Philox (seed, (domain, r)).
  void anneal(const IsingModel& model, std::int64_t read, const std::vector<std::uint8_t>& condition,
              std::vector<std::int8_t>& spins) const {
    const std::size_t n = spins.size();
    core::Philox rng(seed_, core::stream_id(kAnnealReadDomain, static_cast<std::uint64_t>(read)));
    std::vector<std::uint8_t> frozen(n, 0);
    for (std::size_t i = 0; i < n; ++i) spins[i] = rng.uniform() < 0.5 ? 1 : -1;
    if (!condition.empty()) {
      const std::vector<std::int64_t>& p0 = machine_.partition_nodes(0);
      for (std::size_t k = 0; k < p0.size(); ++k) {
        spins[static_cast<std::size_t>(p0[k])] = condition[k] ? 1 : -1;
        frozen[static_cast<std::size_t>(p0[k])] = 1;
      }
    }
    std::vector<double> field(model.h);  // h_i + Σ_j J_ij s_j
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = begin_[i]; k < begin_[i + 1]; ++k)
        field[i] += model.J[coupler_[k]] * spins[static_cast<std::size_t>(neighbour_[k])];
    for (double beta : betas_) {
      for (std::size_t i = 0; i < n; ++i) {
        if (frozen[i]) continue;
        const double delta = -2.0 * spins[i] * field[i];  // E(flipped) − E(s)
        if (delta > 0 && rng.uniform() >= std::exp(-beta * delta)) continue;
        spins[i] = static_cast<std::int8_t>(-spins[i]);
        for (std::size_t k = begin_[i]; k < begin_[i + 1]; ++k)
          field[static_cast<std::size_t>(neighbour_[k])] += 2.0 * model.J[coupler_[k]] * spins[i];
      }
    }
  }

  const rbm::BoltzmannMachine& machine_;
  AnnealSettings settings_;
  std::uint64_t seed_;
  std::vector<std::size_t> begin_, coupler_;
  std::vector<std::int64_t> neighbour_;
  std::vector<double> betas_;
};

// --- Gibbs at a given β -------------------------------------------------------------------------

class GibbsQpuSampler final : public IsingSampler {
 public:
  GibbsQpuSampler(const rbm::BoltzmannMachine& machine, GibbsQpuSettings settings, std::uint64_t seed)
      : machine_(machine), ising_machine_(machine.graph(), "Gibbs sampler graph"), settings_(settings), seed_(seed) {
    if (!(settings_.beta > 0) || settings_.sweeps < 0)
      throw core::UsageError(core::describe("the Gibbs sampler needs beta > 0 and sweeps >= 0", "[dwave] gibbs_*"));
  }

  std::string name() const override { return "gibbs"; }
  bool remote() const override { return false; }

  std::vector<SampleSet> sample(const IsingModel& programmed, const std::vector<SampleRequest>& requests) override {
    ising_to_rbm_parameters(machine_, programmed, ising_machine_.biases(), ising_machine_.weights());
    const std::int64_t n = machine_.num_nodes();
    std::vector<SampleSet> out(requests.size());
    for (const SampleRequest& request : requests) check_condition(machine_, request);
    // Runs of requests with consecutive reads and the same conditioning share
    // one sampler; chain r's draws depend only on (seed, r), so runs do not
    // change results.
    std::vector<std::size_t> order(requests.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return requests[a].first_read < requests[b].first_read; });
    for (std::size_t begin = 0; begin < order.size();) {
      std::size_t end = begin + 1;
      const bool conditioned = !requests[order[begin]].condition.empty();
      while (end < order.size() &&
             requests[order[end]].first_read == requests[order[end - 1]].first_read + requests[order[end - 1]].reads &&
             requests[order[end]].condition.empty() != conditioned)
        ++end;
      run(programmed, requests,
          std::vector<std::size_t>(order.begin() + static_cast<std::ptrdiff_t>(begin),
                                   order.begin() + static_cast<std::ptrdiff_t>(end)),
          n, out);
      begin = end;
    }
    return out;
  }

 private:
  void run(const IsingModel& programmed, const std::vector<SampleRequest>& requests,
           const std::vector<std::size_t>& run_requests, std::int64_t n, std::vector<SampleSet>& out) {
    const std::int64_t first = requests[run_requests.front()].first_read;
    std::int64_t count = 0;
    for (std::size_t k : run_requests) count += requests[k].reads;
    if (count == 0) {
      for (std::size_t k : run_requests) out[k].units = n;
      return;
    }
    rbm::SamplerSettings sampler_settings;
    sampler_settings.seed = seed_;
    sampler_settings.beta = settings_.beta;
    sampler_settings.beta_scope = rbm::BetaScope::all;  // exp(−β·E_prog): biases too
    std::unique_ptr<rbm::Sampler> sampler = rbm::make_kokkos_sampler(ising_machine_, sampler_settings);
    sampler->set_chains(rbm::random_chains(n, seed_, first, count));
    if (!requests[run_requests.front()].condition.empty()) {
      rbm::Clamp clamp;
      clamp.partitions = {0};
      clamp.rows = count;
      for (std::size_t k : run_requests)
        for (std::int64_t r = 0; r < requests[k].reads; ++r)
          clamp.values.insert(clamp.values.end(), requests[k].condition.begin(), requests[k].condition.end());
      sampler->set_clamp(std::move(clamp));
    }
    sampler->sweep(settings_.sweeps);
    const rbm::ChainBlock chains = sampler->chains();
    std::int64_t row = 0;
    for (std::size_t k : run_requests) {
      SampleSet& set = out[k];
      set.rows = requests[k].reads;
      set.units = n;
      set.states.assign(chains.state(row), chains.state(row) + requests[k].reads * n);
      set.occurrences.assign(static_cast<std::size_t>(set.rows), 1);
      for (std::int64_t r = 0; r < set.rows; ++r)
        set.energies.push_back(ising_energy_of_bits(machine_, programmed, set.state(r)));
      row += requests[k].reads;
    }
  }

  const rbm::BoltzmannMachine& machine_;
  rbm::BoltzmannMachine ising_machine_;
  GibbsQpuSettings settings_;
  std::uint64_t seed_;
};

}  // namespace

std::unique_ptr<IsingSampler> make_anneal_sampler(const rbm::BoltzmannMachine& machine, AnnealSettings settings,
                                                  std::uint64_t seed) {
  return std::make_unique<AnnealSampler>(machine, settings, seed);
}

std::unique_ptr<IsingSampler> make_gibbs_sampler(const rbm::BoltzmannMachine& machine, GibbsQpuSettings settings,
                                                 std::uint64_t seed) {
  return std::make_unique<GibbsQpuSampler>(machine, settings, seed);
}

}  // namespace qvae::dwave
