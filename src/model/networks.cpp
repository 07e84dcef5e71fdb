// Layers, encoders and decoders of the QVAE (docs/model.md, "Encoders", "Decoders",
// "Conditioning on the incident energy").
#include "qvae/model/networks.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "qvae/core/error.hpp"
#include "qvae/data/transforms.hpp"
#include "qvae/geometry/geometry.hpp"

namespace qvae::model {

namespace {

torch::ExpandingArray<3> expand3(const std::array<int, 3>& values) {
  return torch::ExpandingArray<3>({static_cast<std::int64_t>(values[0]), static_cast<std::int64_t>(values[1]),
                                   static_cast<std::int64_t>(values[2])});
}

std::string shape_text(const std::array<int, 3>& shape) {
  return std::to_string(shape[0]) + "," + std::to_string(shape[1]) + "," + std::to_string(shape[2]);
}

std::string grid_text(const std::array<int, 3>& grid) {
  return std::to_string(grid[0]) + "x" + std::to_string(grid[1]) + "x" + std::to_string(grid[2]);
}

/// Growth of (z, alpha, r) by cylinder_pad().
constexpr std::array<int, 3> kCylinderGrowth{0, 2, 1};

}  // namespace

// ---------------------------------------------------------------------------
// Layers

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

ConditionMode encoder_condition_mode(Conditioning conditioning) {
  switch (conditioning) {
    case Conditioning::none: return ConditionMode::none;
    case Conditioning::encoder:
    case Conditioning::encoder_decoder: return ConditionMode::concat;
    case Conditioning::additive: return ConditionMode::add;
    case Conditioning::film: return ConditionMode::film;
  }
  return ConditionMode::none;
}

ConditionMode decoder_condition_mode(Conditioning conditioning) {
  switch (conditioning) {
    case Conditioning::none:
    case Conditioning::encoder: return ConditionMode::none;
    case Conditioning::encoder_decoder: return ConditionMode::concat;
    case Conditioning::additive: return ConditionMode::add;
    case Conditioning::film: return ConditionMode::film;
  }
  return ConditionMode::none;
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

std::string format_stages(const std::vector<ConvStage>& stages) {
  std::ostringstream os;
  os << "| # | op (Cin->Cout, kernel, stride, padding) | out (C,z,alpha,r) |\n|---|---|---|\n";
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const auto& s = stages[i];
    os << "| " << i + 1 << " | " << (s.cylinder_padding ? "PConv3d " : "Conv3d ") << s.in_channels << "->"
       << s.out_channels << ", k(" << shape_text(s.kernel) << "), s(" << shape_text(s.stride) << "), "
       << (s.cylinder_padding ? "cylinder pad" : "p=0") << (s.batch_norm ? "; BN3d" : "") << "; PReLU("
       << s.out_channels << ", init " << s.prelu_init << ")"
       << " | " << s.out_channels << "," << shape_text(s.out_shape) << " |\n";
  }
  return os.str();
}

std::string format_stages(const std::vector<TransposedStage>& stages) {
  std::ostringstream os;
  os << "| # | op (Cin->Cout, kernel, stride) | out (C,z,alpha,r) |\n|---|---|---|\n";
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const auto& s = stages[i];
    os << "| " << i + 1 << " | ConvT3d " << s.in_channels << "->" << s.out_channels << ", k(" << shape_text(s.kernel)
       << "), s(" << shape_text(s.stride) << ")" << (s.post_pad ? ", cylinder post-pad" : "") << " | "
       << s.out_channels << "," << shape_text(s.out_shape) << " |\n";
  }
  return os.str();
}

// ---------------------------------------------------------------------------
// Plans

std::array<int, 3> regular_grid(const geometry::Geometry& geometry, const std::string& what) {
  if (!geometry.is_regular() || geometry.layers().empty())
    throw core::UsageError(core::describe(
        "the 3-D CNN " + what + " needs a regular (layers x alpha x r) geometry, but " + geometry.name() +
            " has layers with different binnings",
        "", "set model." + what + "=fcn for this geometry"));
  const auto& first = geometry.layers().front();
  return {geometry.num_layers(), first.alpha_bins, first.r_bins()};
}

