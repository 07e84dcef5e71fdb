// [model], [rbm] and [loss] config keys -> ModelConfig.
#include "qvae/model/config.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "qvae/core/choices.hpp"
#include "qvae/core/config.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/lists.hpp"

namespace qvae::model {

const char* to_string(NetworkKind kind) { return kind == NetworkKind::cnn ? "cnn" : "fcn"; }
const char* to_string(Conditioning kind) {
  switch (kind) {
    case Conditioning::none:
      return "none";
    case Conditioning::encoder:
      return "encoder";
    case Conditioning::encoder_decoder:
      return "encoder+decoder";
    case Conditioning::additive:
      return "additive";
    case Conditioning::film:
      return "film";
  }
  return "?";
}
const char* to_string(PriorConditioning kind) { return kind == PriorConditioning::clamped ? "clamped" : "none"; }
const char* to_string(RelaxationKind kind) {
  switch (kind) {
    case RelaxationKind::gumbel:
      return "gumbel";
    case RelaxationKind::spike_exp:
      return "spike_exp";
    case RelaxationKind::mixture_exp:
      return "mixture_exp";
  }
  return "?";
}
const char* to_string(VoxelPosEnc kind) { return kind == VoxelPosEnc::sincos ? "sincos" : "none"; }
const char* to_string(LayerEnergies kind) { return kind == LayerEnergies::none ? "none" : "predicted"; }
const char* to_string(TotalEnergy kind) { return kind == TotalEnergy::latent ? "latent" : "mixture"; }
const char* to_string(HitGating kind) { return kind == HitGating::true_mask ? "true_mask" : "smoothed"; }
const char* to_string(RbmUpdate kind) {
  switch (kind) {
    case RbmUpdate::centred_sgd:
      return "centred_sgd";
    case RbmUpdate::centred_adam:
      return "centred_adam";
    case RbmUpdate::autograd:
      return "autograd";
  }
  return "?";
}
const char* to_string(NegativeChains kind) {
  switch (kind) {
    case NegativeChains::cd:
      return "cd";
    case NegativeChains::pcd:
      return "pcd";
    case NegativeChains::random:
      return "random";
  }
  return "?";
}

bool encoder_sees_energy(Conditioning kind) { return kind != Conditioning::none; }
bool decoder_sees_energy(Conditioning kind) {
  return kind == Conditioning::encoder_decoder || kind == Conditioning::additive || kind == Conditioning::film;
}

double LinearAnneal::at(int epoch, std::int64_t batch, std::int64_t batches_per_epoch) const {
  if (epoch <= epoch_start || epoch_end <= epoch_start || batches_per_epoch <= 0) return start;
  const double progress =
      (static_cast<double>(epoch - 1) * static_cast<double>(batches_per_epoch) + static_cast<double>(batch)) /
      (static_cast<double>(epoch_end - epoch_start) * static_cast<double>(batches_per_epoch));
  const double value = start + (end - start) * progress;
  return start <= end ? std::clamp(value, start, end) : std::clamp(value, end, start);
}

namespace {

using core::ConfigKey;
using core::ValueType;

std::string join(const std::vector<int>& values) {
  std::ostringstream os;
  for (std::size_t i = 0; i < values.size(); ++i) os << (i ? "," : "") << values[i];
  return os.str();
}

std::string real(double value) {
  std::ostringstream os;
  os.precision(15);
  os << value;
  return os.str();
}

void require(bool ok, const std::string& what, const std::string& remedy) {
  if (!ok) throw core::UsageError(core::describe(what, "in the [model]/[rbm]/[loss] settings", remedy));
}

using core::parse_choice;

}  // namespace

double auto_fraction_scale(double max_fraction) {
  double scale = 1.0;
  while (scale < max_fraction && scale < 1e300) scale *= 2.0;
  return scale;
}

std::vector<int> parse_int_list(const std::string& text, const std::string& key) {
  const std::string remedy = "give a comma-separated list of positive integers, e.g. 32,64,128";
  const std::vector<int> values = core::parse_list<int>(text, key, remedy);
  if (values.empty()) throw core::UsageError(core::describe(key + " is empty", "", remedy));
  for (int value : values)
    if (value <= 0 || value > 1000000) throw core::UsageError(core::describe(key + " has '" + text + "'", "", remedy));
  return values;
}

void ModelConfig::validate() const {
  require(rbm.partitions >= 2, "rbm.partitions must be >= 2", "the reference prior has 4");
  require(rbm.nodes_per_partition >= 1, "rbm.nodes_per_partition must be >= 1", "the reference uses 302");
  require(cnn_encoder_channels.size() == 4, "model.cnn_encoder_channels needs 4 values (convs 1-4)",
          "e.g. 32,64,128,256");
  require(cnn_decoder_channels.size() == 4,
          "model.cnn_decoder_channels needs 4 values (2 trunk + 2 head transposed convs)", "e.g. 512,128,64,32");
  require(!fcn_encoder_hidden.empty(), "model.fcn_encoder_hidden needs at least one layer", "e.g. 500,450,400");
  require(fcn_decoder_hidden.size() >= 2, "model.fcn_decoder_hidden needs at least 2 layers (shared + per head)",
          "e.g. 800,700,600,550,500");
  require(energy_embedding_dim >= 2 && energy_embedding_dim % 2 == 0,
          "model.energy_embedding_dim must be even and >= 2", "e.g. 16");
  require(std::isfinite(energy_log_min) && std::isfinite(energy_log_max) && energy_log_min < energy_log_max,
          "model.energy_log_min must be < model.energy_log_max", "ds2 uses 6 and 14");
  require(energy_code_max_mev > 1.0 && std::isfinite(energy_code_max_mev), "model.energy_code_max_mev must be > 1",
          "ds2 energies reach 1e6 MeV");
  require(logit_r > 0 && logit_r < 0.5, "model.logit_r must lie in (0, 0.5)", "the reference uses 1e-7");
  require(fraction_scale == 0 || (std::isfinite(fraction_scale) && fraction_scale >= 1),
          "model.fraction_scale must be auto or a number >= 1", "use auto, or 1 for showers with E_vox <= E_inc");
  require(logit_clamp > 0, "model.logit_clamp must be > 0", "the reference clamps at 88");
  require(beta.start > 0 && beta.end > 0, "model.beta_start and model.beta_end must be > 0", "e.g. 1 and 100");
  require(slope.start >= 0 && slope.end >= 0, "model.slope_start and model.slope_end must be >= 0", "e.g. 0.05 and 0");
  require(hit_smoothing_beta > 0, "model.hit_smoothing_beta must be > 0", "the reference FCN uses 60");
  require(!decoder_voxel_bias || decoder == NetworkKind::cnn, "model.decoder_voxel_bias needs model.decoder = cnn",
          "the MLP decoder's output layers have per-voxel biases");
  require(voxel_posenc_scale >= 0, "model.voxel_posenc_scale must be >= 0", "1 adds the encoding as in the reference");
  require(loss.layer_coefficient >= 0 && std::isfinite(loss.layer_coefficient) && loss.total_coefficient >= 0 &&
              std::isfinite(loss.total_coefficient),
          "loss.layer_coefficient and loss.total_coefficient must be >= 0", "e.g. 10 and 100");
  require(loss.total_nll_coefficient >= 0 && std::isfinite(loss.total_nll_coefficient),
          "loss.total_nll_coefficient must be >= 0", "e.g. 1");
  require(total_energy == TotalEnergy::latent || layer_energies == LayerEnergies::predicted,
          "model.total_energy = mixture needs model.layer_energies = predicted",
          "set model.layer_energies = predicted, or model.total_energy = latent");
  require(total_mixture_components >= 1 && total_mixture_components <= 64,
          "model.total_mixture_components must lie in [1, 64]", "e.g. 8");
  require(loss.mse_coefficient >= 0 && loss.hit_coefficient >= 0 && loss.kl_weight >= 0,
          "loss coefficients must be >= 0", "the reference uses 0.01, 1 and 1");
  require(loss.mse_interpolation >= 0 && loss.mse_interpolation <= 1, "loss.mse_interpolation must lie in [0, 1]",
          "the reference uses 1");
  require(rbm.lr > 0, "rbm.lr must be > 0", "the reference uses 0.01");
  require(rbm.weight_decay >= 0 && rbm.weight_decay < 1, "rbm.weight_decay must lie in [0, 1)", "e.g. 0 or 1e-3");
  require(rbm.adam_beta1 >= 0 && rbm.adam_beta1 < 1 && rbm.adam_beta2 >= 0 && rbm.adam_beta2 < 1 && rbm.adam_eps > 0,
          "rbm.adam_beta1/beta2 must lie in [0, 1) and rbm.adam_eps be > 0", "defaults 0.9, 0.999, 1e-8");
  require(rbm.mean_clamp >= 0 && rbm.mean_clamp < 0.5, "rbm.mean_clamp must lie in [0, 0.5)",
          "the reference uses 1e-4");
  require(rbm.gibbs_steps >= 1 && rbm.generation_gibbs_steps >= 1,
          "rbm.gibbs_steps and rbm.generation_gibbs_steps must be >= 1", "the reference uses 3000");
  require(rbm.init_weight_sigma >= 0 && rbm.init_bias_sigma >= 0, "rbm.init_*_sigma must be >= 0", "e.g. 1");
  const bool auto_widths =
      energy_code_widths.linear == 0 && energy_code_widths.sqrt == 0 && energy_code_widths.log == 0;
  if (prior_conditioning == PriorConditioning::clamped) {
    const int copy =
        auto_widths ? data::BinaryEnergyCode::minimal_widths(energy_code_max_mev).total() : energy_code_widths.total();
    require(copy <= rbm.nodes_per_partition,
            "the binary energy code (" + std::to_string(copy) + " bits) does not fit partition 0 of " +
                std::to_string(rbm.nodes_per_partition) + " nodes",
            "raise rbm.nodes_per_partition or narrow model.energy_code_widths");
  }
}

void add_model_keys(core::ConfigSchema& schema) {
  const ModelConfig d;  // the documented defaults
  auto add = [&](const char* name, ValueType type, std::string value, const char* help,
                 std::vector<std::string> choices = {}) {
    schema.add(ConfigKey{name, type, std::move(value), help, std::move(choices)});
  };
  // [model] architecture
  add("model.encoder", ValueType::string, "cnn",
      "encoder: hierarchical 3-D CNN with periodic/centre padding (regular geometries) or MLP", {"cnn", "fcn"});
  add("model.decoder", ValueType::string, "cnn", "decoder: 3-D transposed CNN with two heads, or MLP with two heads",
      {"cnn", "fcn"});
  add("model.conditioning", ValueType::string, "encoder+decoder",
      "how E_inc enters the networks: none, encoder (concat), encoder+decoder (concat), additive, film",
      {"none", "encoder", "encoder+decoder", "additive", "film"});
  add("model.prior_conditioning", ValueType::string, "clamped",
      "clamped: partition 0 holds the binary energy code; none: all partitions are encoded", {"clamped", "none"});
  add("model.voxel_posenc", ValueType::string, "none", "sin/cos positional encoding of (layer, alpha, r) added to u",
      {"none", "sincos"});
  add("model.voxel_posenc_scale", ValueType::real, real(d.voxel_posenc_scale),
      "factor on the voxel positional encoding");
  add("model.cnn_encoder_channels", ValueType::string, join(d.cnn_encoder_channels),
      "output channels of encoder convs 1-4");
  add("model.cnn_decoder_channels", ValueType::string, join(d.cnn_decoder_channels),
      "output channels of the decoder's 2 trunk and 2 head transposed convs");
  add("model.fcn_encoder_hidden", ValueType::string, join(d.fcn_encoder_hidden),
      "hidden widths of each MLP encoder level");
  add("model.fcn_decoder_hidden", ValueType::string, join(d.fcn_decoder_hidden),
      "hidden widths of the MLP decoder; the last one is duplicated per head");
  add("model.energy_embedding_dim", ValueType::integer, std::to_string(d.energy_embedding_dim),
      "dimension of the sin/cos embedding of ln E (additive, film)");
  add("model.energy_log_min", ValueType::real, real(d.energy_log_min), "a of trans_energy (ln E - a)/(b - a)");
  add("model.energy_log_max", ValueType::real, real(d.energy_log_max), "b of trans_energy (ln E - a)/(b - a)");
  add("model.energy_code_widths", ValueType::string, "20,20,20",
      "bits of floor(E), floor(sqrt(10E)), floor(e^10 ln E) in partition 0, or auto (minimal for energy_code_max_mev)");
  add("model.energy_code_max_mev", ValueType::real, real(d.energy_code_max_mev),
      "largest incident energy the code must represent without wrapping, MeV");
  add("model.logit_r", ValueType::real, real(d.logit_r), "R of the reduce/logit transform");
  add("model.fraction_scale", ValueType::string, "auto",
      "voxels enter the logit transform as fractions of this x E_inc (>= 1); auto: qvae train takes the smallest "
      "power of two covering the training file's largest E_vox/E_inc");
  add("model.logit_clamp", ValueType::real, real(d.logit_clamp), "encoder logits are clamped to +-this");
  add("model.relaxation", ValueType::string, "gumbel", "relaxation of the posterior samples",
      {"gumbel", "spike_exp", "mixture_exp"});
  add("model.beta_start", ValueType::real, real(d.beta.start), "relaxation beta at the start of annealing");
  add("model.beta_end", ValueType::real, real(d.beta.end), "relaxation beta at the end of annealing");
  add("model.slope_start", ValueType::real, real(d.slope.start), "LeakyReLU slope of the energy output at the start");
  add("model.slope_end", ValueType::real, real(d.slope.end), "LeakyReLU slope at the end of annealing");
  add("model.anneal_epoch_start", ValueType::integer, std::to_string(d.beta.epoch_start),
      "annealing of beta and slope starts after this epoch");
  add("model.anneal_epoch_end", ValueType::integer, std::to_string(d.beta.epoch_end),
      "annealing reaches beta_end and slope_end at this epoch");
  add("model.layer_energies", ValueType::string, "none",
      "predicted: a decoder head predicts every layer's energy and decoded showers are scaled layer by layer to it",
      {"none", "predicted"});
  add("model.layer_head_hidden", ValueType::string, join(d.layer_head_hidden),
      "hidden widths of the layer-energy head (MLP on the latent and the scaled energy)");
  add("model.total_energy", ValueType::string, "latent",
      "with predicted layer energies, where a shower's total comes from: latent (the layer head reads it off the "
      "latent, so the prior must carry it) or mixture (a Gaussian mixture p(U_tot | E_inc) beside the decoder; the "
      "layer head is conditioned on U_tot: the data's in training, a draw at generation)",
      {"latent", "mixture"});
  add("model.total_mixture_components", ValueType::integer, std::to_string(d.total_mixture_components),
      "Gaussian components of the total-energy mixture");
  add("model.total_mixture_hidden", ValueType::string, join(d.total_mixture_hidden),
      "hidden widths of the MLP from the scaled ln E_inc to the mixture's weights, means and widths");
  add("model.hit_gating", ValueType::string, "true_mask",
      "training output: energies times the true hit mask (teacher forcing) or times relaxed hit samples",
      {"true_mask", "smoothed"});
  add("model.decoder_voxel_bias", ValueType::boolean, d.decoder_voxel_bias ? "true" : "false",
      "CNN decoder: add a learnt bias per voxel to the hit logits and the energy outputs; transposed convolutions "
      "give the voxels at the alpha seam and at the outer r ring fewer contributions than their neighbours, and "
      "this lets the model correct what they cannot");
  add("model.hit_smoothing_beta", ValueType::real, real(d.hit_smoothing_beta),
      "beta of sigmoid(beta (hits + noise)) when hit_gating = smoothed");

  // [rbm] the prior as the model uses it
  add("rbm.partitions", ValueType::integer, std::to_string(d.rbm.partitions), "partitions K of the Boltzmann machine");
  add("rbm.nodes_per_partition", ValueType::integer, std::to_string(d.rbm.nodes_per_partition), "nodes per partition");
  add("rbm.topology", ValueType::string, d.rbm.topology, "hardware graph the couplings follow",
      {"pegasus", "zephyr", "chimera"});
  add("rbm.graph_size", ValueType::integer, std::to_string(d.rbm.graph_size), "m of the hardware graph");
  add("rbm.graph_t", ValueType::integer, std::to_string(d.rbm.graph_t), "shore size t (zephyr, chimera)");
  add("rbm.scheme", ValueType::string, d.rbm.scheme,
      "colouring scheme of the partition selection (default per topology)");
  add("rbm.file", ValueType::string, "", "start from this qvae-rbm file instead of a fresh prior");
  add("rbm.init_weight_sigma", ValueType::real, real(d.rbm.init_weight_sigma), "std of the initial couplings");
  add("rbm.init_bias_sigma", ValueType::real, real(d.rbm.init_bias_sigma), "std of the initial biases");
  add("rbm.update", ValueType::string, "centred_sgd",
      "RBM training: centred gradient with SGD or Adam ascent, or autograd through the negative phase",
      {"centred_sgd", "centred_adam", "autograd"});
  add("rbm.lr", ValueType::real, real(d.rbm.lr), "learning rate of the RBM update");
  add("rbm.weight_decay", ValueType::real, real(d.rbm.weight_decay), "gamma in theta <- theta (1 - gamma) + step");
  add("rbm.adam_beta1", ValueType::real, real(d.rbm.adam_beta1), "Adam beta1 (centred_adam)");
  add("rbm.adam_beta2", ValueType::real, real(d.rbm.adam_beta2), "Adam beta2 (centred_adam)");
  add("rbm.adam_eps", ValueType::real, real(d.rbm.adam_eps), "Adam epsilon (centred_adam)");
  add("rbm.mean_clamp", ValueType::real, real(d.rbm.mean_clamp), "means clamped to [c, 1-c] in the centred gradient");
  add("rbm.gibbs_steps", ValueType::integer, std::to_string(d.rbm.gibbs_steps),
      "block-Gibbs sweeps of the negative phase");
  add("rbm.negative_chains", ValueType::string, "cd",
      "negative-phase chains start from the posterior samples (cd), persist (pcd) or start at random",
      {"cd", "pcd", "random"});
  add("rbm.generation_gibbs_steps", ValueType::integer, std::to_string(d.rbm.generation_gibbs_steps),
      "block-Gibbs sweeps before decoding a generated shower");

  // [loss]
  add("loss.mse_coefficient", ValueType::real, real(d.loss.mse_coefficient), "coefficient of the weighted MSE");
  add("loss.mse_weight", ValueType::real, real(d.loss.mse_weight), "w of the exp(w u) voxel weight");
  add("loss.mse_interpolation", ValueType::real, real(d.loss.mse_interpolation),
      "lambda of (1 - lambda + lambda sigma^2)");
  add("loss.hit_coefficient", ValueType::real, real(d.loss.hit_coefficient), "factor on the hit BCE");
  add("loss.total_coefficient", ValueType::real, real(d.loss.total_coefficient),
      "layer head: factor on the squared error of the total energy in logit units (1/(2 sigma^2) for a relative "
      "precision sigma)");
  add("loss.layer_coefficient", ValueType::real, real(d.loss.layer_coefficient),
      "layer head: factor on the cross-entropy of the layer fractions");
  add("loss.total_nll_coefficient", ValueType::real, real(d.loss.total_nll_coefficient),
      "model.total_energy = mixture: factor on the negative log-likelihood of the data's total under the mixture");
  add("loss.hit_alpha", ValueType::real, real(d.loss.hit_alpha),
      "alpha of the per-event hit weight e^(alpha - gamma s)");
  add("loss.hit_gamma", ValueType::real, real(d.loss.hit_gamma),
      "gamma of the per-event hit weight (s = zero fraction)");
  add("loss.hit_weight_power", ValueType::real, real(d.loss.hit_weight_power), "p of the voxel BCE weight (1 + u)^p");
  add("loss.kl_weight", ValueType::real, real(d.loss.kl_weight), "gamma_KL on the KL terms");
}

ModelConfig model_config_from(const core::Config& config) {
  ModelConfig m;
  m.encoder = parse_choice(config.get_string("model.encoder"), {NetworkKind::fcn, NetworkKind::cnn}, "model.encoder");
  m.decoder = parse_choice(config.get_string("model.decoder"), {NetworkKind::fcn, NetworkKind::cnn}, "model.decoder");
  m.conditioning = parse_choice(config.get_string("model.conditioning"),
                                {Conditioning::none, Conditioning::encoder, Conditioning::encoder_decoder,
                                 Conditioning::additive, Conditioning::film},
                                "model.conditioning");
  m.prior_conditioning =
      parse_choice(config.get_string("model.prior_conditioning"), {PriorConditioning::clamped, PriorConditioning::none},
                   "model.prior_conditioning");
  m.voxel_posenc = parse_choice(config.get_string("model.voxel_posenc"), {VoxelPosEnc::none, VoxelPosEnc::sincos},
                                "model.voxel_posenc");
  m.voxel_posenc_scale = config.get_real("model.voxel_posenc_scale");
  m.cnn_encoder_channels =
      parse_int_list(config.get_string("model.cnn_encoder_channels"), "model.cnn_encoder_channels");
  m.cnn_decoder_channels =
      parse_int_list(config.get_string("model.cnn_decoder_channels"), "model.cnn_decoder_channels");
  m.fcn_encoder_hidden = parse_int_list(config.get_string("model.fcn_encoder_hidden"), "model.fcn_encoder_hidden");
  m.fcn_decoder_hidden = parse_int_list(config.get_string("model.fcn_decoder_hidden"), "model.fcn_decoder_hidden");
  m.energy_embedding_dim = static_cast<int>(config.get_int("model.energy_embedding_dim"));
  m.energy_log_min = config.get_real("model.energy_log_min");
  m.energy_log_max = config.get_real("model.energy_log_max");
  const std::string widths = config.get_string("model.energy_code_widths");
  if (widths == "auto") {
    m.energy_code_widths = {0, 0, 0};
  } else {
    const auto bits = parse_int_list(widths, "model.energy_code_widths");
    require(bits.size() == 3, "model.energy_code_widths needs 3 values or auto", "e.g. 20,20,20");
    m.energy_code_widths = {bits[0], bits[1], bits[2]};
  }
  m.energy_code_max_mev = config.get_real("model.energy_code_max_mev");
  m.logit_r = config.get_real("model.logit_r");
  const std::string scale = config.get_string("model.fraction_scale");
  if (scale == "auto") {
    m.fraction_scale = 0.0;
  } else {
    try {
      std::size_t used = 0;
      m.fraction_scale = std::stod(scale, &used);
      if (used != scale.size()) throw std::invalid_argument(scale);
    } catch (const std::exception&) {
      throw core::UsageError(core::describe("model.fraction_scale = '" + scale + "' is neither auto nor a number", "",
                                            "use auto or a number >= 1"));
    }
  }
  m.logit_clamp = config.get_real("model.logit_clamp");
  m.relaxation = parse_choice(config.get_string("model.relaxation"),
                              {RelaxationKind::gumbel, RelaxationKind::spike_exp, RelaxationKind::mixture_exp},
                              "model.relaxation");
  const int epoch_start = static_cast<int>(config.get_int("model.anneal_epoch_start"));
  const int epoch_end = static_cast<int>(config.get_int("model.anneal_epoch_end"));
  m.beta = {config.get_real("model.beta_start"), config.get_real("model.beta_end"), epoch_start, epoch_end};
  m.slope = {config.get_real("model.slope_start"), config.get_real("model.slope_end"), epoch_start, epoch_end};
  m.layer_energies = parse_choice(config.get_string("model.layer_energies"),
                                  {LayerEnergies::none, LayerEnergies::predicted}, "model.layer_energies");
  m.layer_head_hidden = parse_int_list(config.get_string("model.layer_head_hidden"), "model.layer_head_hidden");
  m.total_energy = parse_choice(config.get_string("model.total_energy"), {TotalEnergy::latent, TotalEnergy::mixture},
                                "model.total_energy");
  m.total_mixture_components = static_cast<int>(config.get_int("model.total_mixture_components"));
  m.total_mixture_hidden =
      parse_int_list(config.get_string("model.total_mixture_hidden"), "model.total_mixture_hidden");
  m.hit_gating = parse_choice(config.get_string("model.hit_gating"), {HitGating::true_mask, HitGating::smoothed},
                              "model.hit_gating");
  m.hit_smoothing_beta = config.get_real("model.hit_smoothing_beta");
  m.decoder_voxel_bias = config.get_bool("model.decoder_voxel_bias");

  m.rbm.partitions = static_cast<int>(config.get_int("rbm.partitions"));
  m.rbm.nodes_per_partition = static_cast<int>(config.get_int("rbm.nodes_per_partition"));
  m.rbm.topology = config.get_string("rbm.topology");
  m.rbm.graph_size = static_cast<int>(config.get_int("rbm.graph_size"));
  m.rbm.graph_t = static_cast<int>(config.get_int("rbm.graph_t"));
  m.rbm.scheme = config.get_string("rbm.scheme");
  m.rbm.file = config.get_string("rbm.file");
  m.rbm.init_weight_sigma = config.get_real("rbm.init_weight_sigma");
  m.rbm.init_bias_sigma = config.get_real("rbm.init_bias_sigma");
  m.rbm.update = parse_choice(config.get_string("rbm.update"),
                              {RbmUpdate::centred_sgd, RbmUpdate::centred_adam, RbmUpdate::autograd}, "rbm.update");
  m.rbm.lr = config.get_real("rbm.lr");
  m.rbm.weight_decay = config.get_real("rbm.weight_decay");
  m.rbm.adam_beta1 = config.get_real("rbm.adam_beta1");
  m.rbm.adam_beta2 = config.get_real("rbm.adam_beta2");
  m.rbm.adam_eps = config.get_real("rbm.adam_eps");
  m.rbm.mean_clamp = config.get_real("rbm.mean_clamp");
  m.rbm.gibbs_steps = static_cast<int>(config.get_int("rbm.gibbs_steps"));
  m.rbm.negative_chains =
      parse_choice(config.get_string("rbm.negative_chains"),
                   {NegativeChains::cd, NegativeChains::pcd, NegativeChains::random}, "rbm.negative_chains");
  m.rbm.generation_gibbs_steps = static_cast<int>(config.get_int("rbm.generation_gibbs_steps"));

  m.loss.mse_coefficient = config.get_real("loss.mse_coefficient");
  m.loss.mse_weight = config.get_real("loss.mse_weight");
  m.loss.mse_interpolation = config.get_real("loss.mse_interpolation");
  m.loss.hit_coefficient = config.get_real("loss.hit_coefficient");
  m.loss.layer_coefficient = config.get_real("loss.layer_coefficient");
  m.loss.total_coefficient = config.get_real("loss.total_coefficient");
  m.loss.total_nll_coefficient = config.get_real("loss.total_nll_coefficient");
  m.loss.hit_alpha = config.get_real("loss.hit_alpha");
  m.loss.hit_gamma = config.get_real("loss.hit_gamma");
  m.loss.hit_weight_power = config.get_real("loss.hit_weight_power");
  m.loss.kl_weight = config.get_real("loss.kl_weight");
  m.validate();
  return m;
}

}  // namespace qvae::model
