// The sparse block-Gibbs kernel: one tile of `Lanes` chains runs whole sweeps.
//
// Layout (a design decision, not a default).  Units are numbered
// partition-major ("sampler order": partition 0's nodes ascending, then
// partition 1's, ...).  A unit's states for the chains of a tile are
// contiguous (chain fastest), so every inner loop runs over chains and
// vectorises: state[tile·tile_stride + unit·unit_stride + lane].  On the host
// a tile is Lanes chains and its block (units × Lanes floats) stays in L2
// across all sweeps; on a GPU Lanes is 1 and tile_stride 1, unit_stride the
// chain count, so neighbouring threads read neighbouring chains.
//
// Couplings are a CSR over units (adjacency_begin/unit/weight), both
// directions of every coupler, so a unit update sums only its own couplers.
//
// Randomness (docs/architecture.md): chain c uses Philox (key = seed, stream =
// stream_id(kGibbsSweepDomain, c)).  One Philox block (4 words) serves the 4
// units of a "group" (positions 4g..4g+3 of a partition): in a chain's sweep
// number s (counting all sweeps it ever did), group g of partition p uses
// counter s·B + O_p + g, where B = Σ_p ⌈n_p/4⌉ blocks per sweep and
// O_p = Σ_{q<p} ⌈n_q/4⌉, and word k%4 gives the unit at position k the
// uniform u = (word >> 8)·2⁻²⁴.  The unit becomes 1 iff u·(1 + e^{−a}) < 1,
// i.e. with probability σ(a).  Clamped partitions skip their blocks.
#pragma once

#include <Kokkos_Macros.hpp>
#include <cstdint>
#include <cstring>

#include "qvae/core/philox.hpp"
#include "qvae/rbm/random_streams.hpp"

// Loops over chains carry no dependencies; -fopenmp-simd (set by qvae_rbm) makes
// the compiler vectorise them without OpenMP threads.
#define QVAE_RBM_SIMD _Pragma("omp simd")

