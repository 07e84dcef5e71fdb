// The QVAE: encoder, Boltzmann-machine prior and decoder, its loss terms,
// the RBM update and generation (docs/model.md).
//
// A training step, as the trainer runs it:
//
//   Qvae model(config, geometry, make_prior(config, seed, comm));
//   torch::optim::Adam optimiser(model->parameters(), lr);     // encoder + decoder
//   auto u   = model->reduce(showers_mev, energies_mev);        // (B, V)
//   auto out = model->forward(u, energies_mev, {beta, slope, keys});
//   auto neg = model->negative_samples(out, keys);              // Kokkos Gibbs, detached
//   LossTerms loss = model->loss(out, neg);
//   optimiser.zero_grad(); loss.total.backward(); /* allreduce grads */ optimiser.step();
//   if (centred update) model->apply_prior_gradient(/* allreduced */ model->prior_gradient(out, neg));
//   else               /* autograd */ prior_optimiser.step() over model->prior_parameters();
//
// torch::save(model, path) / torch::load(model, path) store the networks, the
// prior's parameters (copied back in place, so the sampler keeps its buffers),
// the RBM Adam state and the persistent chains.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "qvae/data/calo_file.hpp"
#include "qvae/data/transforms.hpp"
#include "qvae/geometry/geometry.hpp"
#include "qvae/model/config.hpp"
#include "qvae/model/networks.hpp"
#include "qvae/model/prior.hpp"
#include "qvae/model/relaxation.hpp"

namespace qvae::model {

/// Keys of the reproducible noise of a batch, so results do not depend on the
/// rank count: row b's relaxation and hit noise come from the streams of event
/// events[b] at counter `step`; its negative-phase chain is Gibbs chain
/// first_chain + b starting at sweep counter step * rbm.gibbs_steps.
struct NoiseKeys {
  std::uint64_t seed = 0;
  std::uint64_t step = 0;        ///< e.g. the global batch counter
  torch::Tensor events;          ///< (B) int64 global event indices
  std::int64_t first_chain = 0;  ///< e.g. this rank's row offset in the global batch
};

/// Who asks for negative samples: training advances the persistent chains
/// (rbm.negative_chains = pcd); evaluation (validation, metrics) never reads
/// or moves them and starts its own chains at random, keyed like training.
enum class NegativePhase { training, evaluation };

/// Per-batch settings of the forward pass (annealed by the trainer).
struct StepSettings {
  double beta = 1.0;               ///< relaxation inverse temperature
  double slope = 0.0;              ///< LeakyReLU slope of the energy output (training)
  std::optional<NoiseKeys> noise;  ///< none: torch's generator
};

/// Everything the loss and the RBM update need from one forward pass.
struct ForwardOutput {
  torch::Tensor reduced;            ///< (B, V) u, the input
  torch::Tensor incident_energies;  ///< (B) MeV
  torch::Tensor energy_code;        ///< (B, n) partition 0 when clamped, else undefined
  torch::Tensor posterior_logits;   ///< (B, L n) encoded partitions
  torch::Tensor posterior_samples;  ///< (B, K n) all partitions (relaxed in training)
  torch::Tensor hit_logits;         ///< (B, V)
  torch::Tensor activations;        ///< (B, V) energy head
  torch::Tensor reconstruction;     ///< (B, V) x-hat in reduced units
  /// model.layer_energies = predicted: the layer head's (B, 1 + L) output
  /// (DecoderOutput::layer_logits) and the data's (B, 1 + L) targets: the
  /// logit transform of E_tot / (s E_inc), then the fractions E_layer / E_tot
  /// (all 0 for an empty shower); undefined otherwise.
  torch::Tensor layer_logits, layer_targets;
  /// model.total_energy = mixture: (B) log p(U_tot | E_inc) of the data's
  /// totals under the total-energy density (the layer head was conditioned on
  /// those totals); undefined otherwise.
  torch::Tensor total_log_likelihood;
};

/// The loss terms (docs/model.md, "Loss terms and the RBM update"), each a scalar tensor.
struct LossTerms {
  torch::Tensor ae;          ///< exponentially weighted MSE on reduced voxels
  torch::Tensor hit;         ///< hit BCE
  torch::Tensor entropy;     ///< E_q[log q] over the encoded partitions (the negative entropy)
  torch::Tensor pos_energy;  ///< mean prior energy of the posterior samples
  torch::Tensor neg_energy;  ///< minus the mean prior energy of the model samples
  /// total-energy term (squared error in logit units, or the mixture's negative
  /// log-likelihood) + layer-fraction cross-entropy; 0 without the head
  torch::Tensor layer;
  torch::Tensor kl;     ///< entropy + pos_energy = KL(q || p) - log Z (the KL up to the prior's log Z)
  torch::Tensor total;  ///< what is back-propagated (depends on rbm.update)
  /// name -> value for logging: ae_loss, hit_loss, entropy, pos_energy, neg_energy, kl_loss, layer_loss, loss.
  std::map<std::string, double> values() const;
};

class QvaeImpl : public torch::nn::Module {
 public:
  QvaeImpl(const ModelConfig& config, const geometry::Geometry& geometry, std::shared_ptr<Prior> prior);

