// Tests of the QVAE model (qvae/model/*) that need LibTorch: network shapes for
// every variant, cylinder padding, relaxations, loss terms, gradients, the
// prior coupling, generation and checkpoints (configuration and stage plans:
// test_network_plan.cpp).  One file above 600 lines on purpose: its tests share
// the tiny-model fixtures, and each LibTorch test file costs CI a long compile.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "qvae/core/config.hpp"
#include "qvae/core/error.hpp"
#include "qvae/geometry/geometry.hpp"
#include "qvae/model/config.hpp"
#include "qvae/model/layers.hpp"
#include "qvae/model/networks.hpp"
#include "qvae/model/prior.hpp"
#include "qvae/model/qvae.hpp"
#include "qvae/model/relaxation.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/rbm/rbm_file.hpp"
#include "qvae/sim/gflash.hpp"
#include "simulated_showers.hpp"

namespace {

using namespace qvae::model;
using qvae::core::UsageError;
using qvae::geometry::Geometry;

constexpr int kNodes = 64;  // per partition: holds one 60-bit energy code

ModelConfig tiny_config(NetworkKind encoder, NetworkKind decoder, Conditioning conditioning,
                        PriorConditioning prior_conditioning) {
  ModelConfig c;
  c.encoder = encoder;
  c.decoder = decoder;
  c.conditioning = conditioning;
  c.prior_conditioning = prior_conditioning;
  c.rbm.nodes_per_partition = kNodes;
  c.cnn_encoder_channels = {4, 4, 8, 8};
  c.cnn_decoder_channels = {16, 8, 4, 4};
  c.fcn_encoder_hidden = {32, 16};
  c.fcn_decoder_hidden = {32, 32};
  c.energy_embedding_dim = 4;
  c.rbm.gibbs_steps = 3;
  c.rbm.generation_gibbs_steps = 3;
  return c;
}

std::shared_ptr<Prior> tiny_prior(std::uint64_t seed = 7) {
  return std::make_shared<Prior>(random_machine(4, kNodes, 0.05, seed, 0.1, 0.1));
}

using qvae::testing::simulate;
using Showers = qvae::testing::Showers;

const Geometry& ds2() {
  static const Geometry geometry = Geometry::builtin("ds2");
  return geometry;
}

const Showers& ds2_showers() {
  static const Showers showers = simulate(ds2(), {2e3, 3e4, 4e5, 1e6});
  return showers;
}

NoiseKeys keys_for(std::int64_t batch, std::uint64_t step = 0) {
  return {99, step, torch::arange(batch, torch::kLong)};
}

bool all_finite(const torch::Tensor& t) { return torch::isfinite(t).all().item<bool>(); }

// ---------------------------------------------------------------------------
// Cylinder padding

TEST(CylinderPad, MarkedVoxelCrossesTheAlphaBoundaryAndTheCentre) {
  const int z = 3, alpha = 16, r = 9;
  torch::Tensor x = torch::zeros({1, 1, z, alpha, r});
  x[0][0][1][0][0] = 1.0;  // layer 1, alpha 0, innermost ring
  const torch::Tensor padded = cylinder_pad(x);
  ASSERT_EQ(padded.sizes(), (std::vector<std::int64_t>{1, 1, z, alpha + 2, r + 1}));
  // Padded index (a + 1, r + 1) holds (a, r); alpha is periodic, r = -1 is the far side of the centre.
  std::vector<std::tuple<int, int>> expected{{1, 1},               // itself
                                             {alpha + 1, 1},       // wrapped past alpha = 15
                                             {alpha / 2 + 1, 0}};  // across the centre: alpha 8, r = -1
  EXPECT_EQ(padded.sum().item<double>(), static_cast<double>(expected.size()));
  for (const auto& [a, rr] : expected) EXPECT_EQ(padded[0][0][1][a][rr].item<double>(), 1.0) << a << "," << rr;
  EXPECT_EQ(padded.select(2, 0).sum().item<double>(), 0.0);  // z is never padded

  // A 3x3x3 box filter sees the mark from alpha 15 (across the boundary) and from
  // alpha 7..9 at r = 0 (across the centre), and nowhere with r >= 2.
  PeriodicConv3d conv(torch::nn::Conv3dOptions(1, 1, 3).bias(false), true);
  {
    torch::NoGradGuard guard;
    for (auto& p : conv->parameters()) p.fill_(1.0);
  }
  const torch::Tensor y = conv->forward(x);  // (1, 1, 1, 16, 8)
  ASSERT_EQ(y.sizes(), (std::vector<std::int64_t>{1, 1, 1, alpha, r - 1}));
  EXPECT_EQ(y[0][0][0][15][0].item<double>(), 1.0);
  EXPECT_EQ(y[0][0][0][1][1].item<double>(), 1.0);
  for (int a : {7, 8, 9}) EXPECT_EQ(y[0][0][0][a][0].item<double>(), 1.0) << a;
  EXPECT_EQ(y[0][0][0][6][0].item<double>(), 0.0);
  EXPECT_EQ(y[0][0][0][8][1].item<double>(), 0.0);
  EXPECT_EQ(y.slice(4, 2).sum().item<double>(), 0.0);
}

// ---------------------------------------------------------------------------
// Layer plans and shapes

TEST(Networks, DescribeGivesTheLayerTables) {
  ModelConfig reference;
  reference.rbm.nodes_per_partition = 302;
  Qvae model(reference, ds2(), std::make_shared<Prior>(random_machine(4, 302, 0.001, 1, 0.1, 0.1)));
  const std::string text = model->describe();
  EXPECT_NE(text.find("PConv3d 1->32, k(3,3,3), s(2,1,1)"), std::string::npos) << text;
  EXPECT_NE(text.find("ConvT3d 1208->512, k(3,3,2), s(2,1,1)"), std::string::npos) << text;
  EXPECT_NE(text.find("5 copies of 60 bits + 2 zeros"), std::string::npos) << text;
  if (std::getenv("QVAE_PRINT_DESCRIBE")) std::cout << text << std::endl;
}

TEST(Networks, CnnRefusesTheIrregularDs1) {
  const Geometry photons = Geometry::builtin("ds1-photons");
  for (auto [encoder, decoder] :
       {std::pair{NetworkKind::cnn, NetworkKind::fcn}, std::pair{NetworkKind::fcn, NetworkKind::cnn}}) {
    const ModelConfig c = tiny_config(encoder, decoder, Conditioning::encoder_decoder, PriorConditioning::clamped);
    try {
      Qvae model(c, photons, tiny_prior());
      ADD_FAILURE() << "expected UsageError";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("regular"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("=fcn"), std::string::npos) << e.what();
    }
  }
}

TEST(Networks, VoxelBiasShiftsExactlyItsOwnVoxelOfBothCnnOutputs) {
  ModelConfig c =
      tiny_config(NetworkKind::cnn, NetworkKind::cnn, Conditioning::encoder_decoder, PriorConditioning::clamped);
  c.decoder_voxel_bias = true;
  torch::manual_seed(3);
  Decoder decoder(c, ds2());
  decoder->eval();
  const auto params = decoder->named_parameters();
  ASSERT_TRUE(params.contains("hit_voxel_bias") && params.contains("energy_voxel_bias"));
  EXPECT_EQ(params["hit_voxel_bias"].numel(), ds2().voxels());
  EXPECT_EQ(params["hit_voxel_bias"].abs().sum().item<double>(), 0.0);  // starts as the plain decoder

  const torch::Tensor latent = torch::rand({3, c.latent_size()}).round();
  const EnergyFeatures energy = energy_features(torch::tensor({1e3, 1e4, 1e5}, torch::kDouble), c.energy_log_min,
                                                c.energy_log_max, c.energy_embedding_dim, torch::kFloat);
  const DecoderOutput before = decoder->forward(latent, energy);
  const std::int64_t seam = 0, ring = ds2().voxels() - 1;  // layer 0, alpha 0, r 0; last layer, alpha 15, r 8
  {
    torch::NoGradGuard no_grad;
    params["hit_voxel_bias"][seam] = 2.5;
    params["energy_voxel_bias"][ring] = -1.5;
  }
  const DecoderOutput after = decoder->forward(latent, energy);
  torch::Tensor hit_shift = torch::zeros_like(before.hit_logits);
  hit_shift.select(1, seam).fill_(2.5);
  torch::Tensor energy_shift = torch::zeros_like(before.activations);
  energy_shift.select(1, ring).fill_(-1.5);
  EXPECT_TRUE(torch::allclose(after.hit_logits - before.hit_logits, hit_shift, 0, 1e-5));
  EXPECT_TRUE(torch::allclose(after.activations - before.activations, energy_shift, 0, 1e-5));

  qvae::core::ConfigSchema schema;
  add_model_keys(schema);
  EXPECT_THROW(model_config_from(qvae::core::Config::resolve(
                   schema, {}, {{"model.decoder", "fcn"}, {"model.decoder_voxel_bias", "true"}})),
               UsageError);
}

class ShapeTest
    : public ::testing::TestWithParam<std::tuple<NetworkKind, NetworkKind, Conditioning, PriorConditioning>> {};

void expect_shapes(const Geometry& geometry, const ModelConfig& config, const std::shared_ptr<Prior>& prior) {
  Qvae model(config, geometry, prior);
  const std::int64_t batch = 3, voxels = geometry.voxels();
  const torch::Tensor energies = torch::tensor(std::vector<double>{1.5e3, 6e4, 9e5}, torch::kDouble);
  const torch::Tensor reduced = torch::relu(torch::randn({batch, voxels}));
  const int levels = config.encoder_levels();
  for (bool training : {true, false}) {
    model->train(training);
    const ForwardOutput out = model->forward(reduced, energies, {10.0, 0.02, keys_for(batch)});
    EXPECT_EQ(out.posterior_logits.sizes(), (std::vector<std::int64_t>{batch, levels * kNodes}));
    EXPECT_EQ(out.posterior_samples.sizes(), (std::vector<std::int64_t>{batch, 4 * kNodes}));
    for (const auto& t : {out.hit_logits, out.activations, out.reconstruction})
      EXPECT_EQ(t.sizes(), (std::vector<std::int64_t>{batch, voxels}));
    EXPECT_TRUE(all_finite(out.reconstruction));
    EXPECT_GE(out.posterior_samples.min().item<double>(), 0.0);
    EXPECT_LE(out.posterior_samples.max().item<double>(), 1.0);
  }
}

TEST_P(ShapeTest, Ds2) {
  const auto [encoder, decoder, conditioning, prior] = GetParam();
  expect_shapes(ds2(), tiny_config(encoder, decoder, conditioning, prior), tiny_prior());
}

/// ds1 is irregular: only the MLP networks apply (the CNN is refused, see CnnRefusesTheIrregularDs1).
class Ds1ShapeTest : public ShapeTest {};

TEST_P(Ds1ShapeTest, Ds1Photons) {
  const auto [encoder, decoder, conditioning, prior] = GetParam();
  expect_shapes(Geometry::builtin("ds1-photons"), tiny_config(encoder, decoder, conditioning, prior), tiny_prior());
}

std::string variant_name(
    const ::testing::TestParamInfo<std::tuple<NetworkKind, NetworkKind, Conditioning, PriorConditioning>>& variant) {
  std::string name = std::string(to_string(std::get<0>(variant.param))) + "_" + to_string(std::get<1>(variant.param)) +
                     "_" + to_string(std::get<2>(variant.param)) + "_" + to_string(std::get<3>(variant.param));
  for (char& c : name)
    if (c == '+') c = '_';
  return name;
}

const auto kConditionings = ::testing::Values(Conditioning::none, Conditioning::encoder, Conditioning::encoder_decoder,
                                              Conditioning::additive, Conditioning::film);
const auto kPriorConditionings = ::testing::Values(PriorConditioning::clamped, PriorConditioning::none);

INSTANTIATE_TEST_SUITE_P(AllVariants, ShapeTest,
                         ::testing::Combine(::testing::Values(NetworkKind::cnn, NetworkKind::fcn),
                                            ::testing::Values(NetworkKind::cnn, NetworkKind::fcn), kConditionings,
                                            kPriorConditionings),
                         variant_name);
INSTANTIATE_TEST_SUITE_P(FcnVariants, Ds1ShapeTest,
                         ::testing::Combine(::testing::Values(NetworkKind::fcn), ::testing::Values(NetworkKind::fcn),
                                            kConditionings, kPriorConditionings),
                         variant_name);

TEST(Networks, VoxelPositionalEncodingFollowsTheReferenceFormula) {
  const torch::Tensor pe = voxel_positional_encoding(ds2());
  ASSERT_EQ(pe.size(0), 6480);
  auto f = [](int p, int d) {
    double s = 0;
    for (int i = 0; i < d; ++i)
      s += (i % 2 ? std::cos(p * std::pow(1e4, -double(i) / d)) : std::sin(p * std::pow(1e4, -double(i) / d)));
    return s;
  };
  const int z = 7, a = 5, r = 3;
  EXPECT_NEAR(pe[144 * z + 9 * a + r].item<double>(), f(z, 45) + f(a, 16) + f(r, 9), 1e-12);
  // Enabled, it changes the encoder's output.
  ModelConfig c = tiny_config(NetworkKind::fcn, NetworkKind::fcn, Conditioning::none, PriorConditioning::none);
  c.voxel_posenc = VoxelPosEnc::sincos;
  EXPECT_NO_THROW(expect_shapes(ds2(), c, tiny_prior()));
}

TEST(Networks, LatentFeedbackScalarMatchesTheReference) {
  // M = 302: n_rep = 74.
  const torch::Tensor s = torch::rand({2, 302}, torch::kDouble);
  double expected = 0;
  for (int k = 0; k < 302; ++k)
    expected += std::cos(k * 3.14159265358979323846 / 302) * s[0][k].item<double>() +
                std::sin(k * 3.14159265358979323846 / 302) * std::abs(1 - s[0][k].item<double>());
  expected *= 74.0 / (301.0 * std::sqrt(302.0));
  EXPECT_NEAR(latent_feedback_scalar(s)[0].item<double>(), expected, 1e-12);
}

// ---------------------------------------------------------------------------
// Relaxations

TEST(Relaxation, SamplesLieInUnitIntervalAndTendToBernoulli) {
  const std::int64_t count = 20000;
  const std::vector<double> logit_values{-2.0, 0.0, 1.5};
  const torch::Tensor logits = torch::tensor(logit_values, torch::kFloat).repeat_interleave(count);
  const torch::Tensor rho =
      philox_uniform(5, kPosteriorNoiseDomain, torch::zeros({1}, torch::kLong), 0, logits.numel(), torch::kFloat)
          .view({-1});
  for (RelaxationKind kind : {RelaxationKind::gumbel, RelaxationKind::spike_exp, RelaxationKind::mixture_exp}) {
    double previous_soft = 1.0;
    for (double beta : {1.0, 10.0, 100.0, 1000.0}) {
      const torch::Tensor zeta = relax(kind, logits, rho, beta);
      ASSERT_TRUE(all_finite(zeta)) << to_string(kind) << " beta " << beta;
      EXPECT_GE(zeta.min().item<double>(), 0.0) << to_string(kind);
      EXPECT_LE(zeta.max().item<double>(), 1.0) << to_string(kind);
      const double soft = ((zeta > 0.01) & (zeta < 0.99)).to(torch::kDouble).mean().item<double>();
      EXPECT_LE(soft, previous_soft + 1e-3) << to_string(kind) << " beta " << beta;
      previous_soft = soft;
      if (beta == 1000.0) {
        EXPECT_LT(soft, 0.01) << to_string(kind);
        for (std::size_t i = 0; i < logit_values.size(); ++i) {
          const double mean =
              zeta.slice(0, static_cast<std::int64_t>(i) * count, static_cast<std::int64_t>(i + 1) * count)
                  .to(torch::kDouble)
                  .mean()
                  .item<double>();
          const double p = 1.0 / (1.0 + std::exp(-logit_values[i]));
          EXPECT_NEAR(mean, p, 0.015) << to_string(kind) << " logit " << logit_values[i];
        }
      }
    }
  }
  const torch::Tensor hard = hard_sample(logits, rho);
  EXPECT_TRUE(((hard == 0) | (hard == 1)).all().item<bool>());
  EXPECT_NEAR(hard.slice(0, 2 * count).mean().item<double>(), 1.0 / (1.0 + std::exp(-1.5)), 0.015);
}

TEST(Relaxation, GradientsAreFinite) {
  for (RelaxationKind kind : {RelaxationKind::gumbel, RelaxationKind::spike_exp, RelaxationKind::mixture_exp}) {
    const torch::Tensor logits = torch::linspace(-30, 30, 301, torch::kFloat).requires_grad_(true);
    const torch::Tensor rho = philox_uniform(3, 1, torch::zeros({1}, torch::kLong), 0, 301, torch::kFloat).view({-1});
    for (double beta : {1.0, 100.0}) {
      relax(kind, logits, rho, beta).sum().backward();
      EXPECT_TRUE(all_finite(logits.grad())) << to_string(kind);
      logits.grad().zero_();
    }
  }
}

TEST(Relaxation, PhiloxUniformsDependOnEventNotPosition) {
  const torch::Tensor a = philox_uniform(1, 2, torch::tensor(std::vector<std::int64_t>{4, 5, 6}), 3, 10, torch::kFloat);
  const torch::Tensor b = philox_uniform(1, 2, torch::tensor(std::vector<std::int64_t>{6}), 3, 10, torch::kFloat);
  EXPECT_TRUE(torch::equal(a[2], b[0]));
  EXPECT_FALSE(torch::equal(a[0], a[1]));
  EXPECT_GT(a.min().item<float>(), 0.0f);
  EXPECT_LT(a.max().item<float>(), 1.0f);
}

// ---------------------------------------------------------------------------
// Prior coupling

TEST(Prior, EnergyAndCentredGradientMatchDenseFormulas) {
  const auto prior = std::make_shared<Prior>(random_machine(4, 5, 0.5, 3, 0.7, 0.4));
  const std::int64_t n = prior->nodes();
  torch::Tensor dense = torch::zeros({n, n}, torch::kDouble);
  dense.index_put_({prior->edge_first(), prior->edge_second()}, prior->weights());
  const torch::Tensor z = (torch::rand({6, n}, torch::kDouble) > 0.5).to(torch::kDouble);
  const torch::Tensor expected = -z.matmul(prior->biases()) - (z.matmul(dense) * z).sum(1);
  EXPECT_TRUE(torch::allclose(prior->energy(z, false), expected));
  // The machine's own energy agrees.
  const torch::Tensor bytes = z[0].to(torch::kUInt8).contiguous();
  EXPECT_NEAR(prior->machine().energy(bytes.data_ptr<std::uint8_t>()), expected[0].item<double>(), 1e-12);
  const torch::Tensor b0 = prior->biases().slice(0, 0, 5);
  EXPECT_TRUE(torch::allclose(prior->energy(z, true), expected + z.slice(1, 0, 5).matmul(b0)));

  // Centred gradient against torch.cov on the dense layout.
  const torch::Tensor data = torch::rand({50, n}, torch::kDouble);
  const torch::Tensor model = (torch::rand({40, n}, torch::kDouble) > 0.3).to(torch::kDouble);
  const PriorGradient g = prior->centred_gradient(data, model, 1e-4);
  const torch::Tensor cov = torch::cov(data.t()) - torch::cov(model.t());
  const torch::Tensor mask = (dense != 0).to(torch::kDouble) + (dense != 0).to(torch::kDouble).t();
  const torch::Tensor gw = cov * mask;
  EXPECT_TRUE(torch::allclose(g.weights, gw.index({prior->edge_first(), prior->edge_second()})));
  const torch::Tensor md = data.mean(0).clamp(1e-4, 1 - 1e-4), mm = model.mean(0).clamp(1e-4, 1 - 1e-4);
  EXPECT_TRUE(torch::allclose(g.biases, (md - mm) - 0.5 * gw.matmul(md + mm)));
}

TEST(Prior, ParametersViewTheMachineBuffers) {
  const auto prior = tiny_prior();
  EXPECT_EQ(prior->biases().data_ptr(), static_cast<void*>(prior->machine().biases()));
  EXPECT_EQ(prior->weights().data_ptr(), static_cast<void*>(prior->machine().weights()));
  EXPECT_EQ(prior->weights().numel(), prior->machine().num_couplers());
}

TEST(Prior, KokkosGibbsKeepsTheClampedPartitionAndIsKeyedByChain) {
  const auto prior = tiny_prior();
  const torch::Tensor initial = (torch::rand({4, prior->nodes()}, torch::kDouble) > 0.5).to(torch::kDouble);
  const GibbsRequest request{5, true, 17, 10, 0};
  const torch::Tensor all = prior->sample(initial, request);
  EXPECT_TRUE(torch::equal(all.slice(1, 0, kNodes), initial.slice(1, 0, kNodes)));
  EXPECT_FALSE(torch::equal(all, initial));
  GibbsRequest tail = request;
  tail.first_chain = 12;
  EXPECT_TRUE(torch::equal(prior->sample(initial.slice(0, 2), tail), all.slice(0, 2)));
  // Sampling reads the parameters and never writes them.
  const torch::Tensor weights = prior->weights().clone();
  prior->sample(initial, GibbsRequest{5, false, 3, 0, 0});
  EXPECT_TRUE(torch::equal(prior->weights(), weights));
}

TEST(Prior, MakePriorBuildsPegasusOrReadsAnRbmFile) {
  ModelConfig c =
      tiny_config(NetworkKind::cnn, NetworkKind::cnn, Conditioning::encoder_decoder, PriorConditioning::clamped);
  const qvae::par::Communicator comm;
  const auto pegasus = make_prior(c, 5, comm);
  EXPECT_EQ(pegasus->nodes(), 4 * kNodes);
  EXPECT_GT(pegasus->couplers(), 4 * kNodes);
  const std::string path = testing::TempDir() + "/qvae_model_prior.h5";
  qvae::rbm::write_rbm(path, pegasus->machine(), comm, qvae::io::Provenance{"test", 5, ""});
  c.rbm.file = path;
  const auto loaded = make_prior(c, 0, comm);
  EXPECT_TRUE(torch::equal(loaded->weights(), pegasus->weights()));
  c.rbm.nodes_per_partition = 100;
  EXPECT_THROW(make_prior(c, 0, comm), UsageError);
  std::remove(path.c_str());
}

// ---------------------------------------------------------------------------
// Loss

TEST(Loss, AllTermsFiniteForAnEmptyAndA1TeVShower) {
  const Showers tev = simulate(ds2(), {1e6});
  for (NetworkKind kind : {NetworkKind::cnn, NetworkKind::fcn}) {
    Qvae model(tiny_config(kind, kind, Conditioning::encoder_decoder, PriorConditioning::clamped), ds2(), tiny_prior());
    const torch::Tensor showers = torch::cat({torch::zeros({1, ds2().voxels()}), tev.showers});
    const torch::Tensor energies = torch::tensor(std::vector<double>{5e4, 1e6}, torch::kDouble);
    const torch::Tensor u = model->reduce(showers, energies);
    EXPECT_EQ(u[0].abs().sum().item<double>(), 0.0);
    EXPECT_GT(u[1].max().item<double>(), 5.0);
    for (std::int64_t row : {0, 1}) {
      const ForwardOutput out =
          model->forward(u.slice(0, row, row + 1).clone(), energies.slice(0, row, row + 1), {1.0, 0.05, keys_for(1)});
      const LossTerms terms = model->loss(out, model->negative_samples(out, keys_for(1)));
      for (const auto& [name, value] : terms.values()) EXPECT_TRUE(std::isfinite(value)) << name << " row " << row;
      model->zero_grad();
      terms.total.backward();
      for (const auto& p : model->parameters()) EXPECT_TRUE(all_finite(p.grad())) << "row " << row;
    }
  }
}

TEST(Loss, ReconstructionTermIsTheReferenceFormula) {
  Qvae model(tiny_config(NetworkKind::fcn, NetworkKind::fcn, Conditioning::none, PriorConditioning::none), ds2(),
             tiny_prior());
  const Showers& data = ds2_showers();
  const torch::Tensor u = model->reduce(data.showers, data.energies);
  const ForwardOutput out = model->forward(u, data.energies, {1.0, 0.05, keys_for(4)});
  const LossTerms terms = model->loss(out, model->negative_samples(out, keys_for(4)));
  const torch::Tensor expected = 0.01 * ((u - out.reconstruction).pow(2) * torch::exp(0.5 * u)).sum(1).mean();
  EXPECT_NEAR(terms.ae.item<double>(), expected.item<double>(), 1e-5 * expected.item<double>());
  const torch::Tensor bce =
      torch::binary_cross_entropy_with_logits(out.hit_logits, (u > 0).to(torch::kFloat), {}, {}, at::Reduction::None);
  EXPECT_NEAR(terms.hit.item<double>(), bce.sum(1).mean().item<double>(), 1e-3);
  EXPECT_NEAR(terms.kl.item<double>(), (terms.entropy + terms.pos_energy).item<double>(), 1e-4);
}

/// Total loss of a double-precision model at fixed noise and negative samples.
torch::Tensor double_loss(Qvae& model, const torch::Tensor& u, const torch::Tensor& energies,
                          const torch::Tensor& negative) {
  const ForwardOutput out = model->forward(u, energies, {3.0, 0.05, keys_for(u.size(0))});
  return model->loss(out, negative).total;
}

TEST(Loss, FiniteDifferenceGradientsOfATinyNetwork) {
  torch::manual_seed(2024);  // fixed initialisation: the check is deterministic
  for (NetworkKind kind : {NetworkKind::fcn, NetworkKind::cnn}) {
    ModelConfig c = tiny_config(kind, kind, Conditioning::film, PriorConditioning::clamped);
    c.relaxation = RelaxationKind::mixture_exp;
    Qvae model(c, ds2(), tiny_prior());
    model->to(torch::kDouble);
    const Showers& data = ds2_showers();
    const torch::Tensor u = model->reduce(data.showers.slice(0, 0, 2), data.energies.slice(0, 0, 2)).to(torch::kDouble);
    const torch::Tensor energies = data.energies.slice(0, 0, 2);
    torch::Tensor negative;
    {
      const ForwardOutput out = model->forward(u, energies, {3.0, 0.05, keys_for(2)});
      negative = model->negative_samples(out, keys_for(2));
    }
    model->zero_grad();
    double_loss(model, u, energies, negative).backward();
    const auto params = model->named_parameters();
    const std::size_t stride = std::max<std::size_t>(1, params.size() / 10);
    int checked = 0;
    for (std::size_t index = 0; index < params.size(); index += stride) {
      torch::Tensor p = params[index].value();
      const torch::Tensor flat = p.detach().view({-1});
      const torch::Tensor gradient = p.grad().view({-1});
      const std::int64_t entry = gradient.abs().argmax().item<std::int64_t>();  // the most sensitive entry
      const double analytic = gradient[entry].item<double>();
      if (analytic == 0.0) continue;  // e.g. a bias before BatchNorm
      const double original = flat[entry].item<double>();
      // Central differences; the loss (~1e4-1e5) carries ~1e-11 of roundoff, so
      // h = 1e-5.  A PReLU/ReLU kink crossed by the step spoils one step size
      // at most, so a second, smaller step decides.
      double numeric = 0.0;
      bool agrees = false;
      for (double h : {1e-5, 1e-6}) {
        torch::NoGradGuard guard;
        flat[entry] = original + h;
        const double plus = double_loss(model, u, energies, negative).item<double>();
        flat[entry] = original - h;
        const double minus = double_loss(model, u, energies, negative).item<double>();
        flat[entry] = original;
        numeric = (plus - minus) / (2 * h);
        agrees = std::abs(analytic - numeric) <= 1e-4 * std::abs(analytic) + 1e-5;
        if (agrees) break;
      }
      EXPECT_TRUE(agrees) << to_string(kind) << " parameter " << params[index].key() << " " << p.sizes()
                          << ": analytic " << analytic << ", numeric " << numeric;
      ++checked;
    }
    EXPECT_GE(checked, 6) << to_string(kind);
  }
}

TEST(Loss, PositivePhaseReachesTheEncoderAndLeavesTheSamplerAlone) {
  for (RbmUpdate update : {RbmUpdate::centred_sgd, RbmUpdate::autograd}) {
    ModelConfig c =
        tiny_config(NetworkKind::cnn, NetworkKind::cnn, Conditioning::encoder_decoder, PriorConditioning::clamped);
    c.rbm.update = update;
    const auto prior = tiny_prior();
    Qvae model(c, ds2(), prior);
    // The model's RBM tensors are the sampler's buffers.
    EXPECT_EQ(model->prior_parameters()[0].data_ptr(), prior->biases().data_ptr());
    EXPECT_EQ(model->prior_parameters()[1].data_ptr(), prior->weights().data_ptr());
    const torch::Tensor biases_before = prior->biases().detach().clone();
    const torch::Tensor weights_before = prior->weights().detach().clone();

    const Showers& data = ds2_showers();
    const torch::Tensor u = model->reduce(data.showers, data.energies);
    const ForwardOutput out = model->forward(u, data.energies, {2.0, 0.05, keys_for(4)});
    const torch::Tensor negative = model->negative_samples(out, keys_for(4));
    const LossTerms terms = model->loss(out, negative);
    model->zero_grad();
    terms.pos_energy.backward();
    double encoder_gradient = 0.0;
    for (const auto& p : model->encoder()->parameters())
      if (p.grad().defined()) encoder_gradient += p.grad().abs().sum().item<double>();
    EXPECT_GT(encoder_gradient, 0.0) << to_string(update);
    for (const auto& p : model->decoder()->parameters())
      EXPECT_TRUE(!p.grad().defined() || p.grad().abs().sum().item<double>() == 0.0);
    EXPECT_TRUE(torch::equal(prior->biases().detach(), biases_before)) << to_string(update);
    EXPECT_TRUE(torch::equal(prior->weights().detach(), weights_before)) << to_string(update);
    if (update == RbmUpdate::autograd) {
      EXPECT_TRUE(model->prior_parameters()[1].grad().defined());
    } else {
      EXPECT_FALSE(model->prior_parameters()[1].requires_grad());
    }
  }
}

TEST(Loss, RbmUpdatesChangeTheSharedBuffersInPlace) {
  for (RbmUpdate update : {RbmUpdate::centred_sgd, RbmUpdate::centred_adam, RbmUpdate::autograd}) {
    ModelConfig c = tiny_config(NetworkKind::fcn, NetworkKind::fcn, Conditioning::none, PriorConditioning::clamped);
    c.rbm.update = update;
    const auto prior = tiny_prior();
    Qvae model(c, ds2(), prior);
    const void* storage = prior->weights().data_ptr();
    const torch::Tensor before = prior->weights().detach().clone();
    const Showers& data = ds2_showers();
    const ForwardOutput out =
        model->forward(model->reduce(data.showers, data.energies), data.energies, {2.0, 0.05, keys_for(4)});
    const torch::Tensor negative = model->negative_samples(out, keys_for(4));
    if (update == RbmUpdate::autograd) {
      auto optimiser = model->make_prior_optimizer();
      optimiser->zero_grad();
      model->loss(out, negative).total.backward();
      optimiser->step();
    } else {
      const PriorGradient g = model->prior_gradient(out, negative);
      model->apply_prior_gradient(g);
      if (update == RbmUpdate::centred_sgd) {
        EXPECT_TRUE(torch::allclose(prior->weights().detach(), before + 0.01 * g.weights));
      }
    }
    EXPECT_EQ(prior->weights().data_ptr(), storage);
    EXPECT_FALSE(torch::equal(prior->weights().detach(), before)) << to_string(update);
  }
}

// ---------------------------------------------------------------------------
// Generation and checkpoints

TEST(Generation, ShowersAreFiniteNonNegativeAndIndependentOfTheSplit) {
  for (PriorConditioning prior_conditioning : {PriorConditioning::clamped, PriorConditioning::none}) {
    Qvae model(tiny_config(NetworkKind::cnn, NetworkKind::cnn, Conditioning::encoder_decoder, prior_conditioning),
               ds2(), tiny_prior());
    {
      torch::NoGradGuard guard;  // an untrained energy head is mostly negative: shift it so showers are not empty
      for (auto& p : model->decoder()->named_parameters())
        if (p.key().find("energy_head") != std::string::npos && p.key().find("bias") != std::string::npos)
          p.value().add_(0.5);
    }
    const std::vector<double> energies{1e3, 2e4, 3e5, 1e6};
    const qvae::data::ShowerBlock all = model->generate(energies, 42, 100);
    ASSERT_EQ(all.events(), 4);
    ASSERT_EQ(all.voxels, 6480);
    EXPECT_TRUE(model->is_training());  // restored
    std::int64_t hits = 0;
    for (float v : all.showers) {
      ASSERT_TRUE(std::isfinite(v));
      ASSERT_GE(v, 0.0f);
      hits += v > 0;
    }
    EXPECT_GT(hits, 100);
    const auto head = model->generate({energies[0], energies[1]}, 42, 100);
    const auto tail = model->generate({energies[2], energies[3]}, 42, 102);
    std::vector<float> joined = head.showers;
    joined.insert(joined.end(), tail.showers.begin(), tail.showers.end());
    EXPECT_EQ(joined, all.showers) << to_string(prior_conditioning);
    const auto other_seed = model->generate(energies, 43, 100);
    EXPECT_NE(other_seed.showers, all.showers);
  }
}

// ---------------------------------------------------------------------------
// Layer-energy head

// The head's targets are the data's own total (through the voxel transform)
// and layer shares; decoding scales every hit layer to the drawn total x share.
TEST(LayerHead, TargetsAreTheShowersTotalAndSharesAndDecodingRestoresThem) {
  const Geometry geometry = Geometry::builtin("ds1-photons");
  ModelConfig c =
      tiny_config(NetworkKind::fcn, NetworkKind::fcn, Conditioning::encoder_decoder, PriorConditioning::clamped);
  c.layer_energies = LayerEnergies::predicted;
  c.layer_head_hidden = {16};
  c.fraction_scale = 2;  // GFlash ds1 totals exceed E_inc
  c.energy_code_widths = {0, 0, 0};
  c.energy_code_max_mev = 4194304;
  Qvae model(c, geometry, tiny_prior());
  model->eval();
  const Showers data = simulate(geometry, {512.0, 65536.0, 4194304.0});
  const torch::Tensor u = model->reduce(data.showers, data.energies);
  const ForwardOutput out = model->forward(u, data.energies, StepSettings{1.0, 0.0, keys_for(3)});
  ASSERT_EQ(out.layer_logits.size(1), geometry.num_layers() + 1);
  ASSERT_EQ(out.layer_targets.size(1), geometry.num_layers() + 1);
  const std::vector<std::int64_t> offsets = geometry.layer_offsets();
  const qvae::data::LogitTransform transform = c.voxel_transform();
  for (std::int64_t b = 0; b < 3; ++b) {
    const double energy = data.energies[b].item<double>();
    const double total = data.showers[b].to(torch::kDouble).sum().item<double>();
    EXPECT_NEAR(transform.inverse(out.layer_targets[b][0].item<double>(), energy), total, 1e-4 * total);
    for (int l = 0; l < geometry.num_layers(); ++l) {
      const double layer = data.showers[b].slice(0, offsets[l], offsets[l + 1]).to(torch::kDouble).sum().item<double>();
      EXPECT_NEAR(out.layer_targets[b][l + 1].item<double>(), layer / total, 1e-5);
    }
  }
  // Decode the data itself with a chosen head output: layer sums become total x share.
  torch::Tensor draw = torch::zeros({3, geometry.num_layers() + 1}, torch::kDouble);
  draw.select(1, 0).fill_(transform.forward(100.0, 512.0));  // a total of 100 MeV
  draw.slice(1, 1).copy_(torch::log(torch::arange(1, geometry.num_layers() + 1, torch::kDouble)));  // shares ~ 1..L
  std::vector<float> mev(static_cast<std::size_t>(3 * geometry.voxels()));
  const std::vector<double> energies = {512.0, 512.0, 512.0};
  model->decode_to_mev(u, draw, energies, mev.data());
  int showers_with_an_empty_layer = 0;
  for (std::int64_t b = 0; b < 3; ++b) {
    // Shares ~ l + 1 over the layers the shower hits: an empty layer stays
    // empty and its share goes to the others, so every shower keeps 100 MeV.
    double share_norm = 0.0;
    for (int l = 0; l < geometry.num_layers(); ++l)
      if (data.showers[b].slice(0, offsets[l], offsets[l + 1]).sum().item<double>() > 0) share_norm += l + 1;
    showers_with_an_empty_layer += share_norm < geometry.num_layers() * (geometry.num_layers() + 1) / 2.0;
    for (int l = 0; l < geometry.num_layers(); ++l) {
      double sum = 0.0, data_sum = 0.0;
      for (std::int64_t v = offsets[l]; v < offsets[l + 1]; ++v) {
        sum += static_cast<double>(mev[static_cast<std::size_t>(b * geometry.voxels() + v)]);
        data_sum += data.showers[b][v].item<double>();
      }
      const double expected = data_sum > 0 ? 100.0 * (l + 1) / share_norm : 0.0;
      EXPECT_NEAR(sum, expected, 1e-4 * 100.0) << "event " << b << " layer " << l;
    }
  }
  EXPECT_GT(showers_with_an_empty_layer, 0) << "the low-energy shower should leave a layer empty";
}

TEST(Checkpoint, SaveAndLoadRestoreNetworksAndPriorInPlace) {
  ModelConfig c = tiny_config(NetworkKind::fcn, NetworkKind::cnn, Conditioning::additive, PriorConditioning::clamped);
  c.rbm.update = RbmUpdate::centred_adam;
  c.rbm.negative_chains = NegativeChains::pcd;
  const auto prior = tiny_prior();
  Qvae model(c, ds2(), prior);
  const Showers& data = ds2_showers();
  const ForwardOutput out =
      model->forward(model->reduce(data.showers, data.energies), data.energies, {2.0, 0.0, keys_for(4)});
  const torch::Tensor negative = model->negative_samples(out, keys_for(4));
  model->apply_prior_gradient(model->prior_gradient(out, negative));
  std::stringstream stream;
  torch::save(model, stream);
  const torch::Tensor weights = prior->weights().detach().clone();
  const torch::Tensor first_parameter = model->parameters()[0].detach().clone();
  {
    torch::NoGradGuard guard;
    prior->weights().add_(1.0);
    model->parameters()[0].add_(1.0);
  }
  const void* storage = prior->weights().data_ptr();
  torch::load(model, stream);
  EXPECT_TRUE(torch::equal(prior->weights().detach(), weights));
  EXPECT_EQ(prior->weights().data_ptr(), storage);
  EXPECT_TRUE(torch::equal(model->parameters()[0].detach(), first_parameter));
}

}  // namespace
