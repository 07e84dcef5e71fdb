// Philox stream domains of the rbm module (core::stream_id): one per use of a
// seed, so the same seed never feeds two uses (docs/architecture.md, "Randomness").
// Streams are keyed by work items — chain index, parameter index — never by rank.
#pragma once

#include <cstdint>

namespace qvae::rbm {

/// Block-Gibbs sweeps of chain c: stream (kGibbsSweepDomain, c), counter
/// sweeps_done · blocks_per_sweep + block (see qvae/rbm/gibbs_kernel.hpp).
inline constexpr std::uint32_t kGibbsSweepDomain = 0x6B01;
/// The random start of chain c: stream (kChainStartDomain, c).
inline constexpr std::uint32_t kChainStartDomain = 0x6B02;
/// Initial value of bias i / weight e: streams (kBiasInitDomain, i), (kWeightInitDomain, e).
inline constexpr std::uint32_t kBiasInitDomain = 0x6B03;
inline constexpr std::uint32_t kWeightInitDomain = 0x6B04;

}  // namespace qvae::rbm
