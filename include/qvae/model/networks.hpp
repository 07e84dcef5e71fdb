// Encoders and decoders of the QVAE (docs/model.md).
//
// Encoder: hierarchical over levels; level l sees the reduced shower u (plus
// the optional voxel positional encoding) and the samples of all previous
// partitions [energy code, zeta_1, ..., zeta_l] and outputs the logits of
// partition l+1 (clamped prior) or l (unclamped prior).  CNN levels receive the
// previous samples as one scalar added to every voxel; FCN levels
// concatenate them to their input.
//
// Decoder: all partitions concatenated -> two heads of V outputs each: hit
// logits and energy activations.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "qvae/geometry/geometry.hpp"
#include "qvae/model/config.hpp"
#include "qvae/model/layers.hpp"
#include "qvae/model/network_plan.hpp"

namespace qvae::model {

// ---------------------------------------------------------------------------
// Encoder levels

/// One level of the 3-D CNN encoder.
class CnnEncoderLevelImpl : public torch::nn::Module {
 public:
  CnnEncoderLevelImpl(const std::array<int, 3>& grid, const std::vector<int>& channels, int latent_nodes,
                      ConditionMode condition, int embedding_dim);
  /// shower: (B, 1, Z, A, R); returns (B, latent_nodes) logits (unclamped).
  torch::Tensor forward(const torch::Tensor& shower, const EnergyFeatures& energy);
  const std::vector<ConvStage>& stages() const { return stages_; }

 private:
  std::vector<ConvStage> stages_;
  torch::nn::Sequential before_condition_{nullptr}, after_condition_{nullptr};
  EnergyConditioner conditioner_{nullptr};
};
TORCH_MODULE(CnnEncoderLevel);

/// One level of the MLP encoder: input
/// cat(u, [scaled E], previous samples) -> hidden (ReLU) -> latent_nodes.
/// Additive/FiLM conditioning acts after the first hidden layer.
class FcnEncoderLevelImpl : public torch::nn::Module {
 public:
  FcnEncoderLevelImpl(int voxels, int previous_nodes, const std::vector<int>& hidden, int latent_nodes,
                      ConditionMode condition, int embedding_dim);
  /// shower: (B, V); previous: (B, M) or undefined when M = 0.
  torch::Tensor forward(const torch::Tensor& shower, const torch::Tensor& previous, const EnergyFeatures& energy);

 private:
  ConditionMode condition_;
  std::vector<torch::nn::Linear> layers_;
  EnergyConditioner conditioner_{nullptr};
};
TORCH_MODULE(FcnEncoderLevel);

/// Logits and relaxed samples of the encoded partitions, level after level.
struct EncoderOutput {
  torch::Tensor logits;   ///< (B, levels * n), clamped to +-logit_clamp
  torch::Tensor samples;  ///< (B, levels * n): relaxed (training) or binary (eval) samples
};

/// Turns one level's logits into samples; called in level order (level index given).
using SampleLevel = std::function<torch::Tensor(const torch::Tensor& logits, int level)>;

class EncoderImpl : public torch::nn::Module {
 public:
  EncoderImpl(const ModelConfig& config, const geometry::Geometry& geometry);
  /// reduced: (B, V); energy_code: (B, n) binary code of partition 0 when the prior
  /// is clamped, undefined otherwise.
  EncoderOutput forward(const torch::Tensor& reduced, const EnergyFeatures& energy, const torch::Tensor& energy_code,
                        const SampleLevel& sample);
  int levels() const { return levels_; }
  /// Markdown description of the architecture (layer table of one level).
  std::string describe() const;