  const ModelConfig& config() const { return config_; }
  const geometry::Geometry& geometry() const { return geometry_; }
  Prior& prior() { return *prior_; }
  std::shared_ptr<Prior> prior_ptr() const { return prior_; }
  Encoder& encoder() { return encoder_; }
  Decoder& decoder() { return decoder_; }
  /// model.total_energy = mixture: p(U_tot | E_inc); an empty holder otherwise.
  TotalEnergyDensity& total_density() { return total_density_; }

  /// Where the networks are (module.to(device) moves them; the prior, its
  /// parameters and chains stay on the host, and per-event noise is drawn
  /// there and copied over, so every draw is the CPU's).
  torch::Device device() const;
  /// Moves the networks to `device` and runs the prior's chains there (the
  /// prior's parameters stay on the host).  A no-op for the CPU.
  void place_on(torch::Device device);

  /// Showers (B, V) and incident energies (B) in MeV -> u (B, V) float32 by the
  /// logit transform.  InputError for bad values.
  torch::Tensor reduce(const torch::Tensor& showers_mev, const torch::Tensor& incident_energies_mev) const;
  torch::Tensor reduce(const data::ShowerBlock& block) const;
  /// Incident energies of a block as a (B) float64 tensor.
  static torch::Tensor energies_of(const data::ShowerBlock& block);
  /// The binary code of partition 0, (B, n) in `dtype`.
  torch::Tensor energy_code(const torch::Tensor& incident_energies_mev, torch::Dtype dtype) const;

  /// Encode, relax (training) or sample (eval), decode, form x-hat; the
  /// inputs are moved to device() first.
  ForwardOutput forward(const torch::Tensor& reduced_input, const torch::Tensor& incident_energies_mev,
                        const StepSettings& settings);

  /// Negative-phase samples (B, N) float64 on the host, detached: rbm.gibbs_steps sweeps
  /// from the rbm.negative_chains start, partition 0 clamped to the code when
  /// the prior is conditioned.  Never touches the parameters.
  torch::Tensor negative_samples(const ForwardOutput& output, const std::optional<NoiseKeys>& keys = std::nullopt,
                                 NegativePhase use = NegativePhase::training);

  /// rbm.negative_chains = pcd: one persistent chain per row of the global
  /// batch (row r is Gibbs chain r, whichever rank runs it), (B, nodes)
  /// float64; undefined before the first training call.  The trainer shares
  /// the rows each rank advanced, so every rank holds the same chains.
  const torch::Tensor& persistent_chains() const { return persistent_chains_; }
  void set_persistent_chains(torch::Tensor chains) { persistent_chains_ = std::move(chains); }

