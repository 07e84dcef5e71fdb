// Configuration of the QVAE model (docs/model.md): the [model], [rbm] and
// [loss] config keys and the typed ModelConfig they resolve to.
//
// This header does not include LibTorch, so the CLI can register the keys
// without paying for torch/torch.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qvae/data/transforms.hpp"

namespace qvae::core {
class Config;
class ConfigSchema;
}  // namespace qvae::core

namespace qvae::model {

/// Encoder / decoder family: hierarchical MLP or 3-D (transposed) CNN.
enum class NetworkKind { fcn, cnn };

/// How the incident energy enters the encoder and the decoder.
enum class Conditioning {
  none,             ///< not at all (the prior may still be clamped)
  encoder,          ///< scaled ln E concatenated as a channel, encoder only
  encoder_decoder,  ///< scaled ln E concatenated in encoder and decoder (Calo4pQVAE)
  additive,         ///< learned projection of a sin/cos energy embedding added to the feature maps
  film,             ///< feature maps scaled and shifted by projections of the embedding (FiLM)
};

/// Partition 0 of the prior: the clamped binary energy code, or a learned partition.
enum class PriorConditioning { clamped, none };

/// Continuous relaxation of the binary posterior samples.
enum class RelaxationKind { gumbel, spike_exp, mixture_exp };

/// Fixed positional encoding added to the reduced shower.
enum class VoxelPosEnc { none, sincos };

/// How the hit head gates the energies during training.
enum class LayerEnergies { none, predicted };
const char* to_string(LayerEnergies kind);

/// Where a decoded shower's total energy comes from (with predicted layer energies).
enum class TotalEnergy {
  latent,   ///< the layer head predicts it from the latent: the prior must carry it
  mixture,  ///< a Gaussian mixture p(U_tot | E_inc) learned beside the decoder; the layer head is conditioned on U_tot
};
const char* to_string(TotalEnergy kind);

enum class HitGating {
  true_mask,  ///< teacher forcing: LeakyReLU(act) * 1[u > 0]
  smoothed,   ///< LeakyReLU(act) * sigmoid(beta_out (hits + logistic noise))
};

/// How the RBM parameters are trained (docs/model.md).
enum class RbmUpdate {
  centred_sgd,   ///< centred gradient, plain ascent theta += lr g (OLD, exact_rbm_grad)
  centred_adam,  ///< centred gradient through Adam ascent with decay (NEW AdamOpt)
  autograd,      ///< neg_energy back-propagated; the trainer's optimiser steps the RBM tensors
};

/// Where the negative-phase Gibbs chains start.
enum class NegativeChains {
  cd,      ///< from the (binarised) posterior samples of the batch
  pcd,     ///< persistent chains continued from the previous call
  random,  ///< uniformly random states
};

const char* to_string(NetworkKind kind);
const char* to_string(Conditioning kind);
const char* to_string(PriorConditioning kind);
const char* to_string(RelaxationKind kind);
const char* to_string(VoxelPosEnc kind);
const char* to_string(HitGating kind);
const char* to_string(RbmUpdate kind);
const char* to_string(NegativeChains kind);

/// True when the encoder sees the energy (any mode but none).
bool encoder_sees_energy(Conditioning kind);
/// True when the decoder sees the energy (encoder+decoder, additive, film).
bool decoder_sees_energy(Conditioning kind);

/// Linear annealing of a value per batch:
///   v = start + (end - start) * ((epoch - 1) N_b + batch) / ((epoch_end - epoch_start) N_b),
/// clipped to the interval [start, end], and `start` while epoch <= epoch_start.
/// Epochs count from 1 as in the reference; batch is 0-based.
struct LinearAnneal {
  double start = 0.0;
  double end = 0.0;
  int epoch_start = 0;
  int epoch_end = 150;
  double at(int epoch, std::int64_t batch, std::int64_t batches_per_epoch) const;
};

/// [loss] keys.
struct LossConfig {
  double mse_coefficient = 0.01;   ///< coeff of the exponentially weighted MSE
  double mse_weight = 0.5;         ///< w in exp(w u)
  double mse_interpolation = 1.0;  ///< lambda in (1 - lambda + lambda sigma^2)
  double hit_coefficient = 1.0;    ///< factor on the hit BCE
  double hit_alpha = 0.0;          ///< e^{alpha - gamma s_b}
  double hit_gamma = 0.0;
  double hit_weight_power = 0.0;       ///< per-voxel BCE weight (1 + u)^p
  double kl_weight = 1.0;              ///< gamma_KL on entropy + pos (+ neg with autograd)
  double total_coefficient = 100.0;    ///< layer head: factor on the total energy's squared error (logit units)
  double layer_coefficient = 10.0;     ///< layer head: factor on the layer fractions' cross-entropy
  double total_nll_coefficient = 1.0;  ///< total_energy = mixture: factor on -log p(U_tot | E_inc)
};

/// [rbm] keys used by the model: the prior's size and graph, its initialisation,
/// how it is trained and sampled.
struct PriorConfig {
  int partitions = 4;
  int nodes_per_partition = 302;
  std::string topology = "pegasus";  ///< pegasus | zephyr | chimera
  int graph_size = 16;               ///< m of the hardware graph
  int graph_t = 4;                   ///< shore size (zephyr, chimera)
  std::string scheme = "default";    ///< colouring scheme of the selection
  std::string file;                  ///< non-empty: load this qvae-rbm file instead of building one
  double init_weight_sigma = 1.0;    ///< N(0, sigma^2) couplings (OLD: randn)
  double init_bias_sigma = 1.0;      ///< N(0, sigma^2) biases
  RbmUpdate update = RbmUpdate::centred_sgd;
  double lr = 0.01;
  double weight_decay = 0.0;  ///< gamma of theta <- theta (1 - gamma) + ... (Adam)
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;
  double mean_clamp = 1e-4;  ///< data/model means clamped to [c, 1 - c] in the centred gradient
  int gibbs_steps = 3000;    ///< sweeps of the negative phase per batch
  NegativeChains negative_chains = NegativeChains::cd;
  int generation_gibbs_steps = 3000;  ///< sweeps before decoding a generated shower
};

/// Everything that defines a QVAE for a given geometry.
struct ModelConfig {
  NetworkKind encoder = NetworkKind::cnn;
  NetworkKind decoder = NetworkKind::cnn;
  Conditioning conditioning = Conditioning::encoder_decoder;
  PriorConditioning prior_conditioning = PriorConditioning::clamped;
  VoxelPosEnc voxel_posenc = VoxelPosEnc::none;
  double voxel_posenc_scale = 1.0;

