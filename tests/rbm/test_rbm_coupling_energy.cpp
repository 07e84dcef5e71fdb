// The coupling energy Q(z) = Σ_e W_e z_i z_j of many chains, and annealing
// runs (Sampler::anneal), which evaluate it in the sampler's own layout tile by
// tile and must give the same bits as the step-by-step definition.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "qvae/rbm/coupling_energy.hpp"
#include "qvae/rbm/kokkos_gibbs_sampler.hpp"
#include "qvae/rbm/sampler.hpp"
#include "rbm_test_models.hpp"

namespace qvae::rbm {
namespace {

using qvae::testing::NodeOrder;
using testing::random_machine;

TEST(CouplingEnergy, IsTheCouplingPartOfTheEnergy) {
  const BoltzmannMachine machine = random_machine(4, 5, 0.5, 1.0, 1.0, 6);
  const ChainBlock states = random_chains(machine.num_nodes(), 4, 0, 150);  // 9 full tiles + a partial one
  const std::vector<double> q = CouplingEnergy(machine).evaluate(states);
  detail::force_portable_energy_kernel(true);
  EXPECT_EQ(CouplingEnergy(machine).evaluate(states), q);  // bit for bit
  detail::force_portable_energy_kernel(false);
  // A chain's value does not depend on its tile or lane.
  ChainBlock shifted = random_chains(machine.num_nodes(), 4, 0, 3);
  shifted.states.insert(shifted.states.end(), states.states.begin(), states.states.end());
  shifted.count += states.count;
  shifted.sweeps.resize(static_cast<std::size_t>(shifted.count), 0);
  const std::vector<double> q_shifted = CouplingEnergy(machine).evaluate(shifted);
  EXPECT_EQ(std::vector<double>(q_shifted.begin() + 3, q_shifted.end()), q);
  for (std::int64_t c = 0; c < states.count; ++c) {
    double bias_part = 0;
    for (std::int64_t i = 0; i < machine.num_nodes(); ++i) bias_part += states.state(c)[i] ? machine.biases()[i] : 0.0;
    EXPECT_NEAR(q[static_cast<std::size_t>(c)], -machine.energy(states.state(c)) - bias_part, 1e-12);
  }
}

TEST(CouplingEnergy, AnyStateLayoutGivesTheSameBits) {
  const BoltzmannMachine machine = random_machine(4, 6, 0.5, 1.0, 1.0, 8);
  const ChainBlock states = random_chains(machine.num_nodes(), 5, 0, 40);
  std::vector<std::int64_t> reversed(static_cast<std::size_t>(machine.num_nodes()));
  for (std::size_t n = 0; n < reversed.size(); ++n) reversed[n] = static_cast<std::int64_t>(reversed.size() - 1 - n);
  EXPECT_EQ(CouplingEnergy(machine, reversed).evaluate(states), CouplingEnergy(machine).evaluate(states));
}

TEST(CouplingEnergy, RefreshWeightsReadsChangedWeights) {
  BoltzmannMachine machine = random_machine(4, 5, 0.5, 1.0, 1.0, 9);
  const ChainBlock states = random_chains(machine.num_nodes(), 6, 0, 20);
  CouplingEnergy energy(machine);
  const std::vector<double> before = energy.evaluate(states);
  for (std::int64_t e = 0; e < machine.num_couplers(); ++e) machine.weights()[e] *= 2;
  EXPECT_EQ(energy.evaluate(states), before);  // a snapshot until refreshed
  energy.refresh_weights();
  const std::vector<double> after = energy.evaluate(states);
  for (std::size_t c = 0; c < after.size(); ++c) EXPECT_EQ(after[c], 2 * before[c]);  // exact: a power of 2
}

/// anneal() against its definition: set_beta, sweep and Q of the copied-out
/// chains, step by step, on a copy of the same chains.
void expect_anneal_matches_step_by_step(const BoltzmannMachine& machine, const SamplerSettings& settings,
                                        const ChainBlock& start, const Clamp* clamp,
                                        const std::vector<AnnealingStep>& steps, const std::string& what) {
  std::unique_ptr<Sampler> annealed = make_kokkos_sampler(machine, settings);
  std::unique_ptr<Sampler> stepped = make_kokkos_sampler(machine, settings);
  annealed->set_chains(start);
  stepped->set_chains(start);
  if (clamp) {
    annealed->set_clamp(*clamp);
    stepped->set_clamp(*clamp);
  }
  std::vector<double> accumulated(static_cast<std::size_t>(start.count), 0.5), expected(accumulated);
  std::int64_t last_done = 0, calls = 0;
  annealed->anneal(steps, accumulated.data(), [&](std::int64_t done, std::int64_t total) {
    EXPECT_GT(done, last_done) << what;
    EXPECT_LE(done, total) << what;
    last_done = done;
    ++calls;
  });
  const CouplingEnergy coupling(machine);
  for (const AnnealingStep& step : steps) {
    stepped->set_beta(step.beta, BetaScope::couplings);
    stepped->sweep(step.sweeps);
    const std::vector<double> q = coupling.evaluate(stepped->chains());
    for (std::size_t c = 0; c < q.size(); ++c) expected[c] += step.energy_weight * q[c];
  }
  EXPECT_EQ(accumulated, expected) << what;
  EXPECT_EQ(annealed->chains().states, stepped->chains().states) << what;
  EXPECT_EQ(annealed->chains().sweeps, stepped->chains().sweeps) << what;
  EXPECT_EQ(annealed->settings().beta, steps.back().beta) << what;
  EXPECT_GE(calls, 1) << what;
}

TEST(KokkosGibbs, AnnealingInTheTileLayoutGivesTheStepByStepBits) {
  // Interleaved partitions: the sampler's unit order is not the node order.
  const BoltzmannMachine machine = random_machine(4, 9, 0.5, 1.0, 1.0, 12, NodeOrder::interleaved);
  SamplerSettings settings;
  settings.seed = 5;
  settings.beta = 0.3;
  settings.beta_scope = BetaScope::all;  // anneal scales the couplings only, whatever came before
  const std::vector<AnnealingStep> steps = {{1.0, 0, -0.25}, {0.0, 1, 0.125}, {0.7, 3, 0.3}, {0.7, 2, -1.5}};
  Clamp clamp;
  clamp.partitions = {2};
  clamp.rows = 1;
  clamp.values.assign(clamped_nodes(machine, clamp.partitions).size(), 1);
  for (const std::int64_t chains : {5, 23, 70, 150}) {  // tiles of 16, 32, 64 lanes; partial and full tiles
    const ChainBlock start = random_chains(machine.num_nodes(), 5, 3, chains);
    const std::string what = std::to_string(chains) + " chains";
    expect_anneal_matches_step_by_step(machine, settings, start, nullptr, steps, what);
    expect_anneal_matches_step_by_step(machine, settings, start, &clamp, steps, what + ", partition 2 clamped");
    detail::force_portable_energy_kernel(true);
    detail::force_portable_host_kernel(true);
    expect_anneal_matches_step_by_step(machine, settings, start, nullptr, steps, what + ", portable kernels");
    detail::force_portable_host_kernel(false);
    detail::force_portable_energy_kernel(false);
  }
}

TEST(KokkosGibbs, AnnealingReadsWeightsChangedSinceTheLastStep) {
  BoltzmannMachine machine = random_machine(4, 7, 0.5, 1.0, 1.0, 13, NodeOrder::interleaved);
  SamplerSettings settings;
  settings.seed = 8;
  std::unique_ptr<Sampler> sampler = make_kokkos_sampler(machine, settings);
  sampler->set_chains(random_chains(machine.num_nodes(), 8, 0, 40));
  std::vector<double> q(40, 0.0);
  sampler->anneal({{1.0, 2, 1.0}}, q.data());  // builds the tile layout's Q with these weights
  for (std::int64_t e = 0; e < machine.num_couplers(); ++e) machine.weights()[e] = -2 * machine.weights()[e];
  sampler->refresh_parameters();
  std::fill(q.begin(), q.end(), 0.0);
  sampler->anneal({{1.0, 1, 1.0}}, q.data());
  EXPECT_EQ(q, CouplingEnergy(machine).evaluate(sampler->chains()));
}

}  // namespace
}  // namespace qvae::rbm
