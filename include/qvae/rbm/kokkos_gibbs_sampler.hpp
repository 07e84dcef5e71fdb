// The sparse block-Gibbs sampler in Kokkos, templated on execution and memory
// space, so the same code can serve other Kokkos backends.  Kernel and layout: qvae/rbm/gibbs_kernel.hpp.
//
// On host execution spaces the tile kernel is the CPU's best compiled variant
// (AVX2 where the processor has it, else portable; both give identical bits,
// since neither contracts multiply-adds).  Other spaces run the portable
// kernel with one chain per thread.  The default host space is compiled once
// in the library (extern template below); include this header only to use
// another space.
#pragma once

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "qvae/rbm/coupling_energy.hpp"
#include "qvae/rbm/gibbs_kernel.hpp"
#include "qvae/rbm/sampler.hpp"

namespace qvae::rbm {
namespace detail {

/// Chains per tile of the host kernel at most (and of the shared uniform generator).
inline constexpr int kHostLanes = 64;
/// Chains per tile of the host kernel for `chains` chains: 16, 32 or 64.  A
/// tile costs about the same whatever share of its lanes holds chains, so
/// few chains (a rank's share of a small batch) get narrow tiles.  The lane
/// width changes neither a chain's random stream nor its arithmetic, so the
/// samples are the same bits for every width.
int host_lanes_for(std::int64_t chains);
using HostTileKernel = void (*)(const TileSweepArgs&, std::int64_t tile);
/// The host tile kernel of `lanes` (16, 32 or 64) chains for this CPU, chosen once.
HostTileKernel host_tile_kernel(int lanes);
/// Tests: run the portable host kernel and Philox even where AVX2 exists
/// (both must give the same bits).
void force_portable_host_kernel(bool portable);

/// One tile's share of Sampler::anneal on the host.
struct AnnealTileArgs {
  TileSweepArgs sweep;  ///< adjacency_weight is replaced by each step's β·W
  HostTileKernel kernel = nullptr;
  int lanes = 0;
  std::int64_t chains = 0;  ///< chains of the block (the last tile may be partial)
  const std::vector<AnnealingStep>* steps = nullptr;
  const double* weight = nullptr;  ///< W of each CSR entry
  std::size_t entries = 0;         ///< CSR entries
  const CouplingEnergy* coupling = nullptr;
  double* accumulated = nullptr;
};
/// Every step for the chains of `tile`: float(β·W) as load_parameters makes
/// it, the sweeps, then accumulated += energy_weight · Q.
void anneal_tile(const AnnealTileArgs& args, std::int64_t tile);

/// Kokkos::Profiling regions by RAII (Kokkos 3.4 has no ScopedRegion).
class ProfilingRegion {
 public:
  explicit ProfilingRegion(const std::string& name) { Kokkos::Profiling::pushRegion(name); }
  ~ProfilingRegion() { Kokkos::Profiling::popRegion(); }
  ProfilingRegion(const ProfilingRegion&) = delete;
  ProfilingRegion& operator=(const ProfilingRegion&) = delete;
};

/// Partition-major unit order and the CSR of a machine (host arrays).
struct SparseLayout {
  std::vector<std::int64_t> node_of_unit, unit_of_node;
  std::vector<int> partition_begin;  ///< K + 1
  std::vector<int> adjacency_begin, adjacency_unit;
  std::vector<std::int64_t> adjacency_coupler;  ///< which coupler each CSR entry is
  std::int64_t blocks_per_sweep = 0;
};
SparseLayout sparse_layout(const BoltzmannMachine& machine);

template <class ExecutionSpace, int Lanes>
struct PortableSweepFunctor {
  TileSweepArgs args;
  KOKKOS_INLINE_FUNCTION void operator()(const std::int64_t tile) const {
    sweep_tile<Lanes, PortablePhiloxLanes>(args, tile);
  }
};

}  // namespace detail

/// Kokkos views of the machine's own parameter buffers (no copy), the
/// counterpart of biases_tensor / weights_tensor (docs/architecture.md, "RBM
/// parameters").  Samplers keep a β-scaled float copy of the couplings for
/// speed (E + N floats), re-read by Sampler::refresh_parameters().
using HostParameterView = Kokkos::View<double*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
inline HostParameterView biases_view(BoltzmannMachine& machine) {
  return HostParameterView(machine.biases(), static_cast<std::size_t>(machine.num_nodes()));
}
inline HostParameterView weights_view(BoltzmannMachine& machine) {
  return HostParameterView(machine.weights(), static_cast<std::size_t>(machine.num_couplers()));
}

template <class ExecutionSpace = Kokkos::DefaultHostExecutionSpace,
          class MemorySpace = typename ExecutionSpace::memory_space>
class KokkosGibbsSampler final : public Sampler {
  static_assert(Kokkos::is_execution_space<ExecutionSpace>::value, "ExecutionSpace must be a Kokkos execution space");
  static_assert(Kokkos::is_memory_space<MemorySpace>::value, "MemorySpace must be a Kokkos memory space");
  static_assert(Kokkos::SpaceAccessibility<ExecutionSpace, MemorySpace>::accessible,
                "the execution space must be able to access the memory space");