  std::vector<int> cnn_encoder_channels{32, 64, 128, 256};  ///< encoder table (docs/model.md), convs 1-4
  std::vector<int> cnn_decoder_channels{512, 128, 64, 32};  ///< decoder table: trunk 2, heads 2
  std::vector<int> fcn_encoder_hidden{500, 450, 400, 350, 300};
  std::vector<int> fcn_decoder_hidden{800, 700, 600, 550, 500};  ///< last one per head

  int energy_embedding_dim = 16;  ///< sin/cos embedding of ln E (additive, film)
  double energy_log_min = 6.0;    ///< trans_energy a (ln MeV)
  double energy_log_max = 14.0;   ///< trans_energy b
  /// Bits of floor(E), floor(sqrt(10E)), floor(e^10 ln E) in partition 0; all 0 = minimal for energy_code_max_mev.
  data::EnergyCodeWidths energy_code_widths{20, 20, 20};
  double energy_code_max_mev = 1e6;
  double logit_r = data::kDefaultLogitR;
  /// Voxels are transformed as fractions of fraction_scale x E_inc (>= 1);
  /// 0 = auto: `qvae train` fixes it from the training file (docs/model.md).
  double fraction_scale = 0.0;
  double logit_clamp = 88.0;  ///< encoder logits clamped to +-this

  RelaxationKind relaxation = RelaxationKind::gumbel;
  LinearAnneal beta{1.0, 100.0, 0, 150};  ///< relaxation inverse temperature
  LinearAnneal slope{0.05, 0.0, 0, 150};  ///< LeakyReLU slope of the energy head in training
  HitGating hit_gating = HitGating::true_mask;
  /// CNN decoder: a learnt bias per voxel on both outputs (the FCN's output
  /// layers have one already).
  bool decoder_voxel_bias = false;
  /// predicted: a decoder head predicts each layer's energy (logit transform of
  /// E_layer / (s E_inc)) and decoded showers are scaled layer by layer to it.
  LayerEnergies layer_energies = LayerEnergies::none;
  std::vector<int> layer_head_hidden{256, 256};
  TotalEnergy total_energy = TotalEnergy::latent;
  int total_mixture_components = 8;
  std::vector<int> total_mixture_hidden{64, 64};
  double hit_smoothing_beta = 60.0;

  LossConfig loss;
  PriorConfig rbm;

  /// Partitions filled by the encoder: K-1 when partition 0 is clamped, else K.
  int encoder_levels() const {
    return prior_conditioning == PriorConditioning::clamped ? rbm.partitions - 1 : rbm.partitions;
  }
  int latent_size() const { return rbm.partitions * rbm.nodes_per_partition; }
  /// The reduce/logit transform of this model (an unresolved auto scale acts as 1).
  data::LogitTransform voxel_transform() const {
    return data::LogitTransform(logit_r, fraction_scale > 0 ? fraction_scale : 1.0);
  }
  /// UsageError naming the first inconsistent setting.
  void validate() const;
};

/// Registers every [model], [rbm] and [loss] key with its documented default
/// (the reference ds2 setup, docs/model.md).
void add_model_keys(core::ConfigSchema& schema);
/// Reads the keys of add_model_keys; UsageError for inconsistent values.
ModelConfig model_config_from(const core::Config& config);

/// The fraction scale `qvae train` chooses for data whose largest voxel is
/// `max_fraction` x E_inc: the smallest power of two >= max_fraction, at least 1.
double auto_fraction_scale(double max_fraction);

/// "1,2,3" -> {1,2,3}; UsageError naming `key` for anything but positive integers.
std::vector<int> parse_int_list(const std::string& text, const std::string& key);

}  // namespace qvae::model
