// Building blocks of the QVAE networks (layers.hpp; docs/model.md, "Conditioning on
// the incident energy").
#include "qvae/model/layers.hpp"

#include <cmath>

#include "qvae/core/error.hpp"
#include "qvae/data/transforms.hpp"
#include "qvae/geometry/geometry.hpp"

namespace qvae::model {

torch::ExpandingArray<3> expand3(const std::array<int, 3>& values) {
  return torch::ExpandingArray<3>({static_cast<std::int64_t>(values[0]), static_cast<std::int64_t>(values[1]),
                                   static_cast<std::int64_t>(values[2])});
}

torch::Tensor cylinder_pad(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 5, "cylinder_pad expects (B, C, Z, A, R), got ", x.sizes());
  const std::int64_t alpha = x.size(3);
  const std::int64_t half = alpha / 2;
  // Cylinder padding: the r = 0 column half a turn away becomes r = -1.
  const torch::Tensor centre = x.select(4, 0);
  const torch::Tensor across = torch::cat({centre.slice(3, half), centre.slice(3, 0, half)}, 3).unsqueeze(4);
  torch::Tensor padded = torch::cat({across, x}, 4);
  // Step 3: alpha is periodic.
  return torch::cat({padded.slice(3, alpha - 1, alpha), padded, padded.slice(3, 0, 1)}, 3);
}

PeriodicConv3dImpl::PeriodicConv3dImpl(const torch::nn::Conv3dOptions& options, bool cylinder_padding)
    : cylinder_padding_(cylinder_padding) {
  conv_ = register_module("conv", torch::nn::Conv3d(options));
}

torch::Tensor PeriodicConv3dImpl::forward(const torch::Tensor& x) {
  return conv_->forward(cylinder_padding_ ? cylinder_pad(x) : x);
}

EnergyFeatures energy_features(const torch::Tensor& incident_energies, double log_min, double log_max,
                               int embedding_dim, torch::Dtype dtype) {
  const torch::Tensor energies = incident_energies.detach().to(torch::kCPU, torch::kDouble).contiguous().view({-1});
  const std::int64_t batch = energies.size(0);
  torch::Tensor scaled = torch::empty({batch, 1}, torch::kDouble);
  torch::Tensor embedding = torch::empty({batch, embedding_dim}, torch::kDouble);
  const data::ScaledLogEnergy scale(log_min, log_max);
  const data::SinusoidalEnergyEmbedding embed(embedding_dim);
  const double* e = energies.data_ptr<double>();
  scale.forward(e, static_cast<std::size_t>(batch), scaled.data_ptr<double>());
  for (std::int64_t i = 0; i < batch; ++i) embed.embed(e[i], embedding.data_ptr<double>() + i * embedding_dim);
  const auto device = incident_energies.device();
  return {scaled.to(device, dtype), embedding.to(device, dtype)};
}

EnergyConditionerImpl::EnergyConditionerImpl(ConditionMode mode, int channels, int embedding_dim)
    : mode_(mode), channels_(channels) {
  if (mode_ == ConditionMode::add || mode_ == ConditionMode::film)
    shift_ = register_module("shift", torch::nn::Linear(embedding_dim, channels));
  if (mode_ == ConditionMode::film) scale_ = register_module("scale", torch::nn::Linear(embedding_dim, channels));
}

torch::Tensor EnergyConditionerImpl::forward(const torch::Tensor& features, const EnergyFeatures& energy) {
  if (mode_ == ConditionMode::none) return features;
  std::vector<std::int64_t> broadcast(static_cast<std::size_t>(features.dim()), 1);
  broadcast[0] = features.size(0);
  if (mode_ == ConditionMode::concat) {
    broadcast[1] = 1;
    return torch::cat({features, energy.scaled.view(broadcast).expand_as(features.narrow(1, 0, 1))}, 1);
  }
  broadcast[1] = channels_;
  const torch::Tensor shift = shift_->forward(energy.embedding).view(broadcast);
  if (mode_ == ConditionMode::add) return features + shift;
  return features * (1 + scale_->forward(energy.embedding).view(broadcast)) + shift;  // FiLM
}

torch::Tensor latent_feedback_scalar(const torch::Tensor& samples) {
  const std::int64_t m = samples.size(1);
  if (m < 2) return torch::zeros({samples.size(0)}, samples.options());
  // n_rep = len(arange(1, M/4 - 1)): the reference loop adds the same term n_rep times.
  const double limit = static_cast<double>(m) / 4.0 - 1.0;
  const double repeats = limit <= 1.0 ? 0.0 : std::ceil(limit) - 1.0;
  const double factor = repeats / (static_cast<double>(m - 1) * std::sqrt(static_cast<double>(m)));
  const torch::Tensor angle = torch::arange(m, samples.options()) * (3.14159265358979323846 / static_cast<double>(m));
  return factor * (samples * torch::cos(angle) + torch::abs(1 - samples) * torch::sin(angle)).sum(1);
}

torch::Tensor voxel_positional_encoding(const geometry::Geometry& geometry) {
  auto f = [](int position, int dimension) {
    double sum = 0.0;
    for (int i = 0; i < dimension; ++i) {
      const double argument = position * std::pow(10000.0, -static_cast<double>(i) / dimension);
      sum += (i % 2 == 0) ? std::sin(argument) : std::cos(argument);
    }
    return sum;
  };
  const std::int64_t voxels = geometry.voxels();
  torch::Tensor encoding = torch::empty({voxels}, torch::kDouble);
  double* out = encoding.data_ptr<double>();
  for (std::int64_t v = 0; v < voxels; ++v) {
    const auto& layer = geometry.layers()[static_cast<std::size_t>(geometry.layer_of()[static_cast<std::size_t>(v)])];
    out[v] = f(geometry.layer_of()[static_cast<std::size_t>(v)], geometry.num_layers()) +
             f(geometry.alpha_bin()[static_cast<std::size_t>(v)], layer.alpha_bins) +
             f(geometry.r_bin()[static_cast<std::size_t>(v)], layer.r_bins());
  }
  return encoding;
}

}  // namespace qvae::model
