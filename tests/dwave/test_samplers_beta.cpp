// Offline samplers (annealing, Gibbs at β) and the β_eff methods of
// docs/dwave.md: each recovers a known β when the "QPU" is Gibbs at β = 2.5.
#include <gtest/gtest.h>

#include <cmath>

#include "dwave_test_support.hpp"
#include "qvae/dwave/beta_estimation.hpp"
#include "qvae/dwave/samplers.hpp"
#include "qvae/par/communicator.hpp"

namespace qvae::dwave {
namespace {

using testing::random_machine;

/// Exact ⟨E_prog⟩ under exp(−β·E_prog) by enumeration.
double exact_mean_energy(const rbm::BoltzmannMachine& machine, const IsingModel& model, double beta) {
  const std::int64_t n = machine.num_nodes();
  std::vector<std::uint8_t> z(static_cast<std::size_t>(n));
  double total = 0, weighted = 0, top = -1e300;
  std::vector<double> energies;
  for (std::uint64_t s = 0; s < (std::uint64_t{1} << n); ++s) {
    for (std::int64_t i = 0; i < n; ++i) z[i] = (s >> i) & 1;
    energies.push_back(ising_energy_of_bits(machine, model, z.data()));
    top = std::max(top, -beta * energies.back());
  }
  for (double e : energies) {
    const double w = std::exp(-beta * e - top);
    total += w;
    weighted += w * e;
  }
  return weighted / total;
}

SampleSet concat(const std::vector<SampleSet>& sets) {
  SampleSet all;
  for (const SampleSet& s : sets) {
    all.units = s.units;
    all.rows += s.rows;
    all.states.insert(all.states.end(), s.states.begin(), s.states.end());
    all.occurrences.insert(all.occurrences.end(), s.occurrences.begin(), s.occurrences.end());
    all.energies.insert(all.energies.end(), s.energies.begin(), s.energies.end());
  }
  return all;
}

TEST(OfflineSamplers, ReadsDoNotDependOnHowRequestsAreSplit) {
  const rbm::BoltzmannMachine machine = random_machine(4, 3, 0.6, 0.8, 0.5, 21);
  const IsingModel programmed = rbm_to_ising(machine, 1.0);
  AnnealSettings anneal;
  anneal.sweeps = 50;
  GibbsQpuSettings gibbs;
  gibbs.sweeps = 20;
  for (auto* make : {+[](const rbm::BoltzmannMachine&m, AnnealSettings a, GibbsQpuSettings, std::uint64_t seed) {
                       return make_anneal_sampler(m, a, seed);
                     },
                     +[](const rbm::BoltzmannMachine&m, AnnealSettings, GibbsQpuSettings g, std::uint64_t seed) {
                       return make_gibbs_sampler(m, g, seed);
                     }}) {
    auto sampler = make(machine, anneal, gibbs, 9);
    const SampleSet whole = concat(sampler->sample(programmed, {SampleRequest{100, 30, {}}}));
    const SampleSet split = concat(sampler->sample(
        programmed, {SampleRequest{117, 13, {}}, SampleRequest{100, 7, {}}, SampleRequest{107, 10, {}}}));
    ASSERT_EQ(whole.rows, 30);
    // Reorder the split answer to read order 100..129: parts were 117.., 100.., 107...
    std::vector<std::uint8_t> reordered;
    const std::int64_t n = machine.num_nodes();
    reordered.insert(reordered.end(), split.states.begin() + 13 * n, split.states.end());
    reordered.insert(reordered.end(), split.states.begin(), split.states.begin() + 13 * n);
    EXPECT_EQ(whole.states, reordered) << sampler->name();
    for (std::int64_t r = 0; r < whole.rows; ++r)
      EXPECT_NEAR(whole.energies[r], ising_energy_of_bits(machine, programmed, whole.state(r)), 1e-12);
    // Another seed, other reads.
    EXPECT_NE(concat(make(machine, anneal, gibbs, 10)->sample(programmed, {SampleRequest{100, 30, {}}})).states,
              whole.states);
  }
}

TEST(OfflineSamplers, GibbsSamplesTheProgrammedProblemAtItsBeta) {
  const rbm::BoltzmannMachine machine = random_machine(3, 3, 0.8, 0.9, 0.5, 4);  // 9 nodes
  const IsingModel programmed = rbm_to_ising(machine, 1.5);
  GibbsQpuSettings settings;
  settings.beta = 2.0;
  settings.sweeps = 30;
  const SampleSet set =
      concat(make_gibbs_sampler(machine, settings, 3)->sample(programmed, {SampleRequest{0, 4000, {}}}));
  double mean = 0, square = 0;
  for (double e : set.energies) mean += e, square += e * e;
  mean /= 4000;
  const double sd = std::sqrt(square / 4000 - mean * mean);
  EXPECT_NEAR(mean, exact_mean_energy(machine, programmed, 2.0), 5 * sd / std::sqrt(4000.0));
}

TEST(OfflineSamplers, AnnealingFindsTheGroundStateOfASmallProblem) {
  const rbm::BoltzmannMachine machine = random_machine(3, 3, 0.8, 1.0, 0.5, 8);
  const IsingModel programmed = rbm_to_ising(machine, 1.0);
  double ground = 1e300;
  std::vector<std::uint8_t> z(9);
  for (int s = 0; s < 512; ++s) {
    for (int i = 0; i < 9; ++i) z[i] = (s >> i) & 1;
    ground = std::min(ground, ising_energy_of_bits(machine, programmed, z.data()));
  }
  AnnealSettings settings;
  settings.sweeps = 200;
  settings.beta_end = 20;
  const SampleSet set =
      concat(make_anneal_sampler(machine, settings, 1)->sample(programmed, {SampleRequest{0, 20, {}}}));
  int hits = 0;
  for (double e : set.energies) hits += std::fabs(e - ground) < 1e-9;
  EXPECT_GE(hits, 15);
}

TEST(OfflineSamplers, ConditioningPinsPartitionZero) {
  const rbm::BoltzmannMachine machine = random_machine(4, 3, 0.7, 1.0, 0.5, 2);
  const IsingModel programmed = rbm_to_ising(machine, 1.0);
  const std::vector<std::uint8_t> condition = {1, 0, 1};
  AnnealSettings anneal;
  anneal.sweeps = 20;
  for (auto& sampler : {make_anneal_sampler(machine, anneal, 1), make_gibbs_sampler(machine, GibbsQpuSettings{}, 1)}) {
    const std::vector<SampleSet> sets =
        sampler->sample(programmed, {SampleRequest{0, 5, condition}, SampleRequest{5, 5, {}}});
    EXPECT_EQ(sets[0].pin_violations, 0);
    for (std::int64_t r = 0; r < 5; ++r)
      for (int k = 0; k < 3; ++k) EXPECT_EQ(sets[0].state(r)[machine.partition_nodes(0)[k]], condition[k]);
    EXPECT_THROW(sampler->sample(programmed, {SampleRequest{0, 1, {1, 0}}}), core::InputError);
  }
}

TEST(OfflineSamplers, SampleWithBackendGivesRankBlocksOfReads) {
  const par::Communicator comm;
  const rbm::BoltzmannMachine machine = random_machine(4, 4, 0.6, 0.7, 0.5, 6);
  BackendSampleOptions options;
  options.backend = "anneal";
  options.reads = 23;
  options.seed = 4;
  options.settings.anneal.sweeps = 30;
  options.settings.qpu.reads_per_problem = 5;
  const rbm::SampleResult result = sample_with_backend(machine, options, comm);
  EXPECT_EQ(result.backend, "anneal");
  EXPECT_EQ(result.chains.total, 23);
  EXPECT_EQ(result.chains.local.units, 16);
  for (std::int64_t c = 0; c < result.chains.local.count; ++c)
    EXPECT_DOUBLE_EQ(result.energies[c], machine.energy(result.chains.local.state(c)));
  options.backend = "quantum";
  EXPECT_THROW(sample_with_backend(machine, options, comm), core::UsageError);
}

TEST(SplitReads, CutsAtGlobalMultiples) {
  const std::vector<SampleRequest> parts = split_reads(7, 20, 10);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].first_read, 7);
  EXPECT_EQ(parts[0].reads, 3);
  EXPECT_EQ(parts[1].first_read, 10);
  EXPECT_EQ(parts[1].reads, 10);
  EXPECT_EQ(parts[2].first_read, 20);
  EXPECT_EQ(parts[2].reads, 7);
  EXPECT_TRUE(split_reads(5, 0, 10).empty());
}

