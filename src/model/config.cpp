// [model], [rbm] and [loss] config keys -> ModelConfig.
#include "qvae/model/config.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <sstream>

#include "qvae/core/config_binder.hpp"
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

std::string join(const std::vector<int>& values) {
  std::ostringstream os;
  for (std::size_t i = 0; i < values.size(); ++i) os << (i ? "," : "") << values[i];
  return os.str();
}

void require(bool ok, const std::string& what, const std::string& remedy) {
  if (!ok) throw core::UsageError(core::describe(what, "in the [model]/[rbm]/[loss] settings", remedy));
}

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

namespace {

using Binder = core::ConfigBinder<ModelConfig>;

std::function<std::string(const ModelConfig&)> int_list_text(std::vector<int> ModelConfig::*member) {
  return [member](const ModelConfig& m) { return join(m.*member); };
}
std::function<void(ModelConfig&, const std::string&)> int_list_parser(const char* key,
                                                                      std::vector<int> ModelConfig::*member) {
  return [key, member](ModelConfig& m, const std::string& text) { m.*member = parse_int_list(text, key); };
}

std::string energy_code_widths_text(const ModelConfig& m) {
  const data::EnergyCodeWidths& w = m.energy_code_widths;
  return w.total() == 0 ? "auto" : join({w.linear, w.sqrt, w.log});
}
void parse_energy_code_widths(ModelConfig& m, const std::string& text) {
  if (text == "auto") {
    m.energy_code_widths = {0, 0, 0};
    return;
  }
  const auto bits = parse_int_list(text, "model.energy_code_widths");
  require(bits.size() == 3, "model.energy_code_widths needs 3 values or auto", "e.g. 20,20,20");
  m.energy_code_widths = {bits[0], bits[1], bits[2]};
}

std::string fraction_scale_text(const ModelConfig& m) {
  return m.fraction_scale == 0 ? "auto" : core::real_text(m.fraction_scale);
}
void parse_fraction_scale(ModelConfig& m, const std::string& text) {
  if (text == "auto") {
    m.fraction_scale = 0.0;
    return;
  }
  const std::optional<double> scale = core::to_number<double>(text);
  if (!scale)
    throw core::UsageError(core::describe("model.fraction_scale = '" + text + "' is neither auto nor a number", "",
                                          "use auto or a number >= 1"));
  m.fraction_scale = *scale;
}

/// The [model], [rbm] and [loss] keys, each bound to its ModelConfig member (whose default it takes).
const Binder& model_keys() {
  static const Binder keys = [] {
    Binder k;
    k.choice("model.encoder", "encoder: hierarchical 3-D CNN with periodic/centre padding (regular geometries) or MLP",
             {NetworkKind::cnn, NetworkKind::fcn}, &ModelConfig::encoder)
        .choice("model.decoder", "decoder: 3-D transposed CNN with two heads, or MLP with two heads",
                {NetworkKind::cnn, NetworkKind::fcn}, &ModelConfig::decoder)
        .choice("model.conditioning",
                "how E_inc enters the networks: none, encoder (concat), encoder+decoder (concat), additive, film",
                {Conditioning::none, Conditioning::encoder, Conditioning::encoder_decoder, Conditioning::additive,
                 Conditioning::film},
                &ModelConfig::conditioning)
        .choice("model.prior_conditioning",
                "clamped: partition 0 holds the binary energy code; none: all partitions are encoded",
                {PriorConditioning::clamped, PriorConditioning::none}, &ModelConfig::prior_conditioning)
        .choice("model.voxel_posenc", "sin/cos positional encoding of (layer, alpha, r) added to u",
                {VoxelPosEnc::none, VoxelPosEnc::sincos}, &ModelConfig::voxel_posenc)
        .value("model.voxel_posenc_scale", "factor on the voxel positional encoding", &ModelConfig::voxel_posenc_scale)
        .text("model.cnn_encoder_channels", "output channels of encoder convs 1-4",
              int_list_text(&ModelConfig::cnn_encoder_channels),
              int_list_parser("model.cnn_encoder_channels", &ModelConfig::cnn_encoder_channels))
        .text("model.cnn_decoder_channels", "output channels of the decoder's 2 trunk and 2 head transposed convs",
              int_list_text(&ModelConfig::cnn_decoder_channels),
              int_list_parser("model.cnn_decoder_channels", &ModelConfig::cnn_decoder_channels))
        .text("model.fcn_encoder_hidden", "hidden widths of each MLP encoder level",
              int_list_text(&ModelConfig::fcn_encoder_hidden),
              int_list_parser("model.fcn_encoder_hidden", &ModelConfig::fcn_encoder_hidden))
        .text("model.fcn_decoder_hidden", "hidden widths of the MLP decoder; the last one is duplicated per head",
              int_list_text(&ModelConfig::fcn_decoder_hidden),
              int_list_parser("model.fcn_decoder_hidden", &ModelConfig::fcn_decoder_hidden))
        .value("model.energy_embedding_dim", "dimension of the sin/cos embedding of ln E (additive, film)",
               &ModelConfig::energy_embedding_dim)
        .value("model.energy_log_min", "a of trans_energy (ln E - a)/(b - a)", &ModelConfig::energy_log_min)
        .value("model.energy_log_max", "b of trans_energy (ln E - a)/(b - a)", &ModelConfig::energy_log_max)
        .text("model.energy_code_widths",
              "bits of floor(E), floor(sqrt(10E)), floor(e^10 ln E) in partition 0, or auto (minimal for "
              "energy_code_max_mev)",
              energy_code_widths_text, parse_energy_code_widths)
        .value("model.energy_code_max_mev", "largest incident energy the code must represent without wrapping, MeV",
               &ModelConfig::energy_code_max_mev)
        .value("model.logit_r", "R of the reduce/logit transform", &ModelConfig::logit_r)
        .text("model.fraction_scale",
              "voxels enter the logit transform as fractions of this x E_inc (>= 1); auto: qvae train takes the "
              "smallest power of two covering the training file's largest E_vox/E_inc",
              fraction_scale_text, parse_fraction_scale)
        .value("model.logit_clamp", "encoder logits are clamped to +-this", &ModelConfig::logit_clamp)
        .choice("model.relaxation", "relaxation of the posterior samples",
                {RelaxationKind::gumbel, RelaxationKind::spike_exp, RelaxationKind::mixture_exp},
                &ModelConfig::relaxation)
        .value("model.beta_start", "relaxation beta at the start of annealing", &ModelConfig::beta,
               &LinearAnneal::start)
        .value("model.beta_end", "relaxation beta at the end of annealing", &ModelConfig::beta, &LinearAnneal::end)
        .value("model.slope_start", "LeakyReLU slope of the energy output at the start", &ModelConfig::slope,
               &LinearAnneal::start)
        .value("model.slope_end", "LeakyReLU slope at the end of annealing", &ModelConfig::slope, &LinearAnneal::end)
        .value("model.anneal_epoch_start", "annealing of beta and slope starts after this epoch", &ModelConfig::beta,
               &LinearAnneal::epoch_start)
        .value("model.anneal_epoch_end", "annealing reaches beta_end and slope_end at this epoch", &ModelConfig::beta,
               &LinearAnneal::epoch_end)
        .choice("model.layer_energies",
                "predicted: a decoder head predicts every layer's energy and decoded showers are scaled layer by layer "
                "to it",
                {LayerEnergies::none, LayerEnergies::predicted}, &ModelConfig::layer_energies)
        .text("model.layer_head_hidden",
              "hidden widths of the layer-energy head (MLP on the latent and the scaled energy)",
              int_list_text(&ModelConfig::layer_head_hidden),
              int_list_parser("model.layer_head_hidden", &ModelConfig::layer_head_hidden))
        .choice(
            "model.total_energy",
            "with predicted layer energies, where a shower's total comes from: latent (the layer head reads it off the "
            "latent, so the prior must carry it) or mixture (a Gaussian mixture p(U_tot | E_inc) beside the decoder; "
            "the "
            "layer head is conditioned on U_tot: the data's in training, a draw at generation)",
            {TotalEnergy::latent, TotalEnergy::mixture}, &ModelConfig::total_energy)
        .value("model.total_mixture_components", "Gaussian components of the total-energy mixture",
               &ModelConfig::total_mixture_components)
        .text("model.total_mixture_hidden",
              "hidden widths of the MLP from the scaled ln E_inc to the mixture's weights, means and widths",
              int_list_text(&ModelConfig::total_mixture_hidden),
              int_list_parser("model.total_mixture_hidden", &ModelConfig::total_mixture_hidden))
        .choice("model.hit_gating",
                "training output: energies times the true hit mask (teacher forcing) or times relaxed hit samples",
                {HitGating::true_mask, HitGating::smoothed}, &ModelConfig::hit_gating)
        .value(
            "model.decoder_voxel_bias",
            "CNN decoder: add a learnt bias per voxel to the hit logits and the energy outputs; transposed "
            "convolutions "
            "give the voxels at the alpha seam and at the outer r ring fewer contributions than their neighbours, and "
            "this lets the model correct what they cannot",
            &ModelConfig::decoder_voxel_bias)
        .value("model.hit_smoothing_beta", "beta of sigmoid(beta (hits + noise)) when hit_gating = smoothed",
               &ModelConfig::hit_smoothing_beta)
        .value("rbm.partitions", "partitions K of the Boltzmann machine", &ModelConfig::rbm, &PriorConfig::partitions)
        .value("rbm.nodes_per_partition", "nodes per partition", &ModelConfig::rbm, &PriorConfig::nodes_per_partition)
        .value("rbm.topology", "hardware graph the couplings follow", &ModelConfig::rbm, &PriorConfig::topology)
        .among({"pegasus", "zephyr", "chimera"})
        .value("rbm.graph_size", "m of the hardware graph", &ModelConfig::rbm, &PriorConfig::graph_size)
        .value("rbm.graph_t", "shore size t (zephyr, chimera)", &ModelConfig::rbm, &PriorConfig::graph_t)
        .value("rbm.scheme", "colouring scheme of the partition selection (default per topology)", &ModelConfig::rbm,
               &PriorConfig::scheme)
        .value("rbm.file", "start from this qvae-rbm file instead of a fresh prior", &ModelConfig::rbm,
               &PriorConfig::file)
        .value("rbm.init_weight_sigma", "std of the initial couplings", &ModelConfig::rbm,
               &PriorConfig::init_weight_sigma)
        .value("rbm.init_bias_sigma", "std of the initial biases", &ModelConfig::rbm, &PriorConfig::init_bias_sigma)
        .choice("rbm.update",
                "RBM training: centred gradient with SGD or Adam ascent, or autograd through the negative phase",
                {RbmUpdate::centred_sgd, RbmUpdate::centred_adam, RbmUpdate::autograd}, &ModelConfig::rbm,
                &PriorConfig::update)
        .value("rbm.lr", "learning rate of the RBM update", &ModelConfig::rbm, &PriorConfig::lr)
        .value("rbm.weight_decay", "gamma in theta <- theta (1 - gamma) + step", &ModelConfig::rbm,
               &PriorConfig::weight_decay)
        .value("rbm.adam_beta1", "Adam beta1 (centred_adam)", &ModelConfig::rbm, &PriorConfig::adam_beta1)
        .value("rbm.adam_beta2", "Adam beta2 (centred_adam)", &ModelConfig::rbm, &PriorConfig::adam_beta2)
        .value("rbm.adam_eps", "Adam epsilon (centred_adam)", &ModelConfig::rbm, &PriorConfig::adam_eps)
        .value("rbm.mean_clamp", "means clamped to [c, 1-c] in the centred gradient", &ModelConfig::rbm,
               &PriorConfig::mean_clamp)
        .value("rbm.gibbs_steps", "block-Gibbs sweeps of the negative phase", &ModelConfig::rbm,
               &PriorConfig::gibbs_steps)
        .choice("rbm.negative_chains",
                "negative-phase chains start from the posterior samples (cd), persist (pcd) or start at random",
                {NegativeChains::cd, NegativeChains::pcd, NegativeChains::random}, &ModelConfig::rbm,
                &PriorConfig::negative_chains)
        .value("rbm.generation_gibbs_steps", "block-Gibbs sweeps before decoding a generated shower", &ModelConfig::rbm,
               &PriorConfig::generation_gibbs_steps)
        .value("loss.mse_coefficient", "coefficient of the weighted MSE", &ModelConfig::loss,
               &LossConfig::mse_coefficient)
        .value("loss.mse_weight", "w of the exp(w u) voxel weight", &ModelConfig::loss, &LossConfig::mse_weight)
        .value("loss.mse_interpolation", "lambda of (1 - lambda + lambda sigma^2)", &ModelConfig::loss,
               &LossConfig::mse_interpolation)
        .value("loss.hit_coefficient", "factor on the hit BCE", &ModelConfig::loss, &LossConfig::hit_coefficient)
        .value(
            "loss.total_coefficient",
            "layer head: factor on the squared error of the total energy in logit units (1/(2 sigma^2) for a relative "
            "precision sigma)",
            &ModelConfig::loss, &LossConfig::total_coefficient)
        .value("loss.layer_coefficient", "layer head: factor on the cross-entropy of the layer fractions",
               &ModelConfig::loss, &LossConfig::layer_coefficient)
        .value(
            "loss.total_nll_coefficient",
            "model.total_energy = mixture: factor on the negative log-likelihood of the data's total under the mixture",
            &ModelConfig::loss, &LossConfig::total_nll_coefficient)
        .value("loss.hit_alpha", "alpha of the per-event hit weight e^(alpha - gamma s)", &ModelConfig::loss,
               &LossConfig::hit_alpha)
        .value("loss.hit_gamma", "gamma of the per-event hit weight (s = zero fraction)", &ModelConfig::loss,
               &LossConfig::hit_gamma)
        .value("loss.hit_weight_power", "p of the voxel BCE weight (1 + u)^p", &ModelConfig::loss,
               &LossConfig::hit_weight_power)
        .value("loss.kl_weight", "gamma_KL on the KL terms", &ModelConfig::loss, &LossConfig::kl_weight);
    return k;
  }();
  return keys;
}

}  // namespace

void add_model_keys(core::ConfigSchema& schema) { model_keys().add_keys(schema); }

ModelConfig model_config_from(const core::Config& config) {
  ModelConfig m = model_keys().read(config);
  // One pair of keys times both anneals.
  m.slope.epoch_start = m.beta.epoch_start;
  m.slope.epoch_end = m.beta.epoch_end;
  m.validate();
  return m;
}

}  // namespace qvae::model
