// The K-partite Boltzmann machine (docs/rbm.md): units in K
// partitions, couplers only between different partitions (the edges of a
// hardware graph), energy in 0/1 units
//
//   E(z) = − Σ_i b_i z_i − Σ_(ij) W_ij z_i z_j,   p(z) = e^{−E(z)} / Z.
//
// Parameters are double and live in two contiguous buffers owned here
// (biases: one per node; weights: one per coupler, in couplers() order).
// Their addresses never change after construction, so LibTorch tensors
// (qvae/rbm/torch_tensors.hpp) and Kokkos views can view them without copies.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "qvae/graph/partitioned_graph.hpp"

namespace qvae::rbm {

/// What an inverse temperature β multiplies (docs/rbm.md):
/// the couplings only (the AIS path of the reference) or couplings and biases
/// (RBM_FourPartite's sigmoid(β·activation), an effective temperature).
enum class BetaScope { couplings, all };
/// "couplings" | "all"; anything else is a core::UsageError.
BetaScope parse_beta_scope(const std::string& text);
const char* to_string(BetaScope scope) noexcept;

class BoltzmannMachine {
 public:
  using Coupler = std::pair<std::int64_t, std::int64_t>;

  /// Zero parameters on the nodes and couplers of `graph`.  A graph that is not
  /// K-partite — partition outside [0, K), a coupler with i >= j, an id out of
  /// range, a coupler inside one partition, a duplicate coupler, qubits of the
  /// wrong length or repeated — is a core::InputError naming `where`.
  explicit BoltzmannMachine(graph::PartitionedGraph graph, const std::string& where = "partitioned graph");

  const graph::PartitionedGraph& graph() const { return graph_; }
  int partitions() const { return graph_.partitions; }
  std::int64_t num_nodes() const { return graph_.num_nodes(); }
  std::int64_t num_couplers() const { return static_cast<std::int64_t>(graph_.couplers.size()); }
  const std::vector<Coupler>& couplers() const { return graph_.couplers; }
  int partition_of(std::int64_t node) const { return graph_.partition[static_cast<std::size_t>(node)]; }
  /// The nodes of partition p in ascending order: position k here is row/column
  /// k of the dense per-pair matrices and column k of partition p's state block.
  const std::vector<std::int64_t>& partition_nodes(int p) const {
    return partition_nodes_[static_cast<std::size_t>(p)];
  }
  std::int64_t partition_size(int p) const { return static_cast<std::int64_t>(partition_nodes(p).size()); }
  /// Position of `node` within partition_nodes(partition_of(node)).
  std::int64_t position_in_partition(std::int64_t node) const { return position_[static_cast<std::size_t>(node)]; }

  /// N biases and E weights (weights()[e] belongs to couplers()[e]).
  double* biases() { return biases_.data(); }
  const double* biases() const { return biases_.data(); }
  double* weights() { return weights_.data(); }
  const double* weights() const { return weights_.data(); }

  /// E(z) for one state of N bytes (0/1) in node order.
  double energy(const std::uint8_t* state) const;
  /// E(z) of `count` states stored row after row (count × N bytes).
  void energies(const std::uint8_t* states, std::int64_t count, double* out) const;
  /// The energy whose Boltzmann factor the sampler draws from at inverse
  /// temperature β: −β·Σ W z z − β_b·Σ b z with β_b = β (scope all) or 1 (couplings).
  double scaled_energy(const std::uint8_t* state, double beta, BetaScope scope) const;

  void init_zeros();
  /// Every bias and weight ~ N(0, sigma²), each drawn from its own Philox stream
  /// keyed by (seed, parameter index), so values do not depend on how or where
  /// they are computed.
  void init_normal(double sigma, std::uint64_t seed);

 private:
  graph::PartitionedGraph graph_;
  std::vector<std::vector<std::int64_t>> partition_nodes_;
  std::vector<std::int64_t> position_;
  std::vector<double> biases_, weights_;
};

}  // namespace qvae::rbm