 public:
  using execution_space = ExecutionSpace;
  using memory_space = MemorySpace;
  static constexpr bool kOnHost = std::is_same<typename ExecutionSpace::memory_space, Kokkos::HostSpace>::value &&
                                  std::is_same<MemorySpace, Kokkos::HostSpace>::value;

  KokkosGibbsSampler(const BoltzmannMachine& machine, SamplerSettings settings, ExecutionSpace space = {})
      : Sampler(machine, settings), space_(space), layout_(detail::sparse_layout(machine)) {
    const detail::SparseLayout& layout = layout_;
    adjacency_begin_ = to_device<int>("qvae::rbm::adjacency_begin", layout.adjacency_begin);
    adjacency_unit_ = to_device<int>("qvae::rbm::adjacency_unit", layout.adjacency_unit);
    partition_begin_ = to_device<int>("qvae::rbm::partition_begin", layout.partition_begin);
    adjacency_weight_ = Kokkos::View<float*, MemorySpace>("qvae::rbm::adjacency_weight", layout.adjacency_unit.size());
    field_bias_ = Kokkos::View<float*, MemorySpace>("qvae::rbm::field_bias", layout.node_of_unit.size());
    partition_sampled_ =
        Kokkos::View<std::uint8_t*, MemorySpace>("qvae::rbm::partition_sampled", layout.partition_begin.size() - 1);
    load_parameters();
  }

  std::string backend() const override { return "kokkos"; }

  MemoryUse memory_use() const override {
    MemoryUse use;
    use.bytes_per_chain = static_cast<std::int64_t>(layout_.node_of_unit.size() * sizeof(float) + sizeof(std::int64_t));
    use.model_bytes =
        static_cast<std::int64_t>(adjacency_begin_.span() * sizeof(int) + adjacency_unit_.span() * sizeof(int) +
                                  adjacency_weight_.span() * sizeof(float) + field_bias_.span() * sizeof(float) +
                                  partition_begin_.span() * sizeof(int) + partition_sampled_.span());
    return use;
  }

 protected:
  void load_chains(const ChainBlock& chains) override {
    const std::int64_t units = static_cast<std::int64_t>(layout_.node_of_unit.size());
    lanes_ = kOnHost ? detail::host_lanes_for(chains.count) : 1;
    tiles_ = (chains.count + lanes_ - 1) / lanes_;
    chain_offset_ = chains.first_chain;
    // Host: tile-major blocks (units × lanes); device: chain fastest over all chains.
    tile_stride_ = lanes_ > 1 ? units * lanes_ : 1;
    unit_stride_ = lanes_ > 1 ? lanes_ : tiles_;
    state_ =
        Kokkos::View<float*, MemorySpace>("qvae::rbm::chain_states", static_cast<std::size_t>(tiles_ * units * lanes_));
    sweeps_done_ =
        Kokkos::View<std::int64_t*, MemorySpace>("qvae::rbm::chain_sweeps", static_cast<std::size_t>(tiles_ * lanes_));
    auto state = Kokkos::create_mirror_view(state_);
    auto done = Kokkos::create_mirror_view(sweeps_done_);
    for (std::int64_t c = 0; c < chains.count; ++c) {
      const std::uint8_t* row = chains.state(c);
      const std::int64_t tile = c / lanes_, lane = c % lanes_;
      for (std::int64_t unit = 0; unit < units; ++unit)
        state(tile * tile_stride_ + unit * unit_stride_ + lane) =
            row[layout_.node_of_unit[static_cast<std::size_t>(unit)]] ? 1.0f : 0.0f;
      done(c) = chains.sweeps[static_cast<std::size_t>(c)];
    }
    for (std::int64_t c = chains.count; c < tiles_ * lanes_; ++c) done(c) = 0;  // padding lanes
    Kokkos::deep_copy(state_, state);
    Kokkos::deep_copy(sweeps_done_, done);
    chain_total_ = chains.count;
  }

