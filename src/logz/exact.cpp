// Exact log Z by enumeration with the largest partition summed analytically
// (docs/logz.md, "Exact log Z").
#include "qvae/logz/exact.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "qvae/core/error.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/logz/log_sum_exp.hpp"
#include "qvae/logz/random_streams.hpp"
#include "qvae/par/partition.hpp"

namespace qvae::logz {
namespace detail {

/// Every node is clamped (a fixed value), enumerated (index t of the Gray
/// code) or analytic (index a of the partition summed in closed form).
struct EnumerationPlan {
  int analytic_partition = -1;
  std::vector<std::int64_t> enumerated_nodes, analytic_nodes;
  double constant = 0;                                                ///< b·u and W·u·u of clamped units
  std::vector<double> enumerated_bias;                                ///< b_t + Σ_{clamped j} W u_j
  std::vector<double> analytic_base;                                  ///< b_a + Σ_{clamped j} W u_j
  std::vector<std::vector<std::pair<int, double>>> enumerated_links;  ///< (t', W), both directions
  std::vector<std::vector<std::pair<int, double>>> analytic_links;    ///< per t: (a, W)

  int enumerated() const { return static_cast<int>(enumerated_nodes.size()); }
};

}  // namespace detail

namespace {

using detail::EnumerationPlan;

/// `fixed[node]`: −1 for free nodes, else the clamped value 0/1.  Whole
/// partitions are clamped or free.
EnumerationPlan plan_enumeration(const rbm::BoltzmannMachine& machine, const std::vector<int>& fixed) {
  EnumerationPlan plan;
  const int partitions = machine.partitions();
  std::int64_t largest = -1;
  for (int p = 0; p < partitions; ++p) {
    const auto& nodes = machine.partition_nodes(p);
    const bool free = !nodes.empty() && fixed[static_cast<std::size_t>(nodes.front())] < 0;
    if (free && machine.partition_size(p) > largest) {
      largest = machine.partition_size(p);
      plan.analytic_partition = p;
    }
  }
  const std::int64_t n = machine.num_nodes();
  std::vector<int> role_index(static_cast<std::size_t>(n), -1);
  for (std::int64_t node = 0; node < n; ++node) {
    const double bias = machine.biases()[node];
    const int value = fixed[static_cast<std::size_t>(node)];
    if (value >= 0) {
      plan.constant += value ? bias : 0.0;
    } else if (machine.partition_of(node) == plan.analytic_partition) {
      role_index[static_cast<std::size_t>(node)] = static_cast<int>(plan.analytic_nodes.size());
      plan.analytic_nodes.push_back(node);
      plan.analytic_base.push_back(bias);
    } else {
      role_index[static_cast<std::size_t>(node)] = static_cast<int>(plan.enumerated_nodes.size());
      plan.enumerated_nodes.push_back(node);
      plan.enumerated_bias.push_back(bias);
    }
  }
  plan.enumerated_links.resize(plan.enumerated_nodes.size());
  plan.analytic_links.resize(plan.enumerated_nodes.size());
  auto is_analytic = [&](std::int64_t node) {
    return fixed[static_cast<std::size_t>(node)] < 0 && machine.partition_of(node) == plan.analytic_partition;
  };
  for (std::int64_t e = 0; e < machine.num_couplers(); ++e) {
    auto [i, j] = machine.couplers()[static_cast<std::size_t>(e)];
    const double w = machine.weights()[e];
    const int fi = fixed[static_cast<std::size_t>(i)], fj = fixed[static_cast<std::size_t>(j)];
    if (fi >= 0 && fj >= 0) {
      plan.constant += (fi && fj) ? w : 0.0;
      continue;
    }
    if (fi >= 0 || fj >= 0) {  // one end clamped: a bias of the other
      const std::int64_t free_node = fi >= 0 ? j : i;
      const int value = fi >= 0 ? fi : fj;
      const int index = role_index[static_cast<std::size_t>(free_node)];
      if (is_analytic(free_node))
        plan.analytic_base[static_cast<std::size_t>(index)] += value ? w : 0.0;
      else
        plan.enumerated_bias[static_cast<std::size_t>(index)] += value ? w : 0.0;
      continue;
    }
    if (is_analytic(i)) std::swap(i, j);  // i enumerated from here on
    const int ti = role_index[static_cast<std::size_t>(i)], tj = role_index[static_cast<std::size_t>(j)];
    if (is_analytic(j)) {
      plan.analytic_links[static_cast<std::size_t>(ti)].push_back({tj, w});
    } else {
      plan.enumerated_links[static_cast<std::size_t>(ti)].push_back({tj, w});
      plan.enumerated_links[static_cast<std::size_t>(tj)].push_back({ti, w});
    }
  }
  return plan;
}

/// Visits the 2^low_bits states of chunk `chunk` (the enumerated units at
/// positions >= low_bits hold the chunk's bits) in Gray-code order, calling
/// on_term(term) with term = log of the state's summed-out weight.
template <class OnTerm>
void visit_chunk(const EnumerationPlan& plan, std::uint64_t chunk, int low_bits, OnTerm&& on_term) {
  const int k = plan.enumerated();
  std::vector<std::uint8_t> z(static_cast<std::size_t>(k), 0);
  for (int t = low_bits; t < k; ++t)
    z[static_cast<std::size_t>(t)] = static_cast<std::uint8_t>((chunk >> (t - low_bits)) & 1u);
  // The chunk's first state from scratch; then one flip per term.
  double linear = plan.constant;
  std::vector<double> field = plan.analytic_base;
  for (int t = 0; t < k; ++t) {
    if (!z[static_cast<std::size_t>(t)]) continue;
    linear += plan.enumerated_bias[static_cast<std::size_t>(t)];
    for (const auto& [other, w] : plan.enumerated_links[static_cast<std::size_t>(t)])
      if (other > t && z[static_cast<std::size_t>(other)]) linear += w;
    for (const auto& [a, w] : plan.analytic_links[static_cast<std::size_t>(t)]) field[static_cast<std::size_t>(a)] += w;
  }
  // Σ_a softplus(field_a), updated for the analytic units a flip touches (about
  // a degree's worth, not the whole partition); refreshed from scratch per chunk.
  std::vector<double> softplus_of_field(field.size());
  double softplus_sum = 0.0;
  for (std::size_t a = 0; a < field.size(); ++a) softplus_sum += softplus_of_field[a] = softplus(field[a]);
  on_term(linear + softplus_sum);
  const std::uint64_t states = std::uint64_t{1} << low_bits;
  for (std::uint64_t g = 1; g < states; ++g) {
    const int t = __builtin_ctzll(g);
    const std::size_t ut = static_cast<std::size_t>(t);
    double delta = plan.enumerated_bias[ut];
    for (const auto& [other, w] : plan.enumerated_links[ut])
      if (z[static_cast<std::size_t>(other)]) delta += w;
    const double sign = z[ut] ? -1.0 : 1.0;
    linear += sign * delta;
    for (const auto& [a, w] : plan.analytic_links[ut]) {
      const std::size_t ua = static_cast<std::size_t>(a);
      field[ua] += sign * w;
      const double updated = softplus(field[ua]);
      softplus_sum += updated - softplus_of_field[ua];
      softplus_of_field[ua] = updated;
    }
    z[ut] ^= 1u;
    on_term(linear + softplus_sum);
  }
}

std::string count_text(int log2_terms) { return "2^" + std::to_string(log2_terms); }

ExactResult enumerate(const rbm::BoltzmannMachine& machine, const std::vector<int>& fixed,
                      const par::Communicator& comm, const ExactOptions& options, const std::string& where) {
  const core::Stopwatch t0;
  const EnumerationPlan plan = plan_enumeration(machine, fixed);
  const int k = plan.enumerated();
  constexpr int kHardLimit = 62;
  if ((k > options.max_log2_terms && !options.force) || k > kHardLimit)
    throw core::UsageError(core::describe(
        "exact enumeration needs " + count_text(k) + " terms (" + std::to_string(k) +
            " units outside the largest partition), more than the limit " + count_text(options.max_log2_terms),
        where,
        k > kHardLimit ? "use --method ais, rais or both"
                       : "use --method ais, rais or both, or pass --force to enumerate anyway"));
  // Fixed chunks (independent of the rank count), spread over ranks, folded in chunk order.
  const int chunk_bits = std::max(0, std::min(k - 8, 12));
  const int low_bits = k - chunk_bits;
  const std::int64_t chunks = std::int64_t{1} << chunk_bits;
  const par::Block mine = par::my_block(chunks, comm);
  std::vector<double> partial(static_cast<std::size_t>(2 * mine.count));
  for (std::int64_t c = 0; c < mine.count; ++c) {
    LogSumExp sum;
    visit_chunk(plan, static_cast<std::uint64_t>(mine.offset + c), low_bits, [&](double term) { sum.add(term); });
    partial[static_cast<std::size_t>(2 * c)] = sum.max();
    partial[static_cast<std::size_t>(2 * c + 1)] = sum.sum();
  }
  // Rank order is chunk order: the merge below is the same for any rank count.
  const std::vector<double> all = comm.allgather_blocks(partial);
  LogSumExp total;
  for (std::int64_t c = 0; c < chunks; ++c)
    total.merge(all[static_cast<std::size_t>(2 * c)], all[static_cast<std::size_t>(2 * c + 1)]);
  ExactResult result;
  result.log_z = total.value();
  result.analytic_partition = plan.analytic_partition;
  result.enumerated_units = k;
  result.terms = std::ldexp(1.0, k);
  result.seconds = comm.max(t0.seconds());
  return result;
}

}  // namespace

double independent_log_z(const rbm::BoltzmannMachine& machine) {
  double sum = 0.0;
  for (std::int64_t i = 0; i < machine.num_nodes(); ++i) sum += softplus(machine.biases()[i]);
  return sum;
}

std::int64_t enumerated_units(const rbm::BoltzmannMachine& machine, const std::vector<int>& clamped_partitions) {
  std::int64_t free_units = 0, largest = 0;
  for (int p = 0; p < machine.partitions(); ++p) {
    if (std::find(clamped_partitions.begin(), clamped_partitions.end(), p) != clamped_partitions.end()) continue;
    free_units += machine.partition_size(p);
    largest = std::max(largest, machine.partition_size(p));
  }
  return free_units - largest;
}

ExactResult exact_log_z(const rbm::BoltzmannMachine& machine, const par::Communicator& comm,
                        const ExactOptions& options) {
  const std::vector<int> fixed(static_cast<std::size_t>(machine.num_nodes()), -1);
  return enumerate(machine, fixed, comm, options, "exact log Z");
}

ExactResult exact_conditional_log_z(const rbm::BoltzmannMachine& machine, const std::vector<std::uint8_t>& code,
                                    const par::Communicator& comm, const ExactOptions& options) {
  const auto& clamped = machine.partition_nodes(0);
  if (code.size() != clamped.size())
    throw core::InputError(core::describe("a code of " + std::to_string(code.size()) + " bits for partition 0 of " +
                                              std::to_string(clamped.size()) + " units",
                                          "exact conditional log Z", "give one 0/1 value per unit of partition 0"));
  std::vector<int> fixed(static_cast<std::size_t>(machine.num_nodes()), -1);
  for (std::size_t k = 0; k < clamped.size(); ++k) {
    if (code[k] > 1)
      throw core::InputError(
          core::describe("code value " + std::to_string(int{code[k]}) + " at position " + std::to_string(k),
                         "exact conditional log Z", "codes are 0/1"));
    fixed[static_cast<std::size_t>(clamped[k])] = code[k];
  }
  return enumerate(machine, fixed, comm, options, "exact conditional log Z");
}

ExactSampler::ExactSampler(const rbm::BoltzmannMachine& machine) : units_(machine.num_nodes()) {
  auto plan = std::make_shared<EnumerationPlan>(
      plan_enumeration(machine, std::vector<int>(static_cast<std::size_t>(machine.num_nodes()), -1)));
  const int k = plan->enumerated();
  if (k > kMaxSamplerLog2Terms)
    throw core::UsageError(core::describe(
        "exact samples need a table of " + count_text(k) + " states, more than " + count_text(kMaxSamplerLog2Terms),
        "reverse AIS from exact samples", "start reverse chains from data or from equilibrated chains"));
  std::vector<double> terms;
  terms.reserve(std::size_t{1} << k);
  visit_chunk(*plan, 0, k, [&](double term) { terms.push_back(term); });
  const double top = *std::max_element(terms.begin(), terms.end());
  cumulative_.resize(terms.size());
  double running = 0.0;
  for (std::size_t g = 0; g < terms.size(); ++g) cumulative_[g] = running += std::exp(terms[g] - top);
  log_z_ = top + std::log(running);
  plan_ = std::move(plan);
}

rbm::ChainBlock ExactSampler::sample(std::uint64_t seed, std::int64_t first_chain, std::int64_t count) const {
  rbm::ChainBlock block;
  block.first_chain = first_chain;
  block.count = count;
  block.units = units_;
  block.states.assign(static_cast<std::size_t>(count * units_), 0);
  block.sweeps.assign(static_cast<std::size_t>(count), 0);
  const EnumerationPlan& plan = *plan_;
  const double total = cumulative_.back();
  std::vector<double> field;
  for (std::int64_t c = 0; c < count; ++c) {
    core::Philox rng(seed, core::stream_id(kExactSampleDomain, static_cast<std::uint64_t>(first_chain + c)));
    const double target = rng.uniform() * total;
    const std::size_t g = std::min<std::size_t>(
        static_cast<std::size_t>(std::upper_bound(cumulative_.begin(), cumulative_.end(), target) -
                                 cumulative_.begin()),
        cumulative_.size() - 1);
    const std::uint64_t bits = static_cast<std::uint64_t>(g) ^ (static_cast<std::uint64_t>(g) >> 1);
    std::uint8_t* state = block.state(c);
    field = plan.analytic_base;
    for (int t = 0; t < plan.enumerated(); ++t) {
      if (!((bits >> t) & 1u)) continue;
      state[plan.enumerated_nodes[static_cast<std::size_t>(t)]] = 1;
      for (const auto& [a, w] : plan.analytic_links[static_cast<std::size_t>(t)])
        field[static_cast<std::size_t>(a)] += w;
    }
    // The summed-out partition given the rest: independent units, P(z = 1) = σ(field).
    for (std::size_t a = 0; a < field.size(); ++a)
      state[plan.analytic_nodes[a]] = rng.uniform() * (1.0 + std::exp(-field[a])) < 1.0 ? 1 : 0;
  }
  return block;
}

}  // namespace qvae::logz
