// `qvae generate`: showers from a trained QVAE into a
// CaloChallenge file, in parallel, identical for any rank count.
//
// Events are cut into fixed global chunks of `chunk_events` (chunk c = events
// [cS, (c+1)S)), chunks are spread over ranks in contiguous blocks, and every
// draw is keyed by (seed, global event), so each chunk is computed the same
// way whatever the rank count.  Incident energies come from a CaloChallenge
// file (its first N events) or are log-uniform in [e_min, e_max] keyed by
// (seed, event).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "qvae/core/config.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/rbm/torch_device.hpp"

namespace qvae::train {

/// Philox domain of generated incident energies (core::stream_id).
inline constexpr std::uint32_t kGeneratedEnergyDomain = 0x7E01;

struct GenerateRequest {
  const core::ConfigSchema* schema = nullptr;  ///< to read the checkpoint's config
  std::string model;                           ///< a checkpoint (DIR/best.h5) or a run directory (its best.h5)
  std::int64_t events = -1;                    ///< -1: all energies of energies_file
  std::string energies_file;                   ///< empty: log-uniform energies
  double e_min = 1e3, e_max = 1e6;             ///< MeV
  std::uint64_t seed = 0;
  std::string out;
  std::int64_t chunk_events = 256;
  int threads = 0;       ///< torch threads per rank (0: default)
  int gibbs_sweeps = 0;  ///< prior sweeps per shower (0: the model's rbm.generation_gibbs_steps)
  rbm::DeviceKind device = rbm::DeviceKind::cpu;  ///< where the decoder and the prior's chains run
  io::Provenance provenance;
  /// Called on every rank after each step: showers done over all ranks (from this rank's share), total.
  std::function<void(std::int64_t, std::int64_t)> on_progress;
};

struct GenerateResult {
  std::string out, geometry, model;
  std::int64_t events = 0;
  double seconds = 0.0;
};

/// Collective; errors are agreed.
GenerateResult generate_showers(const GenerateRequest& request, const par::Communicator& comm);

}  // namespace qvae::train
