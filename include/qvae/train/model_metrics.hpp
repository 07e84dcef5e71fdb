// Model-side inputs of `qvae evaluate --model --data`: every
// shower of a data file encoded by a trained QVAE, the RBM energies of those
// codes and of Gibbs chains of the prior, and the reconstruction errors of
// encode -> decode.  The histograms and summary statistics are made by
// eval::compare_rbm_energies and eval::compare_reconstruction (the eval
// module may not depend on the model, so this file hands over plain arrays).
//
// Encoding and decoding follow the model's evaluation rules, with every draw
// keyed by (seed, event) so the result does not depend on the rank count:
//   * latent: z ~ Bernoulli(sigmoid(l)) for the encoder logits l of every
//     level (the eval-mode hard sample), the codes the prior is trained on;
//     partition 0 is the shower's binary energy code when the prior is clamped.
//   * reconstruction: x = ReLU(act) * hit with hit ~ Bernoulli(sigmoid(hit
//     logit)), the generation rule, mapped back to MeV by QvaeImpl::decode_to_mev.
//
// Gibbs chains: chain c starts from uniform random bits keyed by (seed, c)
// and runs `gibbs_sweeps` block-Gibbs sweeps of the Kokkos sampler (streams
// keyed by (seed, c, sweep)); with a clamped prior its partition 0 is fixed to
// the energy code of shower c mod N, as generation clamps it.  Its last state
// is the sample.
//
// Rank-count independence: events and chains are cut into fixed global chunks
// of `chunk_events`, chunks are spread over ranks in contiguous blocks (each
// rank reads one row block of the data), so every chunk is computed the same
// way for any rank count; the per-shower values are then gathered in event
// order.  All summing happens afterwards, sequentially, on those arrays.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qvae/core/config.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/rbm/torch_device.hpp"

namespace qvae::train {

/// Philox domain of the evaluation's prior chains (initial states; the sampler's seed is mixed with it).
inline constexpr std::uint32_t kEvaluationPriorDomain = 0x7E02;

struct ModelMetricsRequest {
  std::string model;                              ///< a checkpoint (DIR/best.h5) or a run directory
  std::string data;                               ///< CaloChallenge file of the model's geometry
  std::int64_t events = -1;                       ///< the first `events` showers (-1: all)
  std::int64_t chains = -1;                       ///< Gibbs chains (-1: one per encoded shower)
  int gibbs_sweeps = 1000;                        ///< sweeps per chain, from a random start
  std::uint64_t seed = 42;                        ///< keys the chains' initial states and sampler streams
  std::int64_t chunk_events = 256;                ///< showers (or chains) per forward pass / sampler call
  int threads = 0;                                ///< LibTorch threads per rank (0: LibTorch's default)
  rbm::DeviceKind device = rbm::DeviceKind::cpu;  ///< where the networks and the prior's chains run
};

/// Per-shower and per-chain values, in global order, identical on every rank.
struct ModelMetricsSamples {
  std::string model_path;  ///< the checkpoint read
  std::string geometry;
  bool partition0_clamped = false;
  std::int64_t events = 0;  ///< showers encoded
  std::int64_t latent_nodes = 0;
  // per shower e
  std::vector<double> incident_energies;    ///< MeV
  std::vector<double> encoded_energies;     ///< E(z) of the sampled code (full model, 0/1 units)
  std::vector<double> etot_data;            ///< sum of the voxels, MeV
  std::vector<double> etot_reconstruction;  ///< sum of the reconstructed voxels, MeV
  std::vector<double> squared_error;        ///< mean over voxels of (x_rec - x)^2, MeV^2
  // per chain c
  std::vector<double> gibbs_energies;  ///< E(z) of chain c's last state
  double seconds_encode = 0, seconds_gibbs = 0;
};

/// Sums of one shower against its reconstruction, in double, voxels in order.
struct ShowerError {
  double etot_data = 0, etot_reconstruction = 0;
  double squared_error = 0;  ///< mean over voxels of (reconstruction - data)^2
};
ShowerError shower_error(const float* data, const float* reconstruction, std::int64_t voxels);

/// Collective (errors agreed): loads the model, encodes and reconstructs the
/// data and runs the prior's chains.  UsageError (exit 2) for bad settings;
/// InputError (exit 3) for a file that is not a qvae-checkpoint, unreadable
/// data or data of another geometry than the model's.
ModelMetricsSamples compute_model_metrics(const ModelMetricsRequest& request, const core::ConfigSchema& schema,
                                          const par::Communicator& comm);

}  // namespace qvae::train