std::vector<ConvStage> plan_cnn_encoder(const std::array<int, 3>& grid, const std::vector<int>& channels,
                                        int latent_nodes, ConditionMode condition) {
  if (channels.size() != 4) throw core::UsageError("model.cnn_encoder_channels needs 4 values");
  std::vector<ConvStage> stages;
  std::array<int, 3> shape = grid;
  int in_channels = 1;
  auto add = [&](int out, std::array<int, 3> kernel, std::array<int, 3> stride, bool cylinder, bool batch_norm,
                 double prelu_init) {
    ConvStage stage{in_channels, out, kernel, stride, cylinder, batch_norm, prelu_init, {0, 0, 0}};
    for (int d = 0; d < 3; ++d) {
      const int padded = shape[static_cast<std::size_t>(d)] + (cylinder ? kCylinderGrowth[static_cast<std::size_t>(d)] : 0);
      if (padded < kernel[static_cast<std::size_t>(d)])
        throw core::UsageError(core::describe("the geometry grid " + grid_text(grid) +
                                                  " is too small for the 3-D CNN encoder (stage " +
                                                  std::to_string(stages.size() + 1) + ")",
                                              "", "use model.encoder=fcn"));
      shape[static_cast<std::size_t>(d)] =
          (padded - kernel[static_cast<std::size_t>(d)]) / stride[static_cast<std::size_t>(d)] + 1;
    }
    stage.out_shape = shape;
    stages.push_back(stage);
    in_channels = out;
  };
  // Convs 1-3 of the encoder table (docs/model.md) with the cylinder padding.
  add(channels[0], {3, 3, 3}, {2, 1, 1}, true, true, 0.02);
  add(channels[1], {3, 3, 3}, {2, 1, 1}, true, true, 0.02);
  add(channels[2], {3, 3, 3}, {1, 2, 1}, true, true, 0.02);
  if (condition == ConditionMode::concat) in_channels += 1;  // the trans_energy channel
  add(channels[3], {3, 3, 3}, {2, 2, 1}, false, true, 0.02);
  // Larger grids (ds3): halve every extent above 4 until none is.
  while (*std::max_element(shape.begin(), shape.end()) > 4) {
    std::array<int, 3> kernel{}, stride{};
    for (std::size_t d = 0; d < 3; ++d) {
      kernel[d] = std::min(3, shape[d]);
      stride[d] = shape[d] > 4 ? 2 : 1;
    }
    add(channels[3], kernel, stride, false, true, 0.02);
  }
  // Conv 5 of the table (k 3, s(1,2,2)) when it collapses the grid, else a kernel of the remaining extent.
  bool table_collapses = true;
  const std::array<int, 3> table_stride{1, 2, 2};
  for (std::size_t d = 0; d < 3; ++d)
    table_collapses = table_collapses && shape[d] >= 3 && (shape[d] - 3) / table_stride[d] + 1 == 1;
  if (table_collapses)
    add(latent_nodes, {3, 3, 3}, table_stride, false, false, 1.0);
  else
    add(latent_nodes, shape, {1, 1, 1}, false, false, 1.0);
  return stages;
}

