// Relaxations, the QVAE forward pass, loss terms, RBM update and generation
// (docs/model.md).
#include "qvae/model/qvae.hpp"

#include <cmath>
#include <sstream>

#include "qvae/core/error.hpp"
#include "qvae/core/philox.hpp"

namespace qvae::model {

// ---------------------------------------------------------------------------
// Uniforms and relaxations

torch::Tensor philox_uniform(std::uint64_t seed, std::uint32_t domain, const torch::Tensor& events, std::uint64_t step,
                             std::int64_t count, torch::Dtype dtype) {
  const bool wide = dtype == torch::kDouble;
  TORCH_CHECK(count <= (std::int64_t{1} << (wide ? 21 : 22)), "philox_uniform: too many values per event");
  const torch::Tensor ids = events.to(torch::kCPU, torch::kLong).contiguous().view({-1});
  const std::int64_t batch = ids.size(0);
  const std::int64_t* id = ids.data_ptr<std::int64_t>();
  const std::uint64_t counter = step << 20;
  if (wide) {
    torch::Tensor out = torch::empty({batch, count}, torch::kDouble);
    double* values = out.data_ptr<double>();
    for (std::int64_t b = 0; b < batch; ++b) {
      core::Philox rng(seed, core::stream_id(domain, static_cast<std::uint64_t>(id[b])), counter);
      for (std::int64_t k = 0; k < count; ++k) {
        const std::uint64_t hi = rng.next_u32(), lo = rng.next_u32();
        const std::uint64_t bits = ((hi << 21) ^ (lo >> 11)) & ((std::uint64_t{1} << 53) - 1);
        values[b * count + k] = (static_cast<double>(bits) + 0.5) * (1.0 / 9007199254740992.0);  // (0, 1)
      }
    }
    return out;
  }
  torch::Tensor out = torch::empty({batch, count}, torch::kFloat);
  float* values = out.data_ptr<float>();
  for (std::int64_t b = 0; b < batch; ++b) {
    core::Philox rng(seed, core::stream_id(domain, static_cast<std::uint64_t>(id[b])), counter);
    for (std::int64_t k = 0; k < count; ++k)
      values[b * count + k] = (static_cast<float>(rng.next_u32() >> 8) + 0.5f) * (1.0f / 16777216.0f);  // (0, 1)
  }
  return dtype == torch::kFloat ? out : out.to(dtype);
}

torch::Tensor logistic_noise(const torch::Tensor& uniform) { return torch::log(uniform) - torch::log1p(-uniform); }

namespace {

/// rho in double, kept strictly inside (0, 1).
torch::Tensor open_uniform(const torch::Tensor& uniform) {
  return uniform.to(torch::kDouble).clamp(1e-12, 1.0 - 1e-12);
}

constexpr double kTiny = 1e-300;

}  // namespace

torch::Tensor gumbel_relaxation(const torch::Tensor& logits, const torch::Tensor& uniform, double beta) {
  const torch::Tensor l = logits.to(torch::kDouble);
  return torch::sigmoid(beta * (l + logistic_noise(open_uniform(uniform)))).to(logits.scalar_type());
}

torch::Tensor spike_exp_relaxation(const torch::Tensor& logits, const torch::Tensor& uniform, double beta) {
  const torch::Tensor q = torch::sigmoid(logits.to(torch::kDouble)).clamp(1e-7, 1.0 - 1e-7);
  const torch::Tensor rho = open_uniform(uniform);
  // (1/beta) log(t (e^beta - 1) + 1) = 1 + (1/beta) log(t (1 - e^-beta) + e^-beta), t = (rho + q - 1)/q.
  const double decay = std::exp(-beta);
  const torch::Tensor t = ((rho + q - 1) / q).clamp(0.0, 1.0);
  const torch::Tensor slab = 1 + torch::log((t * (1 - decay) + decay).clamp_min(kTiny)) / beta;
  return torch::where(rho >= 1 - q, slab, torch::zeros_like(slab)).clamp(0.0, 1.0).to(logits.scalar_type());
}

torch::Tensor mixture_exp_relaxation(const torch::Tensor& logits, const torch::Tensor& uniform, double beta) {
  const torch::Tensor q = torch::sigmoid(logits.to(torch::kDouble)).clamp(1e-5, 1.0 - 1e-5);
  const torch::Tensor rho = open_uniform(uniform);
  const double decay = std::exp(-beta);
  const torch::Tensor b = (rho + decay * (q - rho)) / (1 - q) - 1;
  const torch::Tensor c = -q * decay / (1 - q);
  const torch::Tensor root_d = torch::sqrt(b * b - 4 * c);
  // log of the positive root of x^2 + B x + C (C < 0) without cancellation or
  // underflow: for B >= 0 the root is -2C/(B + sqrt(D)) with log(-2C) =
  // log(2Q/(1 - Q)) - beta.  Both branches are finite, so torch::where passes
  // finite gradients.
  const torch::Tensor log_root_positive_b =
      torch::log(2 * q / (1 - q)) - beta - torch::log((b.abs() + root_d).clamp_min(kTiny));
  const torch::Tensor log_root_negative_b = torch::log((b.abs() + root_d) / 2);
  const torch::Tensor log_root = torch::where(b >= 0, log_root_positive_b, log_root_negative_b);
  return (-log_root / beta).clamp(0.0, 1.0).to(logits.scalar_type());
}

torch::Tensor relax(RelaxationKind kind, const torch::Tensor& logits, const torch::Tensor& uniform, double beta) {
  switch (kind) {
    case RelaxationKind::gumbel:
      return gumbel_relaxation(logits, uniform, beta);
    case RelaxationKind::spike_exp:
      return spike_exp_relaxation(logits, uniform, beta);
    case RelaxationKind::mixture_exp:
      return mixture_exp_relaxation(logits, uniform, beta);
  }
  throw core::UsageError("unknown relaxation");
}

torch::Tensor hard_sample(const torch::Tensor& logits, const torch::Tensor& uniform) {
  return (logits.to(torch::kDouble) + logistic_noise(open_uniform(uniform)) > 0).to(logits.scalar_type());
}

// ---------------------------------------------------------------------------
// LossTerms

std::map<std::string, double> LossTerms::values() const {
  auto value = [](const torch::Tensor& t) { return t.defined() ? t.item<double>() : std::nan(""); };
  return {{"ae_loss", value(ae)},
          {"hit_loss", value(hit)},
          {"entropy", value(entropy)},
          {"pos_energy", value(pos_energy)},
          {"neg_energy", value(neg_energy)},
          {"kl_loss", value(kl)},
          {"layer_loss", value(layer)},
          {"loss", value(total)}};
}

// ---------------------------------------------------------------------------
// Qvae

namespace {

std::optional<data::BinaryEnergyCode> make_code(const ModelConfig& config) {
  if (config.prior_conditioning != PriorConditioning::clamped) return std::nullopt;
  const auto& w = config.energy_code_widths;
  if (w.linear == 0 && w.sqrt == 0 && w.log == 0)
    return data::BinaryEnergyCode(config.energy_code_max_mev, config.rbm.nodes_per_partition);
  return data::BinaryEnergyCode(w, config.rbm.nodes_per_partition);
}

/// Seed of one use of the sampler, so training and generation chains never share streams.
std::uint64_t domain_seed(std::uint64_t seed, std::uint32_t domain) {
  return seed ^ (static_cast<std::uint64_t>(domain) * 0x9E3779B97F4A7C15ull);
}

}  // namespace

QvaeImpl::QvaeImpl(const ModelConfig& config, const geometry::Geometry& geometry, std::shared_ptr<Prior> prior)
    : config_(config),
      geometry_(geometry),
      prior_(std::move(prior)),
      logit_(config.voxel_transform()),
      code_(make_code(config)) {
  config_.validate();
  if (!prior_) throw core::UsageError("qvae::model::Qvae needs a prior");
  if (prior_->partitions() != config_.rbm.partitions ||
      prior_->nodes_per_partition() != config_.rbm.nodes_per_partition)
    throw core::UsageError(core::describe("the prior has " + std::to_string(prior_->partitions()) + " partitions of " +
                                              std::to_string(prior_->nodes_per_partition()) +
                                              " nodes, the config asks for " + std::to_string(config_.rbm.partitions) +
                                              " of " + std::to_string(config_.rbm.nodes_per_partition),
                                          "", "set rbm.partitions and rbm.nodes_per_partition to match the RBM"));
  layer_of_voxel_ =
      torch::tensor(std::vector<std::int64_t>(geometry_.layer_of().begin(), geometry_.layer_of().end()), torch::kLong);
  encoder_ = register_module("encoder", Encoder(config_, geometry_));
  decoder_ = register_module("decoder", Decoder(config_, geometry_));
  if (config_.total_energy == TotalEnergy::mixture)
    total_density_ = register_module("total_density",
                                     TotalEnergyDensity(config_.total_mixture_components, config_.total_mixture_hidden,
                                                        logit_.forward(0.5 * logit_.fraction_scale(), 1.0)));
  prior_biases_ = prior_->biases();
  prior_weights_ = prior_->weights();
  const bool autograd = config_.rbm.update == RbmUpdate::autograd;
  prior_biases_.requires_grad_(autograd);
  prior_weights_.requires_grad_(autograd);
  adam_m_biases_ = torch::zeros_like(prior_biases_.detach());
  adam_v_biases_ = torch::zeros_like(prior_biases_.detach());
  adam_m_weights_ = torch::zeros_like(prior_weights_.detach());
  adam_v_weights_ = torch::zeros_like(prior_weights_.detach());
}

torch::Tensor QvaeImpl::reduce(const torch::Tensor& showers_mev, const torch::Tensor& incident_energies_mev) const {
  const torch::Tensor showers = showers_mev.detach().to(torch::kCPU, torch::kDouble).contiguous();
  const torch::Tensor energies = incident_energies_mev.detach().to(torch::kCPU, torch::kDouble).contiguous().view({-1});
  if (showers.dim() != 2 || showers.size(1) != geometry_.voxels() || showers.size(0) != energies.size(0))
    throw core::InputError(core::describe("showers of shape " + std::to_string(showers.size(0)) + "x" +
                                              std::to_string(showers.dim() == 2 ? showers.size(1) : -1) +
                                              " do not match " + std::to_string(energies.size(0)) + " events of " +
                                              std::to_string(geometry_.voxels()) + " voxels (" + geometry_.name() + ")",
                                          "", "pass (events, voxels) showers of the model's geometry"));
  torch::Tensor reduced = torch::empty_like(showers);
  logit_.forward_rows(showers.data_ptr<double>(), static_cast<std::size_t>(showers.size(0)),
                      static_cast<std::size_t>(showers.size(1)), energies.data_ptr<double>(),
                      reduced.data_ptr<double>());
  return reduced.to(torch::kFloat);
}

torch::Tensor QvaeImpl::layer_targets(const torch::Tensor& reduced) const {
  torch::NoGradGuard no_grad;
  // The model's own transform at E_inc = 1/s turns u into fractions of s E_inc
  // and back: voxel fractions summed per layer, the total through the forward
  // transform like a voxel, the layers as shares of the total.
  const torch::Tensor u = reduced.detach().to(torch::kCPU, torch::kDouble).contiguous();
  const std::int64_t batch = u.size(0), voxels = u.size(1);
  const double unit = 1.0 / logit_.fraction_scale();
  const std::vector<double> units(static_cast<std::size_t>(batch), unit);
  torch::Tensor fractions = torch::empty_like(u);
  logit_.inverse_rows(u.data_ptr<double>(), static_cast<std::size_t>(batch), static_cast<std::size_t>(voxels),
                      units.data(), fractions.data_ptr<double>());
  torch::Tensor layers = torch::zeros({batch, static_cast<std::int64_t>(geometry_.num_layers())}, torch::kDouble);
  layers.index_add_(1, layer_of_voxel_, fractions);
  const torch::Tensor total = layers.sum(1, true);
  torch::Tensor total_u = torch::empty_like(total);
  for (std::int64_t b = 0; b < batch; ++b)  // a total above s E_inc (a resumed scale-1 run) saturates
    total_u[b][0] = logit_.forward(std::min(total[b][0].item<double>(), 1.0), unit);
  const torch::Tensor shares = torch::where(total > 0, layers / total.clamp_min(1e-300), torch::zeros_like(layers));
  return torch::cat({total_u, shares}, 1).to(reduced.scalar_type()).to(reduced.device());
}

void QvaeImpl::decode_to_mev(const torch::Tensor& reduced, const torch::Tensor& layer_logits,
                             const std::vector<double>& incident_energies_mev, float* showers) const {
  const torch::Tensor u = reduced.detach().to(torch::kCPU, torch::kFloat).contiguous();
  const std::int64_t batch = u.size(0), voxels = u.size(1);
  TORCH_CHECK(voxels == geometry_.voxels() && batch == static_cast<std::int64_t>(incident_energies_mev.size()),
              "decode_to_mev: ", batch, "x", voxels, " values for ", incident_energies_mev.size(), " showers of ",
              geometry_.voxels(), " voxels");
  for (std::int64_t b = 0; b < batch; ++b)
    logit_.inverse_row(u.data_ptr<float>() + b * voxels, static_cast<std::size_t>(voxels),
                       incident_energies_mev[static_cast<std::size_t>(b)], showers + b * voxels);
  if (!layer_logits.defined()) return;
  // Layer l gets E_tot x softmax(fraction logits)_l.  A layer without hits
  // stays empty and its share goes to the hit layers in proportion, so the
  // shower keeps the predicted total (dropping it would bias totals low and
  // add a low tail wherever the hit sampler misses a sparse layer).
  const torch::Tensor head = layer_logits.detach().to(torch::kCPU, torch::kDouble);
  const torch::Tensor shares_tensor = torch::softmax(head.slice(1, 1), 1).contiguous();
  const torch::Tensor totals_tensor = head.select(1, 0).contiguous();
  const auto shares = shares_tensor.accessor<double, 2>();
  const auto totals = totals_tensor.accessor<double, 1>();
  const std::vector<std::int64_t> offsets = geometry_.layer_offsets();
  const auto layers = static_cast<std::int64_t>(offsets.size()) - 1;
  std::vector<double> sums(static_cast<std::size_t>(layers));
  for (std::int64_t b = 0; b < batch; ++b) {
    const double total = logit_.inverse(totals[b], incident_energies_mev[static_cast<std::size_t>(b)]);
    float* row = showers + b * voxels;
    double hit_share = 0.0;
    for (std::int64_t l = 0; l < layers; ++l) {
      double& sum = sums[static_cast<std::size_t>(l)];
      sum = 0.0;
      for (std::int64_t v = offsets[l]; v < offsets[l + 1]; ++v) sum += static_cast<double>(row[v]);
      if (sum > 0.0) hit_share += shares[b][l];
    }
    for (std::int64_t l = 0; l < layers; ++l) {
      const double sum = sums[static_cast<std::size_t>(l)];
      if (sum <= 0.0 || hit_share <= 0.0) continue;
      const auto factor = static_cast<float>(total * (shares[b][l] / hit_share) / sum);
      for (std::int64_t v = offsets[l]; v < offsets[l + 1]; ++v) row[v] *= factor;
    }
  }
}

torch::Tensor QvaeImpl::energies_of(const data::ShowerBlock& block) {
  return torch::tensor(block.incident_energies, torch::kDouble);
}

torch::Tensor QvaeImpl::reduce(const data::ShowerBlock& block) const {
  const torch::Tensor showers =
      torch::from_blob(const_cast<float*>(block.showers.data()), {block.events(), block.voxels}, torch::kFloat);
  return reduce(showers, energies_of(block));
}

torch::Tensor QvaeImpl::energy_code(const torch::Tensor& incident_energies_mev, torch::Dtype dtype) const {
  if (!code_) throw core::UsageError("the energy code exists only with model.prior_conditioning = clamped");
  const torch::Tensor energies = incident_energies_mev.detach().to(torch::kCPU, torch::kDouble).contiguous().view({-1});
  torch::Tensor nodes = torch::empty({energies.size(0), config_.rbm.nodes_per_partition}, torch::kFloat);
  code_->encode_rows(energies.data_ptr<double>(), static_cast<std::size_t>(energies.size(0)), nodes.data_ptr<float>());
  return nodes.to(incident_energies_mev.device(), dtype);
}

torch::Device QvaeImpl::device() const {
  const std::vector<torch::Tensor> params = parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

void QvaeImpl::place_on(torch::Device device) {
  if (device.is_cpu()) return;
  to(device);
  prior_->set_sampling_device(device.str());
}

torch::Tensor QvaeImpl::uniforms(const std::optional<NoiseKeys>& keys, std::uint32_t domain, std::int64_t batch,
                                 std::int64_t count, torch::Dtype dtype) const {
  if (!keys)
    return torch::rand({batch, count}, torch::TensorOptions().dtype(dtype)).clamp(1e-7, 1.0 - 1e-7).to(device());
  TORCH_CHECK(keys->events.numel() == batch, "NoiseKeys: one event id per row is needed");
  return philox_uniform(keys->seed, domain, keys->events, keys->step, count, dtype).to(device());
}

ForwardOutput QvaeImpl::forward(const torch::Tensor& reduced_input, const torch::Tensor& incident_energies_mev,
                                const StepSettings& settings) {
  const torch::Tensor reduced = reduced_input.to(device());
  const std::int64_t batch = reduced.size(0);
  const auto dtype = reduced.scalar_type();
  const int nodes = config_.rbm.nodes_per_partition;
  ForwardOutput out;
  out.reduced = reduced;
  out.incident_energies = incident_energies_mev.detach().to(reduced.device(), torch::kDouble).reshape({-1});
  const EnergyFeatures energy = energy_features(out.incident_energies, config_.energy_log_min, config_.energy_log_max,
                                                config_.energy_embedding_dim, dtype);
  if (code_) out.energy_code = energy_code(out.incident_energies, dtype);

  const torch::Tensor rho = uniforms(settings.noise, kPosteriorNoiseDomain, batch,
                                     static_cast<std::int64_t>(encoder_->levels()) * nodes, dtype);
  const bool training = is_training();
  const RelaxationKind kind = config_.relaxation;
  const double beta = settings.beta;
  const EncoderOutput encoded =
      encoder_->forward(reduced, energy, out.energy_code, [&](const torch::Tensor& logits, int level) {
        const torch::Tensor level_rho =
            rho.slice(1, static_cast<std::int64_t>(level) * nodes, static_cast<std::int64_t>(level + 1) * nodes);
        return training ? relax(kind, logits, level_rho, beta) : hard_sample(logits, level_rho);
      });
  out.posterior_logits = encoded.logits;
  out.posterior_samples = code_ ? torch::cat({out.energy_code, encoded.samples}, 1) : encoded.samples;

  // The layer head is conditioned on the data's total when the total has its own density (teacher forcing).
  torch::Tensor data_total;
  if (config_.layer_energies == LayerEnergies::predicted) {
    out.layer_targets = layer_targets(reduced);
    if (total_density_) {
      data_total = out.layer_targets.slice(1, 0, 1);
      out.total_log_likelihood = total_density_->log_prob(energy.scaled, data_total);
    }
  }
  const DecoderOutput decoded = decoder_->forward(out.posterior_samples, energy, data_total);
  out.hit_logits = decoded.hit_logits;
  out.activations = decoded.activations;
  out.layer_logits = decoded.layer_logits;
  // Teacher forcing (or relaxed hits) in training, Bernoulli hits otherwise.
  if (training) {
    torch::Tensor gate;
    if (config_.hit_gating == HitGating::true_mask) {
      gate = (reduced > 0).to(dtype);
    } else {
      const torch::Tensor hit_rho = uniforms(settings.noise, kHitNoiseDomain, batch, reduced.size(1), dtype);
      gate = torch::sigmoid(config_.hit_smoothing_beta * (out.hit_logits + logistic_noise(hit_rho)));
    }
    out.reconstruction = torch::leaky_relu(out.activations, settings.slope) * gate;
  } else {
    const torch::Tensor hit_rho = uniforms(settings.noise, kHitNoiseDomain, batch, reduced.size(1), dtype);
    out.reconstruction = torch::relu(out.activations) * hard_sample(out.hit_logits, hit_rho);
  }
  return out;
}

torch::Tensor QvaeImpl::negative_samples(const ForwardOutput& output, const std::optional<NoiseKeys>& keys,
                                         NegativePhase use) {
  torch::NoGradGuard no_grad;
  const std::int64_t batch = output.posterior_samples.size(0);
  const int nodes = config_.rbm.nodes_per_partition;
  GibbsRequest request;
  request.sweeps = config_.rbm.gibbs_steps;
  request.clamp_partition0 = code_.has_value();
  // Without keys, calls are numbered so every call draws fresh uniforms from one sampler.
  const std::uint64_t step = keys ? keys->step : unkeyed_calls_++;
  request.seed = domain_seed(keys ? keys->seed : 0, kNegativePhaseDomain);
  request.first_chain = keys ? keys->first_chain : 0;
  request.first_sweep = static_cast<std::int64_t>(step) * config_.rbm.gibbs_steps;

  // Chain c's random start: uniforms of (seed, chain c) at a sweep counter.
  auto random_start = [&](std::int64_t first, std::int64_t count, std::int64_t counter) {
    const torch::Tensor chains = torch::arange(first, first + count, torch::kLong);
    return (philox_uniform(request.seed, kNegativePhaseDomain, chains, static_cast<std::uint64_t>(counter),
                           prior_->nodes(), torch::kDouble) < 0.5)
        .to(torch::kDouble);
  };
  const bool persistent = config_.rbm.negative_chains == NegativeChains::pcd && use == NegativePhase::training;
  const std::int64_t end = request.first_chain + batch;
  torch::Tensor initial;
  if (config_.rbm.negative_chains == NegativeChains::cd) {
    initial = (output.posterior_samples.detach() > 0.5).to(torch::kDouble);  // CD: start at the posterior
  } else if (persistent) {
    // Rows the chains do not have yet start at random (the first step, or a larger batch).
    const std::int64_t have = persistent_chains_.defined() ? persistent_chains_.size(0) : 0;
    if (have < end) {
      torch::Tensor grown = random_start(0, end, 0);
      if (have > 0) grown.slice(0, 0, have).copy_(persistent_chains_);
      persistent_chains_ = grown;
    }
    initial = persistent_chains_.slice(0, request.first_chain, end).clone();
  } else {  // random start, and every evaluation-time call of a pcd model
    initial = random_start(request.first_chain, batch, request.first_sweep);
  }
  if (code_) initial.slice(1, 0, nodes).copy_(output.energy_code.detach().to(torch::kDouble));
  torch::Tensor samples = prior_->sample(initial, request);
  if (persistent) persistent_chains_.slice(0, request.first_chain, end).copy_(samples);
  return samples;
}

LossTerms QvaeImpl::loss(const ForwardOutput& output, const torch::Tensor& negative_samples) {
  const LossConfig& c = config_.loss;
  const torch::Tensor& u = output.reduced;
  const auto dtype = u.scalar_type();
  LossTerms terms;

  // Reconstruction: coeff mean_b sum_i ((u - x)/s)^2 (1 - l + l s^2) e^{w u}, s = 2 sqrt(max(u, min_{u>0} u)).
  const torch::Tensor positive = u.masked_select(u > 0);
  const double smallest = positive.numel() > 0 ? positive.min().item<double>() : 1.0;
  const torch::Tensor sigma_squared = 4 * torch::clamp_min(u, smallest);
  const torch::Tensor voxel_weight =
      ((1 - c.mse_interpolation) / sigma_squared + c.mse_interpolation) * torch::exp(c.mse_weight * u);
  terms.ae = c.mse_coefficient * ((u - output.reconstruction).pow(2) * voxel_weight).sum(1).mean();

  // Hit BCE: mean_b e^{alpha - gamma s_b} sum_i BCE(h_i, 1[u_i > 0]) (1 + u_i)^p.
  const torch::Tensor hits = (u > 0).to(dtype);
  const torch::Tensor& h = output.hit_logits;
  torch::Tensor bce = torch::nn::functional::softplus(h) - hits * h;
  if (c.hit_weight_power != 0) bce = bce * torch::pow(1 + u, c.hit_weight_power);
  torch::Tensor per_event = bce.sum(1);
  if (c.hit_alpha != 0 || c.hit_gamma != 0) {
    const torch::Tensor zero_fraction = 1 - hits.mean(1);
    per_event = per_event * torch::exp(c.hit_alpha - c.hit_gamma * zero_fraction);
  }
  terms.hit = c.hit_coefficient * per_event.mean();

  // Layer head: the total energy's MSE in logit units (relative errors) and the
  // cross-entropy of the layer fractions, -sum_l f_l log f^_l (minimal at f^ = f).
  // With a total-energy density its negative log-likelihood replaces the squared error.
  if (output.layer_logits.defined()) {
    const torch::Tensor total_term =
        output.total_log_likelihood.defined()
            ? -c.total_nll_coefficient * output.total_log_likelihood
            : c.total_coefficient * (output.layer_logits.select(1, 0) - output.layer_targets.select(1, 0)).pow(2);
    const torch::Tensor cross_entropy =
        -(output.layer_targets.slice(1, 1) * torch::log_softmax(output.layer_logits.slice(1, 1), 1)).sum(1);
    terms.layer = (total_term + c.layer_coefficient * cross_entropy).mean();
  } else {
    terms.layer = torch::zeros({}, u.options());
  }

  // KL to the prior: log q over the encoded partitions, + <E(zeta)>_q - <E(z~)>_model.
  const int nodes = config_.rbm.nodes_per_partition;
  const torch::Tensor encoded = code_ ? output.posterior_samples.slice(1, nodes) : output.posterior_samples;
  const torch::Tensor& l = output.posterior_logits;
  terms.entropy = (encoded * l - torch::nn::functional::softplus(l)).sum(1).mean();
  const bool conditional = code_.has_value();
  terms.pos_energy = prior_->energy(output.posterior_samples, conditional).mean();
  terms.neg_energy = -prior_->energy(negative_samples.detach().to(u.device(), dtype), conditional).mean();
  // KL(q || p) = <log q> + <E(zeta)>_q + log Z: without log Z (which needs AIS)
  // the term is the KL up to a constant of the networks, -log Z of the prior.
  terms.kl = terms.entropy + terms.pos_energy;

  // OLD exact_rbm_grad: neg_energy is not back-propagated; the RBM gets the centred gradient.
  terms.total = terms.ae + terms.hit + terms.layer + c.kl_weight * (terms.entropy + terms.pos_energy);
  if (config_.rbm.update == RbmUpdate::autograd) terms.total = terms.total + c.kl_weight * terms.neg_energy;
  return terms;
}

PriorGradient QvaeImpl::prior_gradient(const ForwardOutput& output, const torch::Tensor& negative_samples) const {
  torch::NoGradGuard no_grad;
  return prior_->centred_gradient(output.posterior_samples.detach().to(torch::kDouble),
                                  negative_samples.detach().to(torch::kDouble), config_.rbm.mean_clamp);
}

void QvaeImpl::apply_prior_gradient(const PriorGradient& gradient) {
  torch::NoGradGuard no_grad;
  const PriorConfig& r = config_.rbm;
  torch::Tensor biases = prior_biases_.detach(), weights = prior_weights_.detach();  // same storage
  if (r.update == RbmUpdate::centred_adam) {
    // NEW AdamOpt: theta <- theta (1 - gamma) + lr m_hat / (sqrt(v_hat) + eps), ascent.
    ++adam_steps_;
    const double correction1 = 1 - std::pow(r.adam_beta1, static_cast<double>(adam_steps_));
    const double correction2 = 1 - std::pow(r.adam_beta2, static_cast<double>(adam_steps_));
    auto step = [&](torch::Tensor& theta, torch::Tensor& m, torch::Tensor& v, const torch::Tensor& g) {
      m.mul_(r.adam_beta1).add_(g, 1 - r.adam_beta1);
      v.mul_(r.adam_beta2).addcmul_(g, g, 1 - r.adam_beta2);
      theta.mul_(1 - r.weight_decay).add_(r.lr * (m / correction1) / ((v / correction2).sqrt() + r.adam_eps));
    };
    step(biases, adam_m_biases_, adam_v_biases_, gradient.biases);
    step(weights, adam_m_weights_, adam_v_weights_, gradient.weights);
  } else {
    biases.mul_(1 - r.weight_decay).add_(gradient.biases, r.lr);
    weights.mul_(1 - r.weight_decay).add_(gradient.weights, r.lr);
  }
}

std::unique_ptr<torch::optim::Optimizer> QvaeImpl::make_prior_optimizer() const {
  return std::make_unique<torch::optim::SGD>(
      prior_parameters(), torch::optim::SGDOptions(config_.rbm.lr).weight_decay(config_.rbm.weight_decay));
}

data::ShowerBlock QvaeImpl::generate(const std::vector<double>& incident_energies_mev, std::uint64_t seed,
                                     std::int64_t first_event, int sweeps) {
  torch::NoGradGuard no_grad;
  const bool was_training = is_training();
  eval();
  const auto batch = static_cast<std::int64_t>(incident_energies_mev.size());
  const torch::Device device = this->device();
  const torch::Tensor energies = torch::tensor(incident_energies_mev, torch::kDouble).to(device);
  const torch::Tensor events = torch::arange(first_event, first_event + batch, torch::kLong);
  const int nodes = config_.rbm.nodes_per_partition;

  // Prior: random start keyed by (seed, event), partition 0 clamped to the code.
  GibbsRequest request;
  request.sweeps = sweeps > 0 ? sweeps : config_.rbm.generation_gibbs_steps;
  request.clamp_partition0 = code_.has_value();
  request.seed = domain_seed(seed, kGenerationPriorDomain);
  request.first_chain = first_event;
  torch::Tensor initial =
      (philox_uniform(request.seed, kGenerationPriorDomain, events, 0, prior_->nodes(), torch::kDouble) < 0.5)
          .to(torch::kDouble);
  if (code_) initial.slice(1, 0, nodes).copy_(energy_code(energies, torch::kDouble));
  const torch::Tensor latent = prior_->sample(initial, request).to(device, torch::kFloat);

  // Decoder: ReLU(act) * Bernoulli(sigmoid(hits)).
  const EnergyFeatures features = energy_features(energies, config_.energy_log_min, config_.energy_log_max,
                                                  config_.energy_embedding_dim, torch::kFloat);
  torch::Tensor total;
  if (total_density_)
    total = total_density_->sample(features.scaled,
                                   philox_uniform(seed, kGenerationTotalDomain, events, 0, 3, torch::kDouble));
  const DecoderOutput decoded = decoder_->forward(latent, features, total);
  const torch::Tensor rho =
      philox_uniform(seed, kGenerationHitDomain, events, 0, geometry_.voxels(), torch::kFloat).to(device);
  const torch::Tensor reduced = torch::relu(decoded.activations) * hard_sample(decoded.hit_logits, rho);

  data::ShowerBlock block;
  block.first_event = first_event;
  block.voxels = geometry_.voxels();
  block.incident_energies = incident_energies_mev;
  block.showers.resize(static_cast<std::size_t>(batch * block.voxels));
  decode_to_mev(reduced, decoded.layer_logits, incident_energies_mev, block.showers.data());
  train(was_training);
  return block;
}

std::string QvaeImpl::describe() const {
  std::ostringstream os;
  os << "Latent: " << config_.rbm.partitions << " partitions x " << config_.rbm.nodes_per_partition << " nodes"
     << (code_ ? " (partition 0 = binary energy code, " + std::to_string(code_->copies()) + " copies of " +
                     std::to_string(code_->copy_length()) + " bits + " + std::to_string(code_->padding()) + " zeros)"
               : std::string(" (all partitions encoded)"))
     << "; prior: " << prior_->description() << "; conditioning: " << to_string(config_.conditioning) << "\n\n"
     << "Encoder: " << encoder_->describe() << "\nDecoder: " << decoder_->describe();
  if (total_density_) os << "\n" << total_density_->describe();
  return os.str();
}

void QvaeImpl::save(torch::serialize::OutputArchive& archive) const {
  torch::nn::Module::save(archive);
  torch::serialize::OutputArchive prior(archive.compilation_unit());
  prior.write("biases", prior_biases_.detach(), true);
  prior.write("weights", prior_weights_.detach(), true);
  prior.write("adam_m_biases", adam_m_biases_, true);
  prior.write("adam_v_biases", adam_v_biases_, true);
  prior.write("adam_m_weights", adam_m_weights_, true);
  prior.write("adam_v_weights", adam_v_weights_, true);
  prior.write("adam_steps", torch::tensor(adam_steps_, torch::kLong), true);
  if (persistent_chains_.defined()) prior.write("persistent_chains", persistent_chains_, true);
  archive.write("prior", prior);
}

void QvaeImpl::load(torch::serialize::InputArchive& archive) {
  torch::nn::Module::load(archive);
  torch::serialize::InputArchive prior;
  archive.read("prior", prior);
  torch::NoGradGuard no_grad;
  auto copy_into = [&](const char* key, torch::Tensor target) {
    torch::Tensor stored;
    prior.read(key, stored, true);
    if (stored.sizes() != target.sizes())
      throw core::InputError(core::describe(std::string("the checkpoint's prior ") + key + " has shape " +
                                                c10::str(stored.sizes()) + ", the model's " + c10::str(target.sizes()),
                                            "", "load a checkpoint of the same configuration"));
    target.copy_(stored);  // in place: the sampler keeps reading the same buffer
  };
  copy_into("biases", prior_biases_.detach());
  copy_into("weights", prior_weights_.detach());
  copy_into("adam_m_biases", adam_m_biases_);
  copy_into("adam_v_biases", adam_v_biases_);
  copy_into("adam_m_weights", adam_m_weights_);
  copy_into("adam_v_weights", adam_v_weights_);
  torch::Tensor steps, chains;
  prior.read("adam_steps", steps, true);
  adam_steps_ = steps.item<std::int64_t>();
  // Mapped to the networks' device by a load onto a GPU: the chains live on the host.
  persistent_chains_ = prior.try_read("persistent_chains", chains, true) ? chains.to(torch::kCPU) : torch::Tensor();
}

}  // namespace qvae::model
