// Host side of the sparse sampler: the CSR layout, the tile kernels compiled
// for this library (portable and, on x86-64, AVX2 chosen at run time), the
// shared uniform generator, and the explicit instantiation for the default
// host execution space.  Compiled with -fopenmp-simd and without GCC's
// unroll-and-jam (see src/rbm/CMakeLists.txt), which otherwise turns the loop
// over chains back into scalar code.
#include "qvae/rbm/kokkos_gibbs_sampler.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "qvae/core/cpu_dispatch.hpp"

#if QVAE_X86_DISPATCH
#include <immintrin.h>
#endif

namespace qvae::rbm {
namespace detail {

SparseLayout sparse_layout(const BoltzmannMachine& machine) {
  SparseLayout layout;
  const std::int64_t n = machine.num_nodes();
  layout.unit_of_node.assign(static_cast<std::size_t>(n), 0);
  layout.partition_begin.push_back(0);
  for (int p = 0; p < machine.partitions(); ++p) {
    for (std::int64_t node : machine.partition_nodes(p)) {
      layout.unit_of_node[static_cast<std::size_t>(node)] = static_cast<std::int64_t>(layout.node_of_unit.size());
      layout.node_of_unit.push_back(node);
    }
    layout.partition_begin.push_back(static_cast<int>(layout.node_of_unit.size()));
    layout.blocks_per_sweep += (machine.partition_size(p) + kUnitsPerBlock - 1) / kUnitsPerBlock;
  }
  // CSR rows by unit; both directions of each coupler; neighbours ascending.
  std::vector<std::vector<std::pair<std::int64_t, std::int64_t>>> rows(static_cast<std::size_t>(n));
  const auto& couplers = machine.couplers();
  for (std::size_t e = 0; e < couplers.size(); ++e) {
    const std::int64_t a = layout.unit_of_node[static_cast<std::size_t>(couplers[e].first)];
    const std::int64_t b = layout.unit_of_node[static_cast<std::size_t>(couplers[e].second)];
    rows[static_cast<std::size_t>(a)].push_back({b, static_cast<std::int64_t>(e)});
    rows[static_cast<std::size_t>(b)].push_back({a, static_cast<std::int64_t>(e)});
  }
  layout.adjacency_begin.push_back(0);
  for (auto& row : rows) {
    std::sort(row.begin(), row.end());
    for (const auto& [unit, coupler] : row) {
      layout.adjacency_unit.push_back(static_cast<int>(unit));
      layout.adjacency_coupler.push_back(coupler);
    }
    layout.adjacency_begin.push_back(static_cast<int>(layout.adjacency_unit.size()));
  }
  return layout;
}

void anneal_tile(const AnnealTileArgs& args, std::int64_t tile) {
  const std::size_t entries = args.entries;
  thread_local std::vector<float> scaled;  // this step's β·W
  scaled.resize(entries);
  TileSweepArgs sweep = args.sweep;
  sweep.adjacency_weight = scaled.data();
  const std::int64_t first = tile * args.lanes;
  const std::int64_t chains = std::min<std::int64_t>(args.lanes, args.chains - first);
  double q[kHostLanes];
  for (const AnnealingStep& step : *args.steps) {
    for (std::size_t k = 0; k < entries; ++k) scaled[k] = static_cast<float>(step.beta * args.weight[k]);
    if (step.sweeps > 0) {
      sweep.sweeps = step.sweeps;
      args.kernel(sweep, tile);
    }
    args.coupling->evaluate_tile(sweep.state + tile * sweep.tile_stride, args.lanes, chains, q);
    for (std::int64_t lane = 0; lane < chains; ++lane) args.accumulated[first + lane] += step.energy_weight * q[lane];
  }
}

namespace {

template <int Lanes>
void sweep_tile_portable(const TileSweepArgs& args, std::int64_t tile) {
  sweep_tile<Lanes, PortablePhiloxLanes>(args, tile);
}

#if QVAE_X86_DISPATCH
/// The 32x32 -> 64-bit products of Philox for 8 lanes: even lanes directly,
/// odd lanes shifted down, then the high and low halves blended back.
QVAE_TARGET("avx2") inline void multiply_high_low(__m256i a, __m256i multiplier, __m256i& high, __m256i& low) {
  const __m256i even = _mm256_mul_epu32(a, multiplier);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), multiplier);
  low = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  high = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

/// core::philox4x32_10 for Lanes lanes (a multiple of 8) with AVX2 (GCC's own
/// vectorisation of the widening products shuffles too much: 3x slower).  Same bits.
template <int Lanes>
QVAE_TARGET("avx2")
void philox_lanes_avx2(const std::uint32_t* counter_lo, const std::uint32_t* counter_hi, const std::uint32_t* stream_lo,
                       const std::uint32_t* stream_hi, std::uint32_t key0, std::uint32_t key1,
                       std::uint32_t (*words)[Lanes]) {
  static_assert(Lanes % 8 == 0, "the AVX2 Philox runs 8 lanes at a time");
  const __m256i multiplier0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i multiplier1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  for (int lane = 0; lane < Lanes; lane += 8) {
    __m256i c0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(counter_lo + lane));
    __m256i c1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(counter_hi + lane));
    __m256i c2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(stream_lo + lane));
    __m256i c3 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(stream_hi + lane));
    std::uint32_t k0 = key0, k1 = key1;
    for (int round = 0; round < 10; ++round) {
      __m256i high0, low0, high1, low1;
      multiply_high_low(c0, multiplier0, high0, low0);
      multiply_high_low(c2, multiplier1, high1, low1);
      const __m256i next0 = _mm256_xor_si256(_mm256_xor_si256(high1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
      const __m256i next2 = _mm256_xor_si256(_mm256_xor_si256(high0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
      c0 = next0;
      c1 = low1;
      c2 = next2;
      c3 = low0;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[0] + lane), c0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[1] + lane), c1);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[2] + lane), c2);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[3] + lane), c3);
  }
}

