// What other tools take from a trained QVAE, without LibTorch in the caller:
// its prior as a Boltzmann machine (`qvae rbm export`, then `qvae logz`, `qvae
// sample`, `qvae dwave`) and the latent codes of showers (`qvae encode`, then
// `qvae ll`, `qvae logz --reverse-start data`).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "qvae/core/config.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/rbm/boltzmann_machine.hpp"
#include "qvae/rbm/torch_device.hpp"

namespace qvae::train {

/// A checkpoint path, or a run directory's best.h5.
std::string checkpoint_path(const std::string& model_or_run_dir);

/// Collective: the trained prior of a checkpoint (or a run directory's
/// best.h5), a copy in the machine's node order with its graph.
rbm::BoltzmannMachine trained_prior(const std::string& model_or_run_dir, const core::ConfigSchema& schema,
                                    const par::Communicator& comm);

inline constexpr const char* kLatentsFormat = "qvae-latents";
inline constexpr std::int64_t kLatentsFormatVersion = 1;

struct EncodeRequest {
  std::string model;         ///< checkpoint or run directory
  std::string data;          ///< CaloChallenge file
  std::string out;           ///< qvae-latents file
  std::int64_t events = -1;  ///< the first `events` showers (-1: all)
  std::int64_t chunk_events = 256;
  std::uint64_t seed = 0;                         ///< posterior sampling noise, keyed by (seed, event)
  rbm::DeviceKind device = rbm::DeviceKind::cpu;  ///< where the encoder runs
  io::Provenance provenance;
  /// Called on every rank after each step: showers done over all ranks (from this rank's share), total.
  std::function<void(std::int64_t, std::int64_t)> on_progress;
};

struct EncodeResult {
  std::string out, model;
  std::int64_t events = 0, nodes = 0;
  double mean_energy = 0;  ///< mean prior energy E(z) of the codes (full model, 0/1 units)
  double seconds = 0;
};

/// Collective: encodes showers into binary posterior samples z ~ q(z|x) (the
/// model in eval mode; partition 0 is the energy code when the prior is
/// conditioned) and writes a qvae-latents file: 'latents' (D, N) uint8 in the
/// prior's node order, 'energies' (D) E(z), 'incident_energies' (D, 1) MeV.
/// Event e's noise is keyed by (seed, e): identical for any rank count.
EncodeResult encode_latents(const EncodeRequest& request, const core::ConfigSchema& schema,
                            const par::Communicator& comm);

}  // namespace qvae::train