namespace {

/// One dimension of the decoder plan: kernels and strides of the 5 transposed convs.
struct DimensionPlan {
  std::array<int, 5> kernel{};
  std::array<int, 5> stride{};
};

/// Size after the 5 stages from 1, with `growth` added after stages 3 and 4 (post-pad).
int plan_size(const DimensionPlan& plan, int growth) {
  int size = 1;
  for (std::size_t i = 0; i < 5; ++i) {
    size = (size - 1) * plan.stride[i] + plan.kernel[i];
    if (i == 2 || i == 3) size += growth;
  }
  return size;
}

/// The plan closest to `reference` (cost: kernel distance + 2 per changed stride) reaching `target`.
DimensionPlan plan_dimension(int target, int growth, const DimensionPlan& reference, const char* name) {
  if (plan_size(reference, growth) == target) return reference;
  DimensionPlan best{}, trial = reference;
  int best_cost = std::numeric_limits<int>::max();
  for (int code = 0; code < 5 * 5 * 5 * 5 * 5 * 16; ++code) {
    int rest = code;
    for (std::size_t i = 0; i < 5; ++i) {
      trial.kernel[i] = 1 + rest % 5;
      rest /= 5;
    }
    for (std::size_t i = 1; i < 5; ++i) {
      trial.stride[i] = 1 + rest % 2;
      rest /= 2;
    }
    if (plan_size(trial, growth) != target) continue;
    int cost = 0;
    for (std::size_t i = 0; i < 5; ++i) {
      cost += std::abs(trial.kernel[i] - reference.kernel[i]);
      if (i > 0 && trial.stride[i] != reference.stride[i]) cost += 2;
    }
    if (cost < best_cost) {
      best_cost = cost;
      best = trial;
    }
  }
  if (best_cost == std::numeric_limits<int>::max())
    throw core::UsageError(core::describe("no 3-D CNN decoder plan reaches " + std::to_string(target) + " bins in " +
                                              name,
                                          "", "use model.decoder=fcn for this geometry"));
  return best;
}

}  // namespace

std::vector<TransposedStage> plan_cnn_decoder(const std::array<int, 3>& grid, const std::vector<int>& channels,
                                              int latent_size, ConditionMode condition) {
  if (channels.size() != 4) throw core::UsageError("model.cnn_decoder_channels needs 4 values");
  // The reference's newer `Decoder` (docs/model.md, "Decoders"), per dimension (z, alpha, r).
  const DimensionPlan reference_z{{3, 5, 3, 5, 5}, {2, 2, 2, 2, 1}};
  const DimensionPlan reference_alpha{{3, 4, 3, 3, 3}, {1, 1, 1, 1, 1}};
  const DimensionPlan reference_r{{2, 2, 2, 2, 3}, {1, 1, 1, 1, 1}};
  const std::array<DimensionPlan, 3> plans{plan_dimension(grid[0], kCylinderGrowth[0], reference_z, "z"),
                                           plan_dimension(grid[1], kCylinderGrowth[1], reference_alpha, "alpha"),
                                           plan_dimension(grid[2], kCylinderGrowth[2], reference_r, "r")};
  const int trunk_out = channels[1] + (condition == ConditionMode::concat ? 1 : 0);
  const std::array<int, 5> in_channels{latent_size, channels[0], trunk_out, channels[2], channels[3]};
  const std::array<int, 5> out_channels{channels[0], channels[1], channels[2], channels[3], 1};
  std::vector<TransposedStage> stages;
  std::array<int, 3> shape{1, 1, 1};
  for (std::size_t i = 0; i < 5; ++i) {
    TransposedStage stage;
    stage.in_channels = in_channels[i];
    stage.out_channels = out_channels[i];
    stage.post_pad = (i == 2 || i == 3);
    for (std::size_t d = 0; d < 3; ++d) {
      stage.kernel[d] = plans[d].kernel[i];
      stage.stride[d] = plans[d].stride[i];
      shape[d] = (shape[d] - 1) * stage.stride[d] + stage.kernel[d] + (stage.post_pad ? kCylinderGrowth[d] : 0);
    }
    stage.out_shape = shape;
    stages.push_back(stage);
  }
  return stages;
}

// ---------------------------------------------------------------------------
// Encoder levels

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
  conditioner_ = register_module(
      "conditioner",
      EnergyConditioner(condition == ConditionMode::concat ? ConditionMode::none : condition, hidden.front(),
                        embedding_dim));
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

// ---------------------------------------------------------------------------
// Encoder

