// Building blocks of the QVAE networks: cylinder padding (docs/model.md),
// periodic 3-D convolution, energy conditioning, the latent scalar
// feedback between encoder levels and the voxel positional encoding.
//
// Tensors of the 3-D networks are (batch, channels, z = layer, alpha, r), the
// CaloChallenge voxel order (r fastest).
#pragma once

#include <array>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "qvae/model/config.hpp"
#include "qvae/model/network_plan.hpp"

namespace qvae::geometry {
class Geometry;
}

namespace qvae::model {

/// The cylinder padding (docs/model.md, "Encoders"; PeriodicConv3d): the innermost radial column
/// x[..., 0], rolled half a turn in alpha (its neighbour across the cylinder
/// centre), is prepended as r = -1; then alpha is padded circularly by one bin
/// on each side.  z is never padded.  (B, C, Z, A, R) -> (B, C, Z, A + 2, R + 1).
torch::Tensor cylinder_pad(const torch::Tensor& x);

/// Conv3d that, with cylinder padding on, pads as cylinder_pad() and then
/// convolves without padding; otherwise a plain Conv3d (padding 0).
class PeriodicConv3dImpl : public torch::nn::Module {
 public:
  /// `options` must have padding 0: the padding is the cylinder's.
  PeriodicConv3dImpl(const torch::nn::Conv3dOptions& options, bool cylinder_padding);
  torch::Tensor forward(const torch::Tensor& x);
  bool cylinder_padding() const { return cylinder_padding_; }

 private:
  torch::nn::Conv3d conv_{nullptr};
  bool cylinder_padding_;
};
TORCH_MODULE(PeriodicConv3d);

/// cylinder_pad() as a module (the decoder's periodic post-pad).
class CylinderPadImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& x) { return cylinder_pad(x); }
};
TORCH_MODULE(CylinderPad);

/// Per-event energy inputs of the networks.
struct EnergyFeatures {
  torch::Tensor scaled;     ///< (B, 1): (ln E - a)/(b - a)
  torch::Tensor embedding;  ///< (B, d): sin/cos of ln E (data::SinusoidalEnergyEmbedding)
};

/// Computes EnergyFeatures from incident energies in MeV ((B) or (B, 1)) with
/// the project's data transforms; the result has `dtype`.  InputError for E <= 0.
EnergyFeatures energy_features(const torch::Tensor& incident_energies, double log_min, double log_max,
                               int embedding_dim, torch::Dtype dtype);

/// One conditioning point on features h of shape (B, C) or (B, C, ...):
///   concat: cat(h, scaled E broadcast)            -> C + 1 channels
///   add:    h + Linear(embedding)                 (broadcast over space)
///   film:   h * (1 + Linear_g(embedding)) + Linear_b(embedding)
///   none:   h
class EnergyConditionerImpl : public torch::nn::Module {
 public:
  EnergyConditionerImpl(ConditionMode mode, int channels, int embedding_dim);
  torch::Tensor forward(const torch::Tensor& features, const EnergyFeatures& energy);
  int out_channels() const { return mode_ == ConditionMode::concat ? channels_ + 1 : channels_; }
  ConditionMode mode() const { return mode_; }

 private:
  ConditionMode mode_;
  int channels_;
  torch::nn::Linear shift_{nullptr};
  torch::nn::Linear scale_{nullptr};
};
TORCH_MODULE(EnergyConditioner);

/// Latent feedback: the previous hierarchy levels' samples s (B, M) reduced to one scalar
/// per event, n_rep / ((M - 1) sqrt M) * sum_k [cos(k pi/M) s_k + sin(k pi/M) |1 - s_k|]
/// with n_rep = #{1 <= i < M/4 - 1}; (B).  Zero for M < 2.
torch::Tensor latent_feedback_scalar(const torch::Tensor& samples);

/// Voxel positional encoding (the reference's pe == 2): per voxel f(layer, L) + f(alpha, A_layer) + f(r, R_layer) with
/// f(p, d) = sum_{i<d} (i even ? sin : cos)(p 10000^(-i/d)); (V) double.
torch::Tensor voxel_positional_encoding(const geometry::Geometry& geometry);

/// A (z, alpha, r) triple as LibTorch's kernel and stride argument.
torch::ExpandingArray<3> expand3(const std::array<int, 3>& values);

}  // namespace qvae::model
