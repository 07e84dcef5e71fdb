// The hierarchical encoder of the QVAE and its CNN and FCN levels (networks.hpp;
// docs/model.md, "Encoders").
#include <sstream>

#include "qvae/core/error.hpp"
#include "qvae/data/transforms.hpp"
#include "qvae/geometry/geometry.hpp"
#include "qvae/model/networks.hpp"

namespace qvae::model {

CnnEncoderLevelImpl::CnnEncoderLevelImpl(const std::array<int, 3>& grid, const std::vector<int>& channels,
                                         int latent_nodes, ConditionMode condition, int embedding_dim)
    : stages_(plan_cnn_encoder(grid, channels, latent_nodes, condition)) {
  before_condition_ = register_module("before_condition", torch::nn::Sequential());
  after_condition_ = register_module("after_condition", torch::nn::Sequential());
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    const ConvStage& s = stages_[i];
    torch::nn::Sequential& target = i < 3 ? before_condition_ : after_condition_;
    target->push_back(PeriodicConv3d(
        torch::nn::Conv3dOptions(s.in_channels, s.out_channels, expand3(s.kernel)).stride(expand3(s.stride)),
        s.cylinder_padding));
    if (s.batch_norm) target->push_back(torch::nn::BatchNorm3d(s.out_channels));
    target->push_back(torch::nn::PReLU(torch::nn::PReLUOptions().num_parameters(s.out_channels).init(s.prelu_init)));
  }
  after_condition_->push_back(torch::nn::Flatten());
  conditioner_ = register_module("conditioner", EnergyConditioner(condition, channels[2], embedding_dim));
}

torch::Tensor CnnEncoderLevelImpl::forward(const torch::Tensor& shower, const EnergyFeatures& energy) {
  return after_condition_->forward(conditioner_->forward(before_condition_->forward(shower), energy));
}

FcnEncoderLevelImpl::FcnEncoderLevelImpl(int voxels, int previous_nodes, const std::vector<int>& hidden,
                                         int latent_nodes, ConditionMode condition, int embedding_dim)
    : condition_(condition) {
  int width = voxels + previous_nodes + (condition == ConditionMode::concat ? 1 : 0);
  std::vector<int> sizes = hidden;
  sizes.push_back(latent_nodes);
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    layers_.push_back(register_module("linear" + std::to_string(i), torch::nn::Linear(width, sizes[i])));
    width = sizes[i];
  }
  conditioner_ = register_module("conditioner",
                                 EnergyConditioner(condition == ConditionMode::concat ? ConditionMode::none : condition,
                                                   hidden.front(), embedding_dim));
}

torch::Tensor FcnEncoderLevelImpl::forward(const torch::Tensor& shower, const torch::Tensor& previous,
                                           const EnergyFeatures& energy) {
  std::vector<torch::Tensor> inputs{shower};
  if (condition_ == ConditionMode::concat) inputs.push_back(energy.scaled);
  if (previous.defined()) inputs.push_back(previous);
  torch::Tensor h = torch::cat(inputs, 1);
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    h = layers_[i]->forward(h);
    if (i + 1 == layers_.size()) break;  // linear output
    h = torch::relu(h);
    if (i == 0) h = conditioner_->forward(h, energy);
  }
  return h;
}

EncoderImpl::EncoderImpl(const ModelConfig& config, const geometry::Geometry& geometry)
    : kind_(config.encoder),
      levels_(config.encoder_levels()),
      nodes_(config.rbm.nodes_per_partition),
      voxels_(static_cast<int>(geometry.voxels())),
      logit_clamp_(config.logit_clamp),
      fcn_hidden_(config.fcn_encoder_hidden) {
  const ConditionMode condition = encoder_condition_mode(config.conditioning);
  const bool clamped = config.prior_conditioning == PriorConditioning::clamped;
  if (kind_ == NetworkKind::cnn) grid_ = regular_grid(geometry, "encoder");
  for (int level = 0; level < levels_; ++level) {
    const std::string name = "level" + std::to_string(level);
    if (kind_ == NetworkKind::cnn) {
      cnn_levels_.push_back(register_module(
          name, CnnEncoderLevel(grid_, config.cnn_encoder_channels, nodes_, condition, config.energy_embedding_dim)));
    } else {
      const int previous = (clamped ? nodes_ : 0) + level * nodes_;
      fcn_levels_.push_back(register_module(name, FcnEncoderLevel(voxels_, previous, config.fcn_encoder_hidden, nodes_,
                                                                  condition, config.energy_embedding_dim)));
    }
  }
  if (config.voxel_posenc == VoxelPosEnc::sincos)
    positional_encoding_ =
        register_buffer("voxel_positional_encoding",
                        (config.voxel_posenc_scale * voxel_positional_encoding(geometry)).to(torch::kFloat));
}

EncoderOutput EncoderImpl::forward(const torch::Tensor& reduced, const EnergyFeatures& energy,
                                   const torch::Tensor& energy_code, const SampleLevel& sample) {
  const std::int64_t batch = reduced.size(0);
  torch::Tensor shower = reduced;
  if (positional_encoding_.defined()) shower = shower + positional_encoding_.to(reduced.dtype()).unsqueeze(0);
  std::vector<torch::Tensor> previous, logits, samples;
  if (energy_code.defined()) previous.push_back(energy_code.to(reduced.dtype()));
  for (int level = 0; level < levels_; ++level) {
    const torch::Tensor given = previous.empty() ? torch::Tensor() : torch::cat(previous, 1);
    torch::Tensor level_logits;
    if (kind_ == NetworkKind::cnn) {
      torch::Tensor grid_input = shower.view({batch, 1, grid_[0], grid_[1], grid_[2]});
      // Latent feedback: previous samples enter as one scalar added to every voxel.
      if (given.defined()) grid_input = grid_input + latent_feedback_scalar(given).view({batch, 1, 1, 1, 1});
      level_logits = cnn_levels_[static_cast<std::size_t>(level)]->forward(grid_input, energy);
    } else {
      level_logits = fcn_levels_[static_cast<std::size_t>(level)]->forward(shower, given, energy);
    }
    level_logits = torch::clamp(level_logits, -logit_clamp_, logit_clamp_);
    torch::Tensor level_samples = sample(level_logits, level);
    previous.push_back(level_samples);
    logits.push_back(level_logits);
    samples.push_back(level_samples);
  }
  return {torch::cat(logits, 1), torch::cat(samples, 1)};
}

std::string EncoderImpl::describe() const {
  std::ostringstream os;
  if (kind_ == NetworkKind::cnn) {
    os << levels_ << " hierarchical levels, each a 3-D CNN on the " << grid_text(grid_)
       << " grid (energy conditioning point after conv 3):\n\n"
       << format_stages(cnn_levels_.front()->stages());
  } else {
    os << levels_ << " hierarchical MLP levels: (" << voxels_ << " + [E] + previous samples) -> ";
    for (int width : fcn_hidden_) os << width << " -> ";
    os << nodes_ << " (ReLU, linear output)\n";
  }
  return os.str();
}

}  // namespace qvae::model