// --- β_eff ------------------------------------------------------------------------------------------

TEST(BetaEstimation, PseudolikelihoodFitsGibbsSamples) {
  const rbm::BoltzmannMachine machine = random_machine(4, 8, 0.5, 0.5, 0.3, 17);
  const IsingModel programmed = rbm_to_ising(machine, 1.0);
  GibbsQpuSettings settings;
  settings.beta = 1.7;
  settings.sweeps = 100;
  const std::vector<SampleSet> sets =
      make_gibbs_sampler(machine, settings, 5)->sample(programmed, {SampleRequest{0, 1000, {}}});
  double error = 0;
  const double beta = pseudolikelihood_beta(machine, programmed, sets, &error);
  EXPECT_NEAR(beta, 1.7, 0.05 * 1.7);
  EXPECT_GT(error, 0);
  EXPECT_LT(error, 0.05);
  EXPECT_NEAR(beta, 1.7, 4 * error);
}

class BetaMethods : public ::testing::TestWithParam<BetaMethod> {};

TEST_P(BetaMethods, RecoverTheBetaOfAGibbsDevice) {
  constexpr double kTrueBeta = 2.5;
  const par::Communicator comm;
  const rbm::BoltzmannMachine machine = random_machine(4, 8, 0.5, 0.5, 0.3, 17);
  GibbsQpuSettings device_settings;
  device_settings.beta = kTrueBeta;
  device_settings.sweeps = 100;
  const auto device = make_gibbs_sampler(machine, device_settings, 77);
  BetaSettings settings;
  settings.method = GetParam();
  settings.beta_initial = 4.0;
  settings.max_iterations = 15;
  // Variance matching is the least precise (SE of a variance ~ σ²·√(2/N)): it needs more reads.
  const std::int64_t reads = GetParam() == BetaMethod::variance ? 20000 : 1500;
  settings.reads = reads;
  settings.rbm_chains = reads;
  settings.rbm_sweeps = 100;
  settings.seed = 3;
  const BetaEstimate estimate = estimate_beta(machine, *device, settings, comm);
  EXPECT_TRUE(estimate.converged) << to_string(GetParam());
  EXPECT_NEAR(estimate.beta_eff, kTrueBeta, 0.05 * kTrueBeta) << to_string(GetParam());
  EXPECT_GT(estimate.uncertainty, 0);
  EXPECT_LT(estimate.uncertainty, 0.05 * kTrueBeta);
  ASSERT_FALSE(estimate.history.empty());
  EXPECT_EQ(estimate.history.front().beta, 4.0);
  EXPECT_EQ(estimate.history.back().note.find("converged") != std::string::npos, estimate.converged);
}

INSTANTIATE_TEST_SUITE_P(AllMethods, BetaMethods,
                         ::testing::Values(BetaMethod::ml, BetaMethod::linear, BetaMethod::multiplicative,
                                           BetaMethod::variance, BetaMethod::pseudolikelihood),
                         [](const ::testing::TestParamInfo<BetaMethod>& method) {
                           return std::string(to_string(method.param));
                         });

}  // namespace
}  // namespace qvae::dwave