struct Avx2PhiloxLanes {
  template <int Lanes>
  static void generate(const std::uint32_t* counter_lo, const std::uint32_t* counter_hi, const std::uint32_t* stream_lo,
                       const std::uint32_t* stream_hi, std::uint32_t key0, std::uint32_t key1,
                       std::uint32_t (*words)[Lanes]) {
    philox_lanes_avx2<Lanes>(counter_lo, counter_hi, stream_lo, stream_hi, key0, key1, words);
  }
};

/// The same tile kernel with AVX2 code generation for the loops over chains.
template <int Lanes>
QVAE_TARGET("avx2")
void sweep_tile_avx2(const TileSweepArgs& args, std::int64_t tile) {
  sweep_tile<Lanes, Avx2PhiloxLanes>(args, tile);
}

#endif

using PhiloxLanesFunction = void (*)(const std::uint32_t*, const std::uint32_t*, const std::uint32_t*,
                                     const std::uint32_t*, std::uint32_t, std::uint32_t, std::uint32_t (*)[kHostLanes]);

void philox_lanes_portable(const std::uint32_t* counter_lo, const std::uint32_t* counter_hi,
                           const std::uint32_t* stream_lo, const std::uint32_t* stream_hi, std::uint32_t key0,
                           std::uint32_t key1, std::uint32_t (*words)[kHostLanes]) {
  PortablePhiloxLanes::generate<kHostLanes>(counter_lo, counter_hi, stream_lo, stream_hi, key0, key1, words);
}

core::DispatchedKernel<PhiloxLanesFunction>& philox_lanes_kernel() {
#if QVAE_X86_DISPATCH
  static core::DispatchedKernel<PhiloxLanesFunction> kernel(philox_lanes_avx2<kHostLanes>, philox_lanes_portable,
                                                            {core::CpuFeature::avx2});
#else
  static core::DispatchedKernel<PhiloxLanesFunction> kernel(philox_lanes_portable);
#endif
  return kernel;
}

template <int Lanes>
core::DispatchedKernel<HostTileKernel>& tile_kernel() {
#if QVAE_X86_DISPATCH
  static core::DispatchedKernel<HostTileKernel> kernel(sweep_tile_avx2<Lanes>, sweep_tile_portable<Lanes>,
                                                       {core::CpuFeature::avx2});
#else
  static core::DispatchedKernel<HostTileKernel> kernel(sweep_tile_portable<Lanes>);
#endif
  return kernel;
}

PhiloxLanesFunction host_philox_lanes() { return philox_lanes_kernel().get(); }

}  // namespace

int host_lanes_for(std::int64_t chains) { return chains <= 16 ? 16 : chains <= 32 ? 32 : kHostLanes; }

