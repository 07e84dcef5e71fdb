// The decoder of the QVAE and the total-energy density of its energy head
// (networks.hpp; docs/model.md, "Decoders").
#include <cmath>
#include <sstream>

#include "qvae/core/error.hpp"
#include "qvae/data/transforms.hpp"
#include "qvae/geometry/geometry.hpp"
#include "qvae/model/networks.hpp"

namespace qvae::model {

DecoderImpl::DecoderImpl(const ModelConfig& config, const geometry::Geometry& geometry)
    : kind_(config.decoder), voxels_(static_cast<int>(geometry.voxels())), fcn_hidden_(config.fcn_decoder_hidden) {
  const ConditionMode condition = decoder_condition_mode(config.conditioning);
  const int latent = config.latent_size();
  if (kind_ == NetworkKind::cnn) {
    grid_ = regular_grid(geometry, "decoder");
    stages_ = plan_cnn_decoder(grid_, config.cnn_decoder_channels, latent, condition);
    auto transposed = [](const TransposedStage& s) {
      return torch::nn::ConvTranspose3d(
          torch::nn::ConvTranspose3dOptions(s.in_channels, s.out_channels, expand3(s.kernel))
              .stride(expand3(s.stride)));
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
    conditioner_ = register_module(
        "conditioner", EnergyConditioner(condition, config.cnn_decoder_channels[1], config.energy_embedding_dim));
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
  const torch::Tensor u = uniforms.to(m.means.device(), m.means.scalar_type()).clamp(1e-12, 1.0 - 1e-12);
  // Component: the first whose cumulative weight exceeds u0 (the last if rounding leaves none).
  const torch::Tensor cumulative = torch::cumsum(torch::exp(m.log_weights), 1);
  const torch::Tensor component = (cumulative < u.select(1, 0).unsqueeze(1)).sum(1, true).clamp_max(components_ - 1);
  const torch::Tensor normal = torch::sqrt(-2.0 * torch::log(u.select(1, 1))) * torch::cos(2.0 * kPi * u.select(1, 2));
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