  ChainBlock store_chains() const override {
    const std::int64_t units = static_cast<std::int64_t>(layout_.node_of_unit.size());
    auto state = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state_);
    auto done = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), sweeps_done_);
    ChainBlock chains;
    chains.first_chain = chain_offset_;
    chains.count = chain_total_;
    chains.units = units;
    chains.states.resize(static_cast<std::size_t>(chain_total_ * units));
    chains.sweeps.resize(static_cast<std::size_t>(chain_total_));
    for (std::int64_t c = 0; c < chain_total_; ++c) {
      std::uint8_t* row = chains.state(c);
      const std::int64_t tile = c / lanes_, lane = c % lanes_;
      for (std::int64_t unit = 0; unit < units; ++unit)
        row[layout_.node_of_unit[static_cast<std::size_t>(unit)]] =
            state(tile * tile_stride_ + unit * unit_stride_ + lane) != 0.0f ? 1 : 0;
      chains.sweeps[static_cast<std::size_t>(c)] = done(c);
    }
    return chains;
  }

  void load_parameters() override {
    const BoltzmannMachine& model = machine();
    const double beta = settings().beta;
    const double bias_beta = settings().beta_scope == BetaScope::all ? beta : 1.0;
    auto weight = Kokkos::create_mirror_view(adjacency_weight_);
    auto bias = Kokkos::create_mirror_view(field_bias_);
    for (std::size_t k = 0; k < layout_.adjacency_coupler.size(); ++k)
      weight(k) = static_cast<float>(beta * model.weights()[layout_.adjacency_coupler[k]]);
    for (std::size_t unit = 0; unit < layout_.node_of_unit.size(); ++unit)
      bias(unit) = static_cast<float>(bias_beta * model.biases()[layout_.node_of_unit[unit]]);
    Kokkos::deep_copy(adjacency_weight_, weight);
    Kokkos::deep_copy(field_bias_, bias);
  }

  void run_sweeps(std::int64_t sweeps, const std::vector<std::uint8_t>& sampled) override {
    if (tiles_ == 0 || sweeps == 0) return;
    detail::ProfilingRegion region("qvae::rbm::KokkosGibbsSampler::sweep");
    const detail::TileSweepArgs args = sweep_args(sampled, sweeps);
    const Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>> tiles(space_, 0, tiles_);
    if constexpr (kOnHost) {
      const detail::HostTileKernel kernel = detail::host_tile_kernel(lanes_);
      Kokkos::parallel_for("qvae::rbm::KokkosGibbsSampler::sweep_tiles", tiles,
                           [=](const std::int64_t tile) { kernel(args, tile); });
    } else {
      Kokkos::parallel_for("qvae::rbm::KokkosGibbsSampler::sweep_tiles", tiles,
                           detail::PortableSweepFunctor<ExecutionSpace, 1>{args});
    }
    space_.fence();
  }

  /// On the host, every step of one tile before the next (its states stay in
  /// L2), with Q evaluated in the tile layout.
  void run_anneal(const std::vector<AnnealingStep>& steps, const std::vector<std::uint8_t>& sampled,
                  double* accumulated, const std::function<void(std::int64_t, std::int64_t)>& progress) override {
    if constexpr (!kOnHost) {
      Sampler::run_anneal(steps, sampled, accumulated, progress);
    } else {
      set_beta(steps.front().beta, BetaScope::couplings);  // biases at β_b = 1
      if (tiles_ == 0) return;
      if (!tile_coupling_) tile_coupling_.emplace(machine(), layout_.unit_of_node);
      tile_coupling_->refresh_weights();  // W as it is now (β moves nothing in Q)
      detail::ProfilingRegion region("qvae::rbm::KokkosGibbsSampler::anneal");
      std::vector<double> weight(layout_.adjacency_coupler.size());  // W of each CSR entry
      for (std::size_t k = 0; k < weight.size(); ++k) weight[k] = machine().weights()[layout_.adjacency_coupler[k]];
      detail::AnnealTileArgs anneal;
      anneal.sweep = sweep_args(sampled, 0);
      anneal.kernel = detail::host_tile_kernel(lanes_);
      anneal.lanes = lanes_;
      anneal.chains = chain_total_;
      anneal.steps = &steps;
      anneal.weight = weight.data();
      anneal.entries = weight.size();
      anneal.coupling = &*tile_coupling_;
      anneal.accumulated = accumulated;
      // Tiles in batches of the space's concurrency, for progress between batches.
      const std::int64_t batch = std::max(1, space_.concurrency());
      const std::int64_t total = tiles_ * static_cast<std::int64_t>(steps.size());
      for (std::int64_t first = 0; first < tiles_; first += batch) {
        const std::int64_t last = std::min(tiles_, first + batch);
        Kokkos::parallel_for("qvae::rbm::KokkosGibbsSampler::anneal_tiles",
                             Kokkos::RangePolicy<ExecutionSpace, Kokkos::IndexType<std::int64_t>>(space_, first, last),
                             [=](const std::int64_t tile) { detail::anneal_tile(anneal, tile); });
        space_.fence();
        if (progress) progress(last * static_cast<std::int64_t>(steps.size()), total);
      }
    }
  }

 private:
  /// Everything a tile kernel reads, for `sweeps` sweeps with partitions `sampled`.
  detail::TileSweepArgs sweep_args(const std::vector<std::uint8_t>& sampled, std::int64_t sweeps) {
    auto sampled_host = Kokkos::create_mirror_view(partition_sampled_);
    for (std::size_t p = 0; p < sampled.size(); ++p) sampled_host(p) = sampled[p];
    Kokkos::deep_copy(partition_sampled_, sampled_host);
    detail::TileSweepArgs args;
    args.state = state_.data();
    args.tile_stride = tile_stride_;
    args.unit_stride = unit_stride_;
    args.sweeps_done = sweeps_done_.data();
    args.adjacency_begin = adjacency_begin_.data();
    args.adjacency_unit = adjacency_unit_.data();
    args.adjacency_weight = adjacency_weight_.data();
    args.field_bias = field_bias_.data();
    args.partition_begin = partition_begin_.data();
    args.partition_sampled = partition_sampled_.data();
    args.partitions = static_cast<int>(sampled.size());
    args.seed = settings().seed;
    args.first_chain = chain_offset_;
    args.blocks_per_sweep = layout_.blocks_per_sweep;
    args.sweeps = sweeps;
    return args;
  }

  template <class T>
  Kokkos::View<T*, MemorySpace> to_device(const std::string& label, const std::vector<T>& values) {
    Kokkos::View<T*, MemorySpace> view(label, values.size());
    auto host = Kokkos::create_mirror_view(view);
    for (std::size_t i = 0; i < values.size(); ++i) host(i) = values[i];
    Kokkos::deep_copy(view, host);
    return view;
  }

  ExecutionSpace space_;
  detail::SparseLayout layout_;
  Kokkos::View<int*, MemorySpace> adjacency_begin_, adjacency_unit_, partition_begin_;
  Kokkos::View<float*, MemorySpace> adjacency_weight_, field_bias_;
  Kokkos::View<std::uint8_t*, MemorySpace> partition_sampled_;
  Kokkos::View<float*, MemorySpace> state_;
  Kokkos::View<std::int64_t*, MemorySpace> sweeps_done_;
  std::int64_t tiles_ = 0, chain_offset_ = 0, chain_total_ = 0, tile_stride_ = 0, unit_stride_ = 0;
  int lanes_ = 1;                                ///< chains per tile
  std::optional<CouplingEnergy> tile_coupling_;  ///< Q in the tile layout, built on first use
};

extern template class KokkosGibbsSampler<Kokkos::DefaultHostExecutionSpace>;

}  // namespace qvae::rbm
