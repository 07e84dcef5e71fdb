// LibTorch side: tensors sharing the machine's memory, the dense per-pair
// layout of the reference models, and the dense masked-matmul sampler, which
// must sample the same distribution as the sparse one.
#include <gtest/gtest.h>

#include "qvae/core/error.hpp"
#include "qvae/rbm/coupling_energy.hpp"
#include "qvae/rbm/sampler.hpp"
#include "qvae/rbm/torch_sampler.hpp"
#include "qvae/rbm/torch_tensors.hpp"
#include "rbm_test_models.hpp"

namespace qvae::rbm {
namespace {

using testing::exact_moments;
using testing::expect_moments_match;
using testing::random_machine;
using testing::sampled_moments;

constexpr std::int64_t kChains = 20000;
constexpr std::int64_t kSweeps = 300;

ChainBlock sample(const BoltzmannMachine& machine, const SamplerSettings& settings, bool torch_backend,
                  std::int64_t chains, std::int64_t sweeps, const Clamp* clamp = nullptr) {
  std::unique_ptr<Sampler> sampler =
      torch_backend ? make_torch_sampler(machine, settings) : make_kokkos_sampler(machine, settings);
  sampler->set_chains(random_chains(machine.num_nodes(), settings.seed, 0, chains));
  if (clamp) sampler->set_clamp(*clamp);
  sampler->sweep(sweeps);
  return sampler->chains();
}

TEST(RbmTensors, ShareMemoryWithTheMachine) {
  BoltzmannMachine machine = random_machine(4, 3, 0.5, 1.0, 1.0, 1);
  torch::Tensor biases = biases_tensor(machine);
  torch::Tensor weights = weights_tensor(machine);
  EXPECT_EQ(biases.data_ptr<double>(), machine.biases());
  EXPECT_EQ(weights.data_ptr<double>(), machine.weights());
  EXPECT_EQ(biases.numel(), machine.num_nodes());
  EXPECT_EQ(weights.numel(), machine.num_couplers());
  biases.mul_(2.0);
  weights[0] = 42.0;
  EXPECT_EQ(machine.weights()[0], 42.0);
  machine.biases()[1] = -7.0;
  EXPECT_EQ(biases[1].item<double>(), -7.0);
  // A sampler sees the change after refresh_parameters.
  std::unique_ptr<Sampler> sampler = make_kokkos_sampler(machine, SamplerSettings{});
  biases.fill_(30.0);  // every unit's field is large and positive: all ones
  weights.fill_(0.0);
  sampler->refresh_parameters();
  sampler->set_chains(random_chains(machine.num_nodes(), 1, 0, 8));
  sampler->sweep(1);
  for (std::uint8_t v : sampler->chains().states) EXPECT_EQ(v, 1);
}

TEST(RbmTensors, DenseRoundTripsBothWays) {
  BoltzmannMachine machine = random_machine(4, 5, 0.4, 1.0, 1.0, 2);
  const DenseModel dense = to_dense(machine);
  ASSERT_EQ(dense.weights.size(), 6u);
  for (const char* key : {"01", "02", "03", "12", "13", "23"}) {
    ASSERT_TRUE(dense.weights.count(key)) << key;
    EXPECT_EQ(dense.weights.at(key).sizes(), (std::vector<std::int64_t>{5, 5}));
    // Masked: zero wherever the mask is.
    EXPECT_EQ(dense.weights.at(key).mul(1 - dense.masks.at(key)).abs().sum().item<double>(), 0.0);
  }
  EXPECT_EQ(static_cast<std::int64_t>(
                torch::stack({dense.masks.at("01").sum(), dense.masks.at("02").sum(), dense.masks.at("03").sum(),
                              dense.masks.at("12").sum(), dense.masks.at("13").sum(), dense.masks.at("23").sum()})
                    .sum()
                    .item<double>()),
            machine.num_couplers());
  // A coupler's weight sits at (position in the lower partition, position in the upper).
  const auto [i, j] = machine.couplers()[3];
  const std::string key = std::to_string(machine.partition_of(i)) + std::to_string(machine.partition_of(j));
  EXPECT_EQ(dense.weights.at(key)[machine.position_in_partition(i)][machine.position_in_partition(j)].item<double>(),
            machine.weights()[3]);

  // machine -> dense -> machine
  BoltzmannMachine copy(machine.graph());
  from_dense(copy, dense);
  for (std::int64_t n = 0; n < machine.num_nodes(); ++n) EXPECT_EQ(copy.biases()[n], machine.biases()[n]);
  for (std::int64_t e = 0; e < machine.num_couplers(); ++e) EXPECT_EQ(copy.weights()[e], machine.weights()[e]);
  // dense -> machine -> dense (a machine rebuilt from the masks alone)
  const BoltzmannMachine rebuilt = machine_from_dense(dense);
  EXPECT_EQ(rebuilt.num_couplers(), machine.num_couplers());
  const DenseModel again = to_dense(rebuilt);
  for (const auto& [name, tensor] : dense.weights) EXPECT_TRUE(torch::equal(tensor, again.weights.at(name))) << name;
  for (const auto& [name, tensor] : dense.masks) EXPECT_TRUE(torch::equal(tensor, again.masks.at(name))) << name;
  for (const auto& [name, tensor] : dense.biases) EXPECT_TRUE(torch::equal(tensor, again.biases.at(name))) << name;
  // Float32 dense tensors (the reference's dtype) convert too.
  const DenseModel single = to_dense(machine, torch::kFloat32);
  EXPECT_EQ(single.weights.at("01").scalar_type(), torch::kFloat32);

  // Off-mask entries are ignored, as the reference's masked read does.
  DenseModel noisy = dense;
  noisy.weights["01"] = dense.weights.at("01") + 5.0 * (1 - dense.masks.at("01"));
  BoltzmannMachine from_noisy(machine.graph());
  from_dense(from_noisy, noisy);
  for (std::int64_t e = 0; e < machine.num_couplers(); ++e) EXPECT_EQ(from_noisy.weights()[e], machine.weights()[e]);
}

TEST(RbmTensors, DenseRefusals) {
  BoltzmannMachine machine = random_machine(4, 3, 0.5, 1.0, 1.0, 3);
  DenseModel dense = to_dense(machine);
  DenseModel wrong_shape = dense;
  wrong_shape.weights["12"] = torch::zeros({3, 4}, torch::kFloat64);
  EXPECT_THROW(from_dense(machine, wrong_shape), core::InputError);
  DenseModel missing = dense;
  missing.biases.erase("2");
  EXPECT_THROW(from_dense(machine, missing), core::InputError);
  DenseModel other_mask = dense;
  other_mask.masks["03"] = 1 - dense.masks.at("03");
  EXPECT_THROW(from_dense(machine, other_mask), core::InputError);
}

TEST(TorchGibbs, MatchesExactMoments) {
  const BoltzmannMachine machine = random_machine(4, 4, 0.6, 1.0, 0.5, 11);
  for (const auto& [beta, scope] :
       {std::pair<double, BetaScope>{1.0, BetaScope::couplings},
        std::pair<double, BetaScope>{2.0, BetaScope::couplings}, std::pair<double, BetaScope>{0.6, BetaScope::all}}) {
    SamplerSettings settings;
    settings.seed = 2025;
    settings.beta = beta;
    settings.beta_scope = scope;
    const ChainBlock chains = sample(machine, settings, true, kChains, kSweeps);
    expect_moments_match(exact_moments(machine, beta, scope), sampled_moments(chains), kChains, 5.0,
                         "torch beta=" + std::to_string(beta) + " " + to_string(scope));
  }
}

TEST(TorchGibbs, ClampedConditional) {
  const BoltzmannMachine machine = random_machine(4, 4, 0.7, 1.0, 0.5, 14);
  Clamp clamp;
  clamp.partitions = {1};
  clamp.rows = 1;
  clamp.values = {1, 0, 0, 1};
  std::vector<int> fixed(16, -1), skip;
  for (std::size_t k = 0; k < 4; ++k) {
    fixed[static_cast<std::size_t>(machine.partition_nodes(1)[k])] = clamp.values[k];
    skip.push_back(static_cast<int>(machine.partition_nodes(1)[k]));
  }
  SamplerSettings settings;
  settings.seed = 4;
  const ChainBlock chains = sample(machine, settings, true, kChains, kSweeps, &clamp);
  for (std::int64_t c = 0; c < chains.count; ++c)
    for (std::size_t k = 0; k < 4; ++k) ASSERT_EQ(chains.state(c)[machine.partition_nodes(1)[k]], clamp.values[k]);
  expect_moments_match(exact_moments(machine, 1.0, BetaScope::couplings, fixed), sampled_moments(chains), kChains, 5.0,
                       "torch clamped", skip);
}

TEST(TorchGibbs, AgreesWithTheSparseSampler) {
  const BoltzmannMachine machine = random_machine(4, 4, 0.6, 1.2, 0.7, 21);
  SamplerSettings settings;
  settings.seed = 606;
  // In distribution: independent runs (different seeds), two-sample z-scores.
  SamplerSettings other = settings;
  other.seed = 607;
  const auto sparse = sampled_moments(sample(machine, settings, false, kChains, kSweeps));
  const auto dense = sampled_moments(sample(machine, other, true, kChains, kSweeps));
  for (std::size_t i = 0; i < sparse.mean.size(); ++i) {
    const double p = 0.5 * (sparse.mean[i] + dense.mean[i]);
    const double z = (sparse.mean[i] - dense.mean[i]) / std::sqrt(2 * p * (1 - p) / kChains);
    EXPECT_LT(std::fabs(z), 5.0) << "unit " << i;
  }
  // Draw for draw: the same seed gives the same uniforms, so one sweep from
  // the same start agrees except at near-ties of the fields' rounding.
  const ChainBlock a = sample(machine, settings, false, 4000, 1);
  const ChainBlock b = sample(machine, settings, true, 4000, 1);
  std::int64_t same = 0;
  for (std::size_t k = 0; k < a.states.size(); ++k) same += a.states[k] == b.states[k];
  EXPECT_GE(static_cast<double>(same) / static_cast<double>(a.states.size()), 0.9999);
  EXPECT_EQ(a.sweeps, b.sweeps);
}

TEST(TorchGibbs, ResumeContinuesBitExactly) {
  const BoltzmannMachine machine = random_machine(4, 6, 0.5, 1.0, 0.5, 16);
  SamplerSettings settings;
  settings.seed = 31337;
  const ChainBlock start = random_chains(machine.num_nodes(), settings.seed, 10, 50);
  std::unique_ptr<Sampler> straight = make_torch_sampler(machine, settings);
  straight->set_chains(start);
  straight->sweep(20);
  std::unique_ptr<Sampler> first = make_torch_sampler(machine, settings);
  first->set_chains(start);
  first->sweep(8);
  std::unique_ptr<Sampler> second = make_torch_sampler(machine, settings);
  second->set_chains(first->chains());
  second->sweep(12);
  EXPECT_EQ(second->chains().states, straight->chains().states);
  EXPECT_EQ(second->backend(), "torch");
}

TEST(TorchGibbs, AnnealingIsSetBetaSweepAndCouplingEnergyStepByStep) {
  // The default Sampler::anneal, which backends without a fused run inherit.
  const BoltzmannMachine machine = random_machine(4, 6, 0.5, 1.0, 0.5, 17);
  SamplerSettings settings;
  settings.seed = 77;
  settings.beta_scope = BetaScope::all;  // anneal scales the couplings only
  const std::vector<AnnealingStep> steps = {{0.0, 1, 0.5}, {0.4, 2, -0.25}, {1.0, 1, 2.0}};
  const ChainBlock start = random_chains(machine.num_nodes(), 77, 4, 30);
  std::unique_ptr<Sampler> annealed = make_torch_sampler(machine, settings);
  std::unique_ptr<Sampler> stepped = make_torch_sampler(machine, settings);
  annealed->set_chains(start);
  stepped->set_chains(start);
  std::vector<double> accumulated(30, 1.0), expected(accumulated);
  std::vector<std::int64_t> progress;
  annealed->anneal(steps, accumulated.data(), [&](std::int64_t done, std::int64_t total) {
    EXPECT_EQ(total, 3);
    progress.push_back(done);
  });
  for (const AnnealingStep& step : steps) {
    stepped->set_beta(step.beta, BetaScope::couplings);
    stepped->sweep(step.sweeps);
    const std::vector<double> q = CouplingEnergy(machine).evaluate(stepped->chains());
    for (std::size_t c = 0; c < q.size(); ++c) expected[c] += step.energy_weight * q[c];
  }
  EXPECT_EQ(accumulated, expected);
  EXPECT_EQ(annealed->chains().states, stepped->chains().states);
  EXPECT_EQ(progress, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(annealed->settings().beta_scope, BetaScope::couplings);
}

}  // namespace
}  // namespace qvae::rbm