namespace qvae::rbm::detail {

inline constexpr int kUnitsPerBlock = 4;

/// Everything a tile sweep reads or writes; raw pointers taken from the
/// sampler's views (copied by value into kernels, never captured through `this`).
struct TileSweepArgs {
  float* state = nullptr;
  std::int64_t tile_stride = 0, unit_stride = 0;
  std::int64_t* sweeps_done = nullptr;   ///< per chain: tile·Lanes + lane
  const int* adjacency_begin = nullptr;  ///< units + 1
  const int* adjacency_unit = nullptr;
  const float* adjacency_weight = nullptr;          ///< β·W
  const float* field_bias = nullptr;                ///< β_b·b
  const int* partition_begin = nullptr;             ///< K + 1, in sampler order
  const std::uint8_t* partition_sampled = nullptr;  ///< K; 0 = clamped
  int partitions = 0;
  std::uint64_t seed = 0;
  std::int64_t first_chain = 0;
  std::int64_t blocks_per_sweep = 0;
  std::int64_t sweeps = 0;
};

/// Philox blocks of `Lanes` chains at once, portable (any backend).
struct PortablePhiloxLanes {
  template <int Lanes>
  KOKKOS_FORCEINLINE_FUNCTION static void generate(const std::uint32_t* counter_lo, const std::uint32_t* counter_hi,
                                                   const std::uint32_t* stream_lo, const std::uint32_t* stream_hi,
                                                   std::uint32_t key0, std::uint32_t key1,
                                                   std::uint32_t (*words)[Lanes]) {
    QVAE_RBM_SIMD
    for (int lane = 0; lane < Lanes; ++lane) {
      const core::PhiloxBlock block = core::philox4x32_10(
          core::PhiloxBlock{{counter_lo[lane], counter_hi[lane], stream_lo[lane], stream_hi[lane]}}, key0, key1);
      words[0][lane] = block.v[0];
      words[1][lane] = block.v[1];
      words[2][lane] = block.v[2];
      words[3][lane] = block.v[3];
    }
  }
};

/// e^x for x in [−87, 88] (callers clamp): x = n·ln2 + r, |r| <= ln2/2, and
/// Cephes' degree-6 expf polynomial; relative error below 2e-7.  Plain
/// arithmetic (no libm call), so loops over chains vectorise.
KOKKOS_FORCEINLINE_FUNCTION float exp_reduced(float x) {
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  std::int32_t bits;
  std::memcpy(&bits, &p, sizeof bits);
  bits += static_cast<std::int32_t>(n) * (1 << 23);  // multiply by 2^n through the exponent
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

/// Runs args.sweeps sweeps of tile `tile` (Lanes chains).
template <int Lanes, class PhiloxLanes>
KOKKOS_FORCEINLINE_FUNCTION void sweep_tile(const TileSweepArgs& args, std::int64_t tile) {
  float* const state = args.state + tile * args.tile_stride;
  std::int64_t* const done = args.sweeps_done + tile * Lanes;
  std::uint32_t stream_lo[Lanes], stream_hi[Lanes], base_lo[Lanes], base_hi[Lanes];
  std::uint32_t counter_lo[Lanes], counter_hi[Lanes];
  std::uint32_t words[kUnitsPerBlock][Lanes];
  float field[Lanes];
  const std::uint32_t key0 = static_cast<std::uint32_t>(args.seed), key1 = static_cast<std::uint32_t>(args.seed >> 32);
  for (int lane = 0; lane < Lanes; ++lane) {
    const std::uint64_t chain = static_cast<std::uint64_t>(args.first_chain + tile * Lanes + lane);
    const std::uint64_t stream = core::stream_id(kGibbsSweepDomain, chain);
    stream_lo[lane] = static_cast<std::uint32_t>(stream);
    stream_hi[lane] = static_cast<std::uint32_t>(stream >> 32);
  }
  for (std::int64_t sweep = 0; sweep < args.sweeps; ++sweep) {
    for (int lane = 0; lane < Lanes; ++lane) {
      const std::uint64_t base =
          static_cast<std::uint64_t>(done[lane]) * static_cast<std::uint64_t>(args.blocks_per_sweep);
      base_lo[lane] = static_cast<std::uint32_t>(base);
      base_hi[lane] = static_cast<std::uint32_t>(base >> 32);
    }
    std::uint32_t block = 0;
    for (int p = 0; p < args.partitions; ++p) {
      const int begin = args.partition_begin[p], end = args.partition_begin[p + 1];
      const int groups = (end - begin + kUnitsPerBlock - 1) / kUnitsPerBlock;
      if (!args.partition_sampled[p]) {
        block += static_cast<std::uint32_t>(groups);
        continue;
      }
      for (int group = 0; group < groups; ++group, ++block) {
        QVAE_RBM_SIMD
        for (int lane = 0; lane < Lanes; ++lane) {  // 64-bit counter base + block, carried by hand
          const std::uint32_t lo = base_lo[lane] + block;
          counter_lo[lane] = lo;
          counter_hi[lane] = base_hi[lane] + (lo < block ? 1u : 0u);
        }
        PhiloxLanes::template generate<Lanes>(counter_lo, counter_hi, stream_lo, stream_hi, key0, key1, words);
        const int first_unit = begin + group * kUnitsPerBlock;
        const int last_unit = first_unit + kUnitsPerBlock < end ? first_unit + kUnitsPerBlock : end;
        for (int unit = first_unit; unit < last_unit; ++unit) {
          const float bias = args.field_bias[unit];
          QVAE_RBM_SIMD
          for (int lane = 0; lane < Lanes; ++lane) field[lane] = bias;
          for (int k = args.adjacency_begin[unit]; k < args.adjacency_begin[unit + 1]; ++k) {
            const float weight = args.adjacency_weight[k];
            const float* __restrict neighbour = state + args.adjacency_unit[k] * args.unit_stride;
            float* __restrict accumulated = field;
            QVAE_RBM_SIMD
            for (int lane = 0; lane < Lanes; ++lane) accumulated[lane] += weight * neighbour[lane];
          }
          // Three loops, not one: GCC 12 does not vectorise the clamp fused with
          // the exponential (it folds the clamped branches into constants).
          QVAE_RBM_SIMD
          for (int lane = 0; lane < Lanes; ++lane) {
            float x = -field[lane];
            x = x < -87.0f ? -87.0f : x;
            x = x > 88.0f ? 88.0f : x;
            field[lane] = x;
          }
          QVAE_RBM_SIMD
          for (int lane = 0; lane < Lanes; ++lane) field[lane] = 1.0f + exp_reduced(field[lane]);
          const std::uint32_t* const word = words[unit - first_unit];
          float* __restrict target = state + unit * args.unit_stride;
          QVAE_RBM_SIMD
          for (int lane = 0; lane < Lanes; ++lane) {
            const float u = static_cast<float>(static_cast<std::int32_t>(word[lane] >> 8)) * (1.0f / 16777216.0f);
            target[lane] = u * field[lane] < 1.0f ? 1.0f : 0.0f;
          }
        }
      }
    }
    for (int lane = 0; lane < Lanes; ++lane) ++done[lane];
  }
}

}  // namespace qvae::rbm::detail
