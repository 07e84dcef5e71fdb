// Philox stream domains of the logz module (core::stream_id), one per use of a
// seed (docs/architecture.md, "Randomness").  Streams are keyed by work items —
// chain, bootstrap resample, purpose — never by rank.
//
// The Gibbs sweeps of annealing chains use the rbm sampler's own streams
// (seed, (rbm::kGibbsSweepDomain, chain)); each direction runs under its own
// seed derived here, so forward and reverse chains never share randomness.
#pragma once

#include <cstdint>

#include "qvae/core/philox.hpp"

namespace qvae::logz {

/// derive_seed(seed, purpose): stream (kDerivedSeedDomain, purpose).
inline constexpr std::uint32_t kDerivedSeedDomain = 0x7A01;
/// Exact samples of p_K (reverse AIS starts): stream (kExactSampleDomain, chain).
inline constexpr std::uint32_t kExactSampleDomain = 0x7A02;
/// Bootstrap resample b over chains: stream (kBootstrapDomain, b).
inline constexpr std::uint32_t kBootstrapDomain = 0x7A03;

/// Purposes of derived seeds.  Forward AIS runs under the user's seed itself,
/// so `--method ais` and the AIS half of `--method both` agree.
enum class SeedPurpose : std::uint64_t {
  reverse_chains = 1,    ///< reverse AIS sweeps (and the equilibration of its start)
  exact_start = 2,       ///< exact samples that start reverse AIS
  bootstrap = 3,         ///< bootstrap resampling of per-chain log-weights
  adaptive_pilot = 4,    ///< pilot chains of the adaptive schedule
  gibbs_samples = 5,     ///< Gibbs samples of the LL table
  random_model = 6,      ///< parameters of the random reference RBM of the LL table
  random_model_logz = 7  ///< annealing runs of the random reference RBM
};

/// A 64-bit seed for one purpose, a pure function of (seed, purpose).
inline std::uint64_t derive_seed(std::uint64_t seed, SeedPurpose purpose) {
  core::Philox rng(seed, core::stream_id(kDerivedSeedDomain, static_cast<std::uint64_t>(purpose)));
  const core::PhiloxBlock block = rng.block();
  return (static_cast<std::uint64_t>(block.v[0]) << 32) | block.v[1];
}

}  // namespace qvae::logz