 private:
  NetworkKind kind_;
  int levels_, nodes_, voxels_;
  double logit_clamp_;
  std::array<int, 3> grid_{0, 0, 0};
  std::vector<CnnEncoderLevel> cnn_levels_;
  std::vector<FcnEncoderLevel> fcn_levels_;
  std::vector<int> fcn_hidden_;
  torch::Tensor positional_encoding_;  ///< (V) buffer, or undefined
};
TORCH_MODULE(Encoder);

// ---------------------------------------------------------------------------
// Decoders

/// The two heads' outputs, each (B, V), and the layer-energy head's (B, 1 + L)
/// (undefined unless model.layer_energies = predicted).
struct DecoderOutput {
  torch::Tensor hit_logits;
  torch::Tensor activations;
  /// column 0: logit transform of E_tot / (s E_inc); columns 1..L: logits of
  /// the layer fractions E_layer / E_tot (softmax).
  torch::Tensor layer_logits;
};

class DecoderImpl : public torch::nn::Module {
 public:
  DecoderImpl(const ModelConfig& config, const geometry::Geometry& geometry);
  /// latent: (B, K n) all partitions.  total: (B, 1) U_tot the layer head is
  /// conditioned on (model.total_energy = mixture; required then, ignored
  /// otherwise); it becomes column 0 of layer_logits unchanged.
  DecoderOutput forward(const torch::Tensor& latent, const EnergyFeatures& energy, const torch::Tensor& total = {});
  std::string describe() const;

 private:
  NetworkKind kind_;
  int voxels_;
  std::array<int, 3> grid_{0, 0, 0};
  // cnn
  std::vector<TransposedStage> stages_;
  torch::nn::Sequential trunk_{nullptr}, hit_head_{nullptr}, energy_head_{nullptr};
  torch::Tensor hit_voxel_bias_, energy_voxel_bias_;  ///< (V) with model.decoder_voxel_bias, else undefined
  // fcn
  std::vector<int> fcn_hidden_;
  std::vector<torch::nn::Linear> shared_;
  torch::nn::Linear hit_hidden_{nullptr}, hit_out_{nullptr}, energy_hidden_{nullptr}, energy_out_{nullptr};
  EnergyConditioner conditioner_{nullptr};
  // layer energies: MLP on cat(latent, [scaled E])
  torch::nn::Sequential layer_head_{nullptr};
  bool layer_head_sees_energy_ = false;
  bool layer_head_sees_total_ = false;
};
TORCH_MODULE(Decoder);

// ---------------------------------------------------------------------------
// Total-energy density (model.total_energy = mixture)

/// p(U_tot | E_inc): a mixture of K Gaussians over U_tot, the logit transform
/// of E_tot / (s E_inc), whose log-weights, means and log-widths an MLP reads
/// off the scaled ln E_inc.  It models the calorimeter's response and
/// resolution per incident energy directly, so they need not pass through the
/// binary latent; generation draws U_tot from it and the decoder's layer head
/// distributes that total over the layers.
class TotalEnergyDensityImpl : public torch::nn::Module {
 public:
  /// centre: the U_tot the means are measured from (the transform's middle,
  /// U of half the full scale), so the network's outputs are O(1) whatever
  /// the transform's offset.
  TotalEnergyDensityImpl(int components, const std::vector<int>& hidden, double centre);
  /// (B) log p(U_tot | E) for scaled energies (B, 1) and totals (B) or (B, 1).
  torch::Tensor log_prob(const torch::Tensor& scaled_energy, const torch::Tensor& total);
  /// (B, 1) draws for uniforms (B, 3) in (0, 1): one picks the component, two
  /// make its standard normal (Box-Muller), so a draw is a pure function of
  /// its three uniforms.
  torch::Tensor sample(const torch::Tensor& scaled_energy, const torch::Tensor& uniforms);
  std::string describe() const;

 private:
  struct Mixture {
    torch::Tensor log_weights, means, log_widths;  ///< each (B, K)
  };
  Mixture mixture(const torch::Tensor& scaled_energy);

  int components_;
  std::vector<int> hidden_;
  double centre_;
  torch::nn::Sequential net_{nullptr};
};
TORCH_MODULE(TotalEnergyDensity);

}  // namespace qvae::model
