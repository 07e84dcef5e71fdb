// The coupling part of a state's energy, for many chains at once:
//
//   Q(z) = Σ_e W_e z_i z_j = Σ_i z_i g_i,  g_i = Σ_{couplers (i, j), i < j} W_ij z_j,
//
// in double with the machine's unscaled weights.  AIS weights are sums of
// (β_k − β_{k−1}) Q(x_k) (docs/logz.md), so Q is evaluated once per chain and
// temperature; the samplers evaluate it in their own state layout, right
// after a sweep, instead of copying and transposing the chains.
//
// Arithmetic (the same bits whatever reads the states): nodes in ascending
// order, each node's upper neighbours in couplers() order, 16 chains at once
// (four vectors of four doubles; AVX2 where the CPU has it).  Every product is
// W·1, W·0 or z_i·g_i with z_i ∈ {0, 1}, hence exact, and each chain adds
// them in the same fixed order: a chain's Q does not depend on its tile,
// lane, rank, layout or code path.
#pragma once

#include <cstdint>
#include <vector>

#include "qvae/rbm/boltzmann_machine.hpp"
#include "qvae/rbm/sampler.hpp"

namespace qvae::rbm {

class CouplingEnergy {
 public:
  /// Chains evaluated together by the kernel.
  static constexpr int kLanes = 16;

  /// Q of states laid out by node (ChainBlock rows).
  explicit CouplingEnergy(const BoltzmannMachine& machine);
  /// Q of tiles where node n's states sit at unit position position_of_node[n]
  /// (a sampler's own unit order).  Reads the weights now and on refresh_weights().
  CouplingEnergy(const BoltzmannMachine& machine, const std::vector<std::int64_t>& position_of_node);

  /// Re-reads the machine's weights (after they changed).
  void refresh_weights();

  /// out[c] = Q(state of chain c) for every chain of `chains`.
  void evaluate(const ChainBlock& chains, double* out) const;
  std::vector<double> evaluate(const ChainBlock& chains) const;

  /// Q of the first `chains` chains of one tile of `tile_lanes` chains (a
  /// multiple of kLanes): chain l's unit at position p is the float 0 or 1 at
  /// tile[p · tile_lanes + l] — the host sampler's tile layout.
  void evaluate_tile(const float* tile, int tile_lanes, std::int64_t chains, double* out) const;

 private:
  const BoltzmannMachine& machine_;
  std::vector<std::int64_t> position_;   ///< per node
  std::vector<std::int64_t> first_;      ///< per node: start of its upper neighbours, nodes + 1
  std::vector<std::int64_t> neighbour_;  ///< the upper neighbour (a node)
  std::vector<std::int64_t> coupler_;    ///< which coupler each entry is
  std::vector<double> weight_;           ///< W of each entry
};

namespace detail {
/// Tests: evaluate Q with the portable kernel even where AVX2 exists (both
/// must give the same bits).
void force_portable_energy_kernel(bool portable);
}  // namespace detail

}  // namespace qvae::rbm