  /// Decoded showers in MeV, row-major into `showers` (B x V): the inverse
  /// voxel transform of `reduced` (decoder output, already gated by hits),
  /// then, with predicted layer energies, every layer scaled to its
  /// prediction (a layer with no hit voxel stays empty and its share goes to
  /// the hit layers, so the shower keeps the predicted total).  One path for
  /// generation, validation and the model metrics.
  void decode_to_mev(const torch::Tensor& reduced, const torch::Tensor& layer_logits,
                     const std::vector<double>& incident_energies_mev, float* showers) const;

  /// All loss terms for a forward pass and its negative samples.
  LossTerms loss(const ForwardOutput& output, const torch::Tensor& negative_samples);

  /// Centred gradient of the RBM from the posterior samples (data) and the
  /// negative samples (model).  Partition 0 columns are the code (constant).
  PriorGradient prior_gradient(const ForwardOutput& output, const torch::Tensor& negative_samples) const;
  /// theta += lr g (centred_sgd) or the Adam ascent with decay (centred_adam), in place.
  void apply_prior_gradient(const PriorGradient& gradient);

  /// Encoder and decoder parameters in a fixed order (the module's parameters()).
  std::vector<torch::Tensor> network_parameters() const { return parameters(); }
  /// The RBM's biases and weights (shared with the sampler), in this order;
  /// they require grad only with rbm.update = autograd.
  std::vector<torch::Tensor> prior_parameters() const { return {prior_biases_, prior_weights_}; }
  /// With rbm.update = autograd: SGD at rbm.lr over prior_parameters().
  std::unique_ptr<torch::optim::Optimizer> make_prior_optimizer() const;

  /// Showers for the given incident energies (MeV): partition 0 clamped to
  /// their code (or sampled with the rest when unconditioned), the other
  /// partitions Gibbs-sampled for `sweeps` sweeps (0: rbm.generation_gibbs_steps)
  /// from random states, decoded to ReLU(act) * Bernoulli(sigmoid(hits)), inverted to MeV;
  /// with model.total_energy = mixture each shower's total is drawn from p(U_tot | E_inc).
  /// Event i of the call is global event first_event + i: every draw is keyed
  /// by (seed, event), so the output does not depend on how events are split.
  data::ShowerBlock generate(const std::vector<double>& incident_energies_mev, std::uint64_t seed,
                             std::int64_t first_event, int sweeps = 0);

  /// Markdown description of the networks (layer tables) and the latent layout.
  std::string describe() const;

  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

 private:
  /// (B, 1 + L) targets of the layer head for reduced showers (ForwardOutput::layer_targets).
  torch::Tensor layer_targets(const torch::Tensor& reduced) const;
  torch::Tensor uniforms(const std::optional<NoiseKeys>& keys, std::uint32_t domain, std::int64_t batch,
                         std::int64_t count, torch::Dtype dtype) const;

  ModelConfig config_;
  geometry::Geometry geometry_;
  std::shared_ptr<Prior> prior_;
  data::LogitTransform logit_;
  torch::Tensor layer_of_voxel_;  ///< (V) int64 layer index, for layer sums
  std::optional<data::BinaryEnergyCode> code_;
  Encoder encoder_{nullptr};
  Decoder decoder_{nullptr};
  TotalEnergyDensity total_density_{nullptr};   ///< model.total_energy = mixture only
  torch::Tensor prior_biases_, prior_weights_;  ///< views shared with the sampler
  // centred_adam state and persistent chains (saved with the model)
  torch::Tensor adam_m_biases_, adam_v_biases_, adam_m_weights_, adam_v_weights_;
  std::int64_t adam_steps_ = 0;
  torch::Tensor persistent_chains_;
  std::uint64_t unkeyed_calls_ = 0;  ///< negative_samples() calls without NoiseKeys
};
TORCH_MODULE(Qvae);

}  // namespace qvae::model