HostTileKernel host_tile_kernel(int lanes) {
  switch (lanes) {
    case 16:
      return tile_kernel<16>().get();
    case 32:
      return tile_kernel<32>().get();
    case kHostLanes:
      return tile_kernel<kHostLanes>().get();
  }
  throw std::invalid_argument("qvae::rbm::detail::host_tile_kernel: no kernel for " + std::to_string(lanes) + " lanes");
}

void force_portable_host_kernel(bool portable) {
  tile_kernel<16>().force_portable(portable);
  tile_kernel<32>().force_portable(portable);
  tile_kernel<kHostLanes>().force_portable(portable);
  philox_lanes_kernel().force_portable(portable);
}

}  // namespace detail

std::string host_kernel_isa() { return detail::tile_kernel<detail::kHostLanes>().fast() ? "avx2" : "portable"; }

void gibbs_uniforms(const BoltzmannMachine& machine, std::uint64_t seed, std::int64_t first_chain, std::int64_t count,
                    const std::int64_t* sweeps_done, int partition, float* out) {
  using detail::kHostLanes;
  using detail::kUnitsPerBlock;
  std::int64_t blocks_per_sweep = 0, block_offset = 0;
  for (int p = 0; p < machine.partitions(); ++p) {
    const std::int64_t groups = (machine.partition_size(p) + kUnitsPerBlock - 1) / kUnitsPerBlock;
    if (p < partition) block_offset += groups;
    blocks_per_sweep += groups;
  }
  const std::int64_t size = machine.partition_size(partition);
  const std::int64_t groups = (size + kUnitsPerBlock - 1) / kUnitsPerBlock;
  const detail::PhiloxLanesFunction philox = detail::host_philox_lanes();
  const std::uint32_t key0 = static_cast<std::uint32_t>(seed), key1 = static_cast<std::uint32_t>(seed >> 32);
  alignas(64) std::uint32_t stream_lo[kHostLanes], stream_hi[kHostLanes], counter_lo[kHostLanes],
      counter_hi[kHostLanes], words[kUnitsPerBlock][kHostLanes];
  for (std::int64_t tile_begin = 0; tile_begin < count; tile_begin += kHostLanes) {
    const std::int64_t lanes = std::min<std::int64_t>(kHostLanes, count - tile_begin);
    std::uint64_t base[kHostLanes];
    for (int lane = 0; lane < kHostLanes; ++lane) {
      const std::int64_t c = tile_begin + std::min<std::int64_t>(lane, lanes - 1);  // padding repeats the last chain
      const std::uint64_t stream = core::stream_id(kGibbsSweepDomain, static_cast<std::uint64_t>(first_chain + c));
      stream_lo[lane] = static_cast<std::uint32_t>(stream);
      stream_hi[lane] = static_cast<std::uint32_t>(stream >> 32);
      base[lane] = static_cast<std::uint64_t>(sweeps_done[c]) * static_cast<std::uint64_t>(blocks_per_sweep) +
                   static_cast<std::uint64_t>(block_offset);
    }
    for (std::int64_t group = 0; group < groups; ++group) {
      for (int lane = 0; lane < kHostLanes; ++lane) {
        const std::uint64_t counter = base[lane] + static_cast<std::uint64_t>(group);
        counter_lo[lane] = static_cast<std::uint32_t>(counter);
        counter_hi[lane] = static_cast<std::uint32_t>(counter >> 32);
      }
      philox(counter_lo, counter_hi, stream_lo, stream_hi, key0, key1, words);
      const std::int64_t first = group * kUnitsPerBlock, last = std::min(first + kUnitsPerBlock, size);
      for (std::int64_t lane = 0; lane < lanes; ++lane) {
        float* row = out + (tile_begin + lane) * size;
        for (std::int64_t k = first; k < last; ++k)
          row[k] = static_cast<float>(static_cast<std::int32_t>(words[k - first][lane] >> 8)) * (1.0f / 16777216.0f);
      }
    }
  }
}

std::unique_ptr<Sampler> make_kokkos_sampler(const BoltzmannMachine& machine, const SamplerSettings& settings) {
  return std::make_unique<KokkosGibbsSampler<>>(machine, settings);
}

template class KokkosGibbsSampler<Kokkos::DefaultHostExecutionSpace>;

}  // namespace qvae::rbm
