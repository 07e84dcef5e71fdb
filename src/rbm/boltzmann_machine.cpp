#include "qvae/rbm/boltzmann_machine.hpp"

#include <algorithm>
#include <cmath>

#include "qvae/core/choices.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/rbm/random_streams.hpp"

namespace qvae::rbm {

BetaScope parse_beta_scope(const std::string& text) {
  return core::parse_choice(text, {BetaScope::couplings, BetaScope::all}, "--beta-scope");
}

const char* to_string(BetaScope scope) noexcept { return scope == BetaScope::all ? "all" : "couplings"; }

namespace {

[[noreturn]] void refuse(const std::string& what, const std::string& where) {
  throw core::InputError(core::describe(what, where, "the model must be K-partite: couplers only between partitions"));
}

}  // namespace

BoltzmannMachine::BoltzmannMachine(graph::PartitionedGraph graph, const std::string& where) : graph_(std::move(graph)) {
  const std::int64_t n = graph_.num_nodes();
  const int k = graph_.partitions;
  if (k < 1) refuse("the number of partitions is " + std::to_string(k) + ", not >= 1", where);
  partition_nodes_.assign(static_cast<std::size_t>(k), {});
  position_.assign(static_cast<std::size_t>(n), 0);
  for (std::int64_t i = 0; i < n; ++i) {
    const int p = graph_.partition[static_cast<std::size_t>(i)];
    if (p < 0 || p >= k)
      refuse("node " + std::to_string(i) + " has partition " + std::to_string(p) + ", outside [0, " +
                 std::to_string(k) + ")",
             where);
    auto& members = partition_nodes_[static_cast<std::size_t>(p)];
    position_[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(members.size());
    members.push_back(i);  // ascending, because i ascends
  }
  for (std::size_t e = 0; e < graph_.couplers.size(); ++e) {
    const auto [i, j] = graph_.couplers[e];
    const std::string label =
        "coupler " + std::to_string(e) + " (" + std::to_string(i) + ", " + std::to_string(j) + ")";
    if (i < 0 || j < 0 || i >= n || j >= n)
      refuse(label + " names a node outside [0, " + std::to_string(n) + ")", where);
    if (i >= j) refuse(label + " is not ordered i < j", where);
    if (partition_of(i) == partition_of(j))
      refuse(label + " joins two nodes of partition " + std::to_string(partition_of(i)), where);
  }
  std::vector<Coupler> sorted = graph_.couplers;
  std::sort(sorted.begin(), sorted.end());
  const auto repeated = std::adjacent_find(sorted.begin(), sorted.end());
  if (repeated != sorted.end())
    refuse("coupler (" + std::to_string(repeated->first) + ", " + std::to_string(repeated->second) + ") appears twice",
           where);
  if (!graph_.qubits.empty()) {
    if (static_cast<std::int64_t>(graph_.qubits.size()) != n)
      refuse("there are " + std::to_string(graph_.qubits.size()) + " qubits for " + std::to_string(n) + " nodes",
             where);
    std::vector<std::int64_t> qubits = graph_.qubits;
    std::sort(qubits.begin(), qubits.end());
    if (qubits.front() < 0) refuse("qubit " + std::to_string(qubits.front()) + " is negative", where);
    const auto twice = std::adjacent_find(qubits.begin(), qubits.end());
    if (twice != qubits.end()) refuse("qubit " + std::to_string(*twice) + " belongs to two nodes", where);
  }
  biases_.assign(static_cast<std::size_t>(n), 0.0);
  weights_.assign(graph_.couplers.size(), 0.0);
}

double BoltzmannMachine::energy(const std::uint8_t* state) const { return scaled_energy(state, 1.0, BetaScope::all); }

void BoltzmannMachine::energies(const std::uint8_t* states, std::int64_t count, double* out) const {
  const std::int64_t n = num_nodes();
  for (std::int64_t c = 0; c < count; ++c) out[c] = energy(states + c * n);
}

double BoltzmannMachine::scaled_energy(const std::uint8_t* state, double beta, BetaScope scope) const {
  double field = 0.0, coupling = 0.0;
  const std::size_t n = biases_.size();
  for (std::size_t i = 0; i < n; ++i)
    if (state[i]) field += biases_[i];
  for (std::size_t e = 0; e < weights_.size(); ++e) {
    const auto [i, j] = graph_.couplers[e];
    if (state[i] && state[j]) coupling += weights_[e];
  }
  const double bias_beta = scope == BetaScope::all ? beta : 1.0;
  return -bias_beta * field - beta * coupling;
}

void BoltzmannMachine::init_zeros() {
  std::fill(biases_.begin(), biases_.end(), 0.0);
  std::fill(weights_.begin(), weights_.end(), 0.0);
}

void BoltzmannMachine::init_normal(double sigma, std::uint64_t seed) {
  if (!(sigma >= 0) || !std::isfinite(sigma))
    throw core::UsageError(
        core::describe("sigma must be a finite number >= 0", "qvae::rbm::BoltzmannMachine::init_normal"));
  for (std::size_t i = 0; i < biases_.size(); ++i)
    biases_[i] = sigma * core::Philox(seed, core::stream_id(kBiasInitDomain, i)).normal();
  for (std::size_t e = 0; e < weights_.size(); ++e)
    weights_[e] = sigma * core::Philox(seed, core::stream_id(kWeightInitDomain, e)).normal();
}

}  // namespace qvae::rbm