EncoderImpl::EncoderImpl(const ModelConfig& config, const geometry::Geometry& geometry)
    : kind_(config.encoder), levels_(config.encoder_levels()), nodes_(config.rbm.nodes_per_partition),
      voxels_(static_cast<int>(geometry.voxels())), logit_clamp_(config.logit_clamp),
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
    positional_encoding_ = register_buffer(
        "voxel_positional_encoding",
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

// ---------------------------------------------------------------------------
// Decoder

DecoderImpl::DecoderImpl(const ModelConfig& config, const geometry::Geometry& geometry)
    : kind_(config.decoder), voxels_(static_cast<int>(geometry.voxels())), fcn_hidden_(config.fcn_decoder_hidden) {
  const ConditionMode condition = decoder_condition_mode(config.conditioning);
  const int latent = config.latent_size();
  if (kind_ == NetworkKind::cnn) {
    grid_ = regular_grid(geometry, "decoder");
    stages_ = plan_cnn_decoder(grid_, config.cnn_decoder_channels, latent, condition);
    auto transposed = [](const TransposedStage& s) {
      return torch::nn::ConvTranspose3d(
          torch::nn::ConvTranspose3dOptions(s.in_channels, s.out_channels, expand3(s.kernel)).stride(expand3(s.stride)));
    };
    trunk_ = register_module("trunk", torch::nn::Sequential());
    for (std::size_t i = 0; i < 2; ++i) {
      trunk_->push_back(transposed(stages_[i]));
      trunk_->push_back(torch::nn::BatchNorm3d(stages_[i].out_channels));
      trunk_->push_back(torch::nn::PReLU(torch::nn::PReLUOptions().num_parameters(stages_[i].out_channels).init(0.02)));
    }
    // Decoder heads: hits PReLU inits 1.0 (≈ identity, logits), energies 0.02.
    auto head = [&](double prelu_init) {
      torch::nn::Sequential sequence;
      for (std::size_t i = 2; i < 4; ++i) {
        sequence->push_back(transposed(stages_[i]));
        sequence->push_back(CylinderPad());
        sequence->push_back(torch::nn::BatchNorm3d(stages_[i].out_channels));
        sequence->push_back(
            torch::nn::PReLU(torch::nn::PReLUOptions().num_parameters(stages_[i].out_channels).init(prelu_init)));
      }
      sequence->push_back(transposed(stages_[4]));
      sequence->push_back(torch::nn::PReLU(torch::nn::PReLUOptions().num_parameters(1).init(prelu_init)));
      sequence->push_back(torch::nn::Flatten());
      return sequence;
    };
    hit_head_ = register_module("hit_head", head(1.0));
    energy_head_ = register_module("energy_head", head(0.02));
    if (config.decoder_voxel_bias) {
      hit_voxel_bias_ = register_parameter("hit_voxel_bias", torch::zeros({voxels_}));
      energy_voxel_bias_ = register_parameter("energy_voxel_bias", torch::zeros({voxels_}));
    }
    conditioner_ =
        register_module("conditioner", EnergyConditioner(condition, config.cnn_decoder_channels[1],
                                                         config.energy_embedding_dim));
  } else {
    const std::size_t shared = fcn_hidden_.size() - 1;
    int width = latent + (condition == ConditionMode::concat ? 1 : 0);
    for (std::size_t i = 0; i < shared; ++i) {
      shared_.push_back(register_module("shared" + std::to_string(i), torch::nn::Linear(width, fcn_hidden_[i])));
      width = fcn_hidden_[i];
    }
    const int last = fcn_hidden_.back();
    hit_hidden_ = register_module("hit_hidden", torch::nn::Linear(width, last));
    hit_out_ = register_module("hit_out", torch::nn::Linear(last, voxels_));
    energy_hidden_ = register_module("energy_hidden", torch::nn::Linear(width, last));
    energy_out_ = register_module("energy_out", torch::nn::Linear(last, voxels_));
    conditioner_ = register_module(
        "conditioner", EnergyConditioner(condition == ConditionMode::concat ? ConditionMode::concat : condition,
                                         fcn_hidden_.front(), config.energy_embedding_dim));
  }
  if (config.layer_energies == LayerEnergies::predicted) {
    // The layer energies set each layer's scale: they see the latent and, when
    // the decoder is conditioned, the scaled incident energy directly.
    // With a mixture total it also sees U_tot and predicts the fractions only.
    layer_head_sees_energy_ = config.conditioning != Conditioning::none;
    layer_head_sees_total_ = config.total_energy == TotalEnergy::mixture;
    layer_head_ = register_module("layer_head", torch::nn::Sequential());
    int width = latent + (layer_head_sees_energy_ ? 1 : 0) + (layer_head_sees_total_ ? 1 : 0);
    for (int hidden : config.layer_head_hidden) {
      layer_head_->push_back(torch::nn::Linear(width, hidden));
      layer_head_->push_back(torch::nn::ReLU());
      width = hidden;
    }
    layer_head_->push_back(torch::nn::Linear(width, geometry.num_layers() + (layer_head_sees_total_ ? 0 : 1)));
  }
}

DecoderOutput DecoderImpl::forward(const torch::Tensor& latent, const EnergyFeatures& energy,
                                   const torch::Tensor& total) {
  DecoderOutput out;
  if (kind_ == NetworkKind::cnn) {
    const torch::Tensor trunk = trunk_->forward(latent.view({latent.size(0), latent.size(1), 1, 1, 1}));
    const torch::Tensor conditioned = conditioner_->forward(trunk, energy);
    out.hit_logits = hit_head_->forward(conditioned);
    out.activations = energy_head_->forward(conditioned);
    if (hit_voxel_bias_.defined()) {
      out.hit_logits = out.hit_logits + hit_voxel_bias_;
      out.activations = out.activations + energy_voxel_bias_;
    }
  } else {
    torch::Tensor h = latent;
    if (conditioner_->mode() == ConditionMode::concat) h = conditioner_->forward(h, energy);
    for (std::size_t i = 0; i < shared_.size(); ++i) {
      h = torch::relu(shared_[i]->forward(h));
      if (i == 0 && conditioner_->mode() != ConditionMode::concat) h = conditioner_->forward(h, energy);
    }
    out.hit_logits = hit_out_->forward(torch::relu(hit_hidden_->forward(h)));
    out.activations = energy_out_->forward(torch::relu(energy_hidden_->forward(h)));
  }
  if (layer_head_) {
    std::vector<torch::Tensor> inputs{latent};
    if (layer_head_sees_energy_) inputs.push_back(energy.scaled);
    if (layer_head_sees_total_) {
      TORCH_CHECK(total.defined() && total.dim() == 2 && total.size(0) == latent.size(0) && total.size(1) == 1,
                  "Decoder: model.total_energy = mixture needs the (B, 1) total the layer head is conditioned on");
      inputs.push_back(total.to(latent.scalar_type()));
    }
    out.layer_logits = layer_head_->forward(torch::cat(inputs, 1));
    if (layer_head_sees_total_) out.layer_logits = torch::cat({inputs.back(), out.layer_logits}, 1);
  }
  return out;
}

std::string DecoderImpl::describe() const {
  std::ostringstream os;
  if (kind_ == NetworkKind::cnn) {
    os << "3-D transposed CNN to the " << grid_text(grid_)
       << " grid: stages 1-2 trunk (BN, PReLU .02), energy conditioning, stages 3-5 duplicated into the hit head "
          "(PReLU 1.0) and the energy head (PReLU .02)"
       << (hit_voxel_bias_.defined() ? ", each plus a learnt bias per voxel" : "") << ":\n\n"
       << format_stages(stages_);
  } else {
    os << "MLP decoder: latent [+ E] -> ";
    for (std::size_t i = 0; i + 1 < fcn_hidden_.size(); ++i) os << fcn_hidden_[i] << " -> ";
    os << "two heads (" << fcn_hidden_.back() << " -> " << voxels_ << ") (ReLU, linear outputs)\n";
  }
  if (layer_head_sees_total_)
    os << "\nLayer-energy head: MLP on the latent" << (layer_head_sees_energy_ ? ", the scaled E" : "")
       << " and the logit-transformed total energy -> one fraction logit per layer (softmax); decoded showers are "
          "scaled layer by layer to total x fraction.\n";
  else if (layer_head_)
    os << "\nLayer-energy head: MLP on the latent" << (layer_head_sees_energy_ ? " and the scaled E" : "")
       << " -> the logit-transformed total energy and one fraction logit per layer (softmax); decoded showers are "
          "scaled layer by layer to total x fraction.\n";
  return os.str();
}

// ---------------------------------------------------------------------------
// Total-energy density

namespace {
constexpr double kPi = 3.141592653589793238462643;
constexpr double kLogWidthMin = -9.0;  // widths from 1e-4 (far below any calorimeter's resolution in logit units) ...
constexpr double kLogWidthMax = 3.0;   // ... to 20 (wider than the logit range of E_tot / (s E_inc))
}  // namespace

TotalEnergyDensityImpl::TotalEnergyDensityImpl(int components, const std::vector<int>& hidden, double centre)
    : components_(components), hidden_(hidden), centre_(centre) {
  net_ = register_module("net", torch::nn::Sequential());
  int width = 1;
  for (int h : hidden) {
    net_->push_back(torch::nn::Linear(width, h));
    net_->push_back(torch::nn::ReLU());
    width = h;
  }
  torch::nn::Linear out(width, 3 * components);
  {
    // Start as a mixture whose means are spread over +-4 around the centre
    // (responses from ~2 % to ~98 % of the full scale), so the components do
    // not start identical, with widths of 0.1 (a few per cent in E_tot):
    // Adam moves an output by ~lr per step, so outputs that start far from
    // their targets would still lag behind them after a short training.
    torch::NoGradGuard no_grad;
    out->weight.mul_(0.1);
    out->bias.zero_();
    if (components > 1) out->bias.slice(0, components, 2 * components).copy_(torch::linspace(-4.0, 4.0, components));
    out->bias.slice(0, 2 * components).fill_(std::log(0.1));
  }
  net_->push_back(out);
}

TotalEnergyDensityImpl::Mixture TotalEnergyDensityImpl::mixture(const torch::Tensor& scaled_energy) {
  const torch::Tensor h = net_->forward(scaled_energy.reshape({-1, 1}));
  Mixture m;
  m.log_weights = torch::log_softmax(h.slice(1, 0, components_), 1);
  m.means = h.slice(1, components_, 2 * components_) + centre_;
  m.log_widths = h.slice(1, 2 * components_).clamp(kLogWidthMin, kLogWidthMax);
  return m;
}

torch::Tensor TotalEnergyDensityImpl::log_prob(const torch::Tensor& scaled_energy, const torch::Tensor& total) {
  const Mixture m = mixture(scaled_energy);
  const torch::Tensor z = (total.reshape({-1, 1}).to(m.means.scalar_type()) - m.means) * torch::exp(-m.log_widths);
  const double half_log_two_pi = 0.5 * std::log(2.0 * kPi);
  return torch::logsumexp(m.log_weights - m.log_widths - half_log_two_pi - 0.5 * z * z, 1);
}

torch::Tensor TotalEnergyDensityImpl::sample(const torch::Tensor& scaled_energy, const torch::Tensor& uniforms) {
  TORCH_CHECK(uniforms.dim() == 2 && uniforms.size(1) == 3 && uniforms.size(0) == scaled_energy.size(0),
              "TotalEnergyDensity::sample: one row of 3 uniforms per energy is needed");
  const Mixture m = mixture(scaled_energy);
  const torch::Tensor u = uniforms.to(m.means.scalar_type()).clamp(1e-12, 1.0 - 1e-12);
  // Component: the first whose cumulative weight exceeds u0 (the last if rounding leaves none).
  const torch::Tensor cumulative = torch::cumsum(torch::exp(m.log_weights), 1);
  const torch::Tensor component =
      (cumulative < u.select(1, 0).unsqueeze(1)).sum(1, true).clamp_max(components_ - 1);
  const torch::Tensor normal =
      torch::sqrt(-2.0 * torch::log(u.select(1, 1))) * torch::cos(2.0 * kPi * u.select(1, 2));
  return m.means.gather(1, component) + torch::exp(m.log_widths.gather(1, component)) * normal.unsqueeze(1);
}

std::string TotalEnergyDensityImpl::describe() const {
  std::ostringstream os;
  os << "Total-energy density: MLP on the scaled ln E (1";
  for (int h : hidden_) os << " -> " << h;
  os << ", ReLU) -> " << components_ << " Gaussian components over the logit-transformed total (log-weights, means, "
     << "log-widths, the means measured from U = " << centre_
     << "); generation draws the total from it and the layer head distributes it over the layers.\n";
  return os.str();
}

}  // namespace qvae::model
