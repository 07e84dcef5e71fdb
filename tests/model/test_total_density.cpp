// Tests of the total-energy density (model.total_energy = mixture): it is a
// normalised density, its draws follow it, the layer head is conditioned on
// the data's total in training, and generated showers carry the drawn total.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "qvae/core/error.hpp"
#include "qvae/geometry/geometry.hpp"
#include "qvae/model/config.hpp"
#include "qvae/model/layers.hpp"
#include "qvae/model/networks.hpp"
#include "qvae/model/prior.hpp"
#include "qvae/model/qvae.hpp"
#include "qvae/model/relaxation.hpp"
#include "qvae/sim/gflash.hpp"
#include "simulated_showers.hpp"

namespace {

using namespace qvae::model;
using qvae::geometry::Geometry;

constexpr int kNodes = 64;

ModelConfig mixture_config() {
  ModelConfig c;
  c.encoder = NetworkKind::fcn;
  c.decoder = NetworkKind::fcn;
  c.rbm.nodes_per_partition = kNodes;
  c.fcn_encoder_hidden = {32, 16};
  c.fcn_decoder_hidden = {32, 32};
  c.energy_embedding_dim = 4;
  c.rbm.gibbs_steps = 3;
  c.rbm.generation_gibbs_steps = 3;
  c.layer_energies = LayerEnergies::predicted;
  c.layer_head_hidden = {16};
  c.total_energy = TotalEnergy::mixture;
  c.total_mixture_components = 3;
  c.total_mixture_hidden = {8};
  c.fraction_scale = 2;
  c.energy_code_widths = {0, 0, 0};
  c.energy_code_max_mev = 4194304;
  return c;
}

/// Moments of p(u | E) by the trapezoid rule on a grid wide and fine enough for
/// the initial mixture (means in 3 + [-4, 4], widths about 0.1).
struct Moments {
  double mass = 0, mean = 0, variance = 0, fourth = 0;
};
Moments grid_moments(TotalEnergyDensity& density, double scaled_energy) {
  torch::NoGradGuard no_grad;
  const torch::Tensor grid = torch::linspace(-40.0, 40.0, 800001, torch::kDouble);
  const torch::Tensor energy = torch::full({grid.size(0), 1}, scaled_energy, torch::kDouble);
  const torch::Tensor p = torch::exp(density->log_prob(energy, grid));
  const double step = 80.0 / 800000.0;
  auto integral = [&](const torch::Tensor& f) { return torch::trapz(f, step).item<double>(); };
  Moments m;
  m.mass = integral(p);
  m.mean = integral(p * grid);
  m.variance = integral(p * (grid - m.mean).pow(2));
  m.fourth = integral(p * (grid - m.mean).pow(4));
  return m;
}

TEST(TotalDensity, LogProbIsANormalisedDensityAtEveryEnergy) {
  torch::manual_seed(5);
  TotalEnergyDensity density(4, std::vector<int>{16, 16}, 3.0);
  density->to(torch::kDouble);
  for (double e : {0.0, 0.3, 1.0}) EXPECT_NEAR(grid_moments(density, e).mass, 1.0, 1e-9) << "scaled E " << e;
}

// Sample mean and variance of 40 000 keyed draws against the density's own
// moments, each within 5 standard errors.
TEST(TotalDensity, DrawsFollowTheDensity) {
  torch::manual_seed(6);
  TotalEnergyDensity density(4, std::vector<int>{16, 16}, 3.0);
  density->to(torch::kDouble);
  torch::NoGradGuard no_grad;
  const std::int64_t n = 40000;
  for (double e : {0.1, 0.8}) {
    const Moments m = grid_moments(density, e);
    const torch::Tensor uniforms =
        philox_uniform(17, kGenerationTotalDomain, torch::arange(n, torch::kLong), 0, 3, torch::kDouble);
    const torch::Tensor draws = density->sample(torch::full({n, 1}, e, torch::kDouble), uniforms).view({-1});
    const double mean = draws.mean().item<double>();
    const double variance = draws.var().item<double>();
    EXPECT_LT(std::fabs(mean - m.mean) / std::sqrt(m.variance / n), 5.0) << "scaled E " << e;
    const double variance_error = std::sqrt((m.fourth - m.variance * m.variance) / n);
    EXPECT_LT(std::fabs(variance - m.variance) / variance_error, 5.0) << "scaled E " << e;
  }
}

TEST(TotalDensity, ConfigNeedsPredictedLayerEnergies) {
  ModelConfig c = mixture_config();
  c.layer_energies = LayerEnergies::none;
  EXPECT_THROW(c.validate(), qvae::core::UsageError);
  c = mixture_config();
  c.total_mixture_components = 0;
  EXPECT_THROW(c.validate(), qvae::core::UsageError);
}

using qvae::testing::simulate;
using Data = qvae::testing::Showers;

// In training the layer head sees the data's total, which it passes through
// as its column 0, and the loss's total term is the density's NLL.
TEST(TotalDensity, TrainingConditionsTheLayerHeadOnTheDataTotal) {
  const Geometry geometry = Geometry::builtin("ds1-photons");
  const ModelConfig c = mixture_config();
  Qvae model(c, geometry, std::make_shared<Prior>(random_machine(4, kNodes, 0.05, 7, 0.1, 0.1)));
  const Data data = simulate(geometry, {512.0, 65536.0, 4194304.0});
  const torch::Tensor u = model->reduce(data.showers, data.energies);
  const ForwardOutput out =
      model->forward(u, data.energies, StepSettings{1.0, 0.0, NoiseKeys{99, 0, torch::arange(3, torch::kLong)}});
  ASSERT_EQ(out.layer_logits.size(1), geometry.num_layers() + 1);
  EXPECT_TRUE(torch::equal(out.layer_logits.select(1, 0), out.layer_targets.select(1, 0)));
  ASSERT_TRUE(out.total_log_likelihood.defined());
  const LossTerms terms = model->loss(out, model->negative_samples(out));
  EXPECT_TRUE(std::isfinite(terms.layer.item<double>()));
  terms.total.backward();
  bool density_has_gradient = false;
  for (const auto& p : model->total_density()->parameters())
    density_has_gradient |= p.grad().defined() && p.grad().abs().sum().item<double>() > 0;
  EXPECT_TRUE(density_has_gradient);
}

// Every generated shower with a hit is scaled to the total drawn for it, and
// draws are keyed by event.
TEST(TotalDensity, GeneratedShowersCarryTheDrawnTotal) {
  const Geometry geometry = Geometry::builtin("ds1-photons");
  const ModelConfig c = mixture_config();
  Qvae model(c, geometry, std::make_shared<Prior>(random_machine(4, kNodes, 0.05, 7, 0.1, 0.1)));
  const std::vector<double> energies = {256.0, 4096.0, 65536.0, 1048576.0, 4194304.0, 1024.0};
  const auto n = static_cast<std::int64_t>(energies.size());
  const qvae::data::ShowerBlock block = model->generate(energies, 42, 10);
  torch::NoGradGuard no_grad;
  const EnergyFeatures features = energy_features(torch::tensor(energies, torch::kDouble), c.energy_log_min,
                                                  c.energy_log_max, c.energy_embedding_dim, torch::kFloat);
  const torch::Tensor draws = model->total_density()->sample(
      features.scaled,
      philox_uniform(42, kGenerationTotalDomain, torch::arange(10, 10 + n, torch::kLong), 0, 3, torch::kDouble));
  const qvae::data::LogitTransform transform = c.voxel_transform();
  int exact = 0;
  for (std::int64_t b = 0; b < n; ++b) {
    const float* row = block.showers.data() + b * geometry.voxels();
    const double drawn = transform.inverse(draws[b][0].item<double>(), energies[static_cast<std::size_t>(b)]);
    double total = 0.0;
    for (std::int64_t v = 0; v < geometry.voxels(); ++v) total += static_cast<double>(row[v]);
    if (total > 0) {
      EXPECT_NEAR(total, drawn, 1e-5 * drawn) << "shower " << b;
      ++exact;
    }
  }
  EXPECT_GT(exact, 0);
  // The same events in another batch: the same draws (up to the last bits a
  // different GEMM blocking may change; `qvae generate` uses fixed chunks).
  const qvae::data::ShowerBlock tail = model->generate({energies[3], energies[4], energies[5]}, 42, 13);
  ASSERT_EQ(tail.showers.size(), static_cast<std::size_t>(3 * geometry.voxels()));
  // Compared on the scale of each shower's total energy.
  for (std::int64_t b = 0; b < 3; ++b) {
    const float* expected = block.showers.data() + (3 + b) * geometry.voxels();
    const float* got = tail.showers.data() + b * geometry.voxels();
    double scale = 0.0;
    for (std::int64_t v = 0; v < geometry.voxels(); ++v) scale += static_cast<double>(expected[v]);
    for (std::int64_t v = 0; v < geometry.voxels(); ++v)
      ASSERT_NEAR(got[v], expected[v], 1e-5 * scale) << "shower " << b << " voxel " << v;
  }
}

}  // namespace
