// The sparse Kokkos block-Gibbs sampler: exact statistics on enumerable
// machines (docs/rbm.md), β scopes, clamping, persistent chains
// and the randomness contract (docs/architecture.md).
//
// Statistical checks use independent chains (one final state each), so the
// standard error of every moment is exact: sqrt(p(1−p)/C).  Chains start
// uniformly at random, far from equilibrium, and run 300 sweeps; a 16-unit
// machine with unit-variance couplings mixes in a few tens of sweeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>

#include "qvae/core/error.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/rbm/kokkos_gibbs_sampler.hpp"
#include "qvae/rbm/random_streams.hpp"
#include "qvae/rbm/sampler.hpp"
#include "rbm_test_models.hpp"

namespace qvae::rbm {
namespace {

using testing::exact_moments;
using testing::expect_moments_match;
using testing::random_machine;
using testing::sampled_moments;

constexpr std::int64_t kChains = 20000;
constexpr std::int64_t kSweeps = 300;
constexpr double kBound = 5.0;

ChainBlock sample(const BoltzmannMachine& machine, SamplerSettings settings, std::int64_t chains, std::int64_t sweeps,
                  const Clamp* clamp = nullptr) {
  std::unique_ptr<Sampler> sampler = make_kokkos_sampler(machine, settings);
  sampler->set_chains(random_chains(machine.num_nodes(), settings.seed, 0, chains));
  if (clamp) sampler->set_clamp(*clamp);
  sampler->sweep(sweeps);
  return sampler->chains();
}

TEST(KokkosGibbs, MatchesExactMomentsOnEnumerableMachine) {
  const BoltzmannMachine machine = random_machine(4, 4, 0.6, 1.0, 0.5, 11);
  ASSERT_GT(machine.num_couplers(), 20);
  SamplerSettings settings;
  settings.seed = 2024;
  const ChainBlock chains = sample(machine, settings, kChains, kSweeps);
  const double worst = expect_moments_match(exact_moments(machine, 1.0, BetaScope::couplings), sampled_moments(chains),
                                            kChains, kBound, "beta=1");
  RecordProperty("worst_abs_z", std::to_string(worst));
  for (std::int64_t c = 0; c < chains.count; ++c) ASSERT_EQ(chains.sweeps[c], kSweeps);
}

TEST(KokkosGibbs, StrongCouplingsFiveByThree) {
  // Uneven partition sizes (not multiples of the 4-unit Philox groups) and larger weights.
  const BoltzmannMachine machine = random_machine(5, 3, 0.7, 1.5, 1.0, 5);
  SamplerSettings settings;
  settings.seed = 77;
  const ChainBlock chains = sample(machine, settings, kChains, kSweeps);
  expect_moments_match(exact_moments(machine, 1.0, BetaScope::couplings), sampled_moments(chains), kChains, kBound,
                       "5x3, sigma 1.5");
}

TEST(KokkosGibbs, BetaScalesCouplingsOnlyOrEverything) {
  const BoltzmannMachine machine = random_machine(4, 4, 0.6, 1.0, 0.8, 12);
  for (const auto& [beta, scope] :
       {std::pair<double, BetaScope>{2.0, BetaScope::couplings}, std::pair<double, BetaScope>{0.5, BetaScope::all},
        std::pair<double, BetaScope>{1.7, BetaScope::all}}) {
    SamplerSettings settings;
    settings.seed = 99;
    settings.beta = beta;
    settings.beta_scope = scope;
    const ChainBlock chains = sample(machine, settings, kChains, kSweeps);
    const std::string label = "beta=" + std::to_string(beta) + " scope " + to_string(scope);
    expect_moments_match(exact_moments(machine, beta, scope), sampled_moments(chains), kChains, kBound, label);
    // The two scopes are different distributions: the β=1 moments must be rejected.
    const auto at_one = exact_moments(machine, 1.0, BetaScope::couplings);
    const auto sampled = sampled_moments(chains);
    double largest = 0;
    for (std::size_t i = 0; i < at_one.mean.size(); ++i)
      largest = std::max(largest, std::fabs(at_one.mean[i] - sampled.mean[i]) /
                                      std::sqrt(at_one.mean[i] * (1 - at_one.mean[i]) / kChains));
    EXPECT_GT(largest, 10.0) << label << ": the test could not tell beta apart from 1";
  }
}

TEST(KokkosGibbs, SetBetaBetweenSweepsChangesTheTarget) {
  const BoltzmannMachine machine = random_machine(4, 4, 0.6, 1.0, 0.8, 13);
  SamplerSettings settings;
  settings.seed = 5;
  std::unique_ptr<Sampler> sampler = make_kokkos_sampler(machine, settings);
  sampler->set_chains(random_chains(machine.num_nodes(), settings.seed, 0, kChains));
  sampler->sweep(50);
  sampler->set_beta(2.5, BetaScope::couplings);
  sampler->sweep(kSweeps);
  expect_moments_match(exact_moments(machine, 2.5, BetaScope::couplings), sampled_moments(sampler->chains()), kChains,
                       kBound, "after set_beta(2.5)");
}

TEST(KokkosGibbs, ClampedUnitsNeverChangeAndTheRestFollowsTheConditional) {
  const BoltzmannMachine machine = random_machine(4, 4, 0.7, 1.0, 0.5, 14);
  for (const std::vector<int>& partitions : {std::vector<int>{0}, std::vector<int>{0, 2}, std::vector<int>{3, 1}}) {
    const std::vector<std::int64_t> nodes = clamped_nodes(machine, partitions);
    Clamp clamp;
    clamp.partitions = partitions;
    clamp.rows = 1;
    std::vector<int> fixed(static_cast<std::size_t>(machine.num_nodes()), -1);
    std::vector<int> skip;
    for (std::size_t k = 0; k < nodes.size(); ++k) {
      clamp.values.push_back(static_cast<std::uint8_t>((k * 7 + 3) % 3 == 0 ? 0 : 1));
      fixed[static_cast<std::size_t>(nodes[k])] = clamp.values.back();
      skip.push_back(static_cast<int>(nodes[k]));
    }
    SamplerSettings settings;
    settings.seed = 31;
    const ChainBlock chains = sample(machine, settings, kChains, kSweeps, &clamp);
    for (std::int64_t c = 0; c < chains.count; ++c)
      for (std::size_t k = 0; k < nodes.size(); ++k)
        ASSERT_EQ(chains.state(c)[nodes[k]], clamp.values[k]) << "chain " << c << " clamped node " << nodes[k];
    expect_moments_match(exact_moments(machine, 1.0, BetaScope::couplings, fixed), sampled_moments(chains), kChains,
                         kBound, "clamped " + std::to_string(partitions.size()) + " partition(s)", skip);
  }
}

TEST(KokkosGibbs, PerChainClampValuesHoldForEveryChain) {
  const BoltzmannMachine machine = random_machine(4, 5, 0.6, 1.0, 0.5, 15);
  const std::int64_t chains = 257;  // not a multiple of the tile width
  Clamp clamp;
  clamp.partitions = {2};
  clamp.rows = chains;
  const std::int64_t columns = machine.partition_size(2);
  core::Philox rng(4, 4);
  for (std::int64_t i = 0; i < chains * columns; ++i)
    clamp.values.push_back(static_cast<std::uint8_t>(rng.next_u32() & 1));
  SamplerSettings settings;
  settings.seed = 8;
  std::unique_ptr<Sampler> sampler = make_kokkos_sampler(machine, settings);
  sampler->set_chains(random_chains(machine.num_nodes(), 8, 0, chains));
  sampler->set_clamp(clamp);
  for (int round = 0; round < 5; ++round) {
    sampler->sweep(7);
    const ChainBlock now = sampler->chains();
    const auto& nodes = machine.partition_nodes(2);
    for (std::int64_t c = 0; c < chains; ++c)
      for (std::int64_t k = 0; k < columns; ++k)
        ASSERT_EQ(now.state(c)[nodes[static_cast<std::size_t>(k)]],
                  clamp.values[static_cast<std::size_t>(c * columns + k)]);
  }
  // Bad clamps are refused with an InputError.
  Clamp wrong_rows = clamp;
  wrong_rows.rows = 3;
  wrong_rows.values.resize(static_cast<std::size_t>(3 * columns));
  EXPECT_THROW(sampler->set_clamp(wrong_rows), core::InputError);
  Clamp wrong_columns = clamp;
  wrong_columns.rows = 1;
  wrong_columns.values.assign(static_cast<std::size_t>(columns + 1), 0);
  EXPECT_THROW(sampler->set_clamp(wrong_columns), core::InputError);
  Clamp not_binary = clamp;
  not_binary.values[3] = 2;
  EXPECT_THROW(sampler->set_clamp(not_binary), core::InputError);
  Clamp bad_partition = clamp;
  bad_partition.partitions = {4};
  EXPECT_THROW(sampler->set_clamp(bad_partition), core::InputError);
}

TEST(KokkosGibbs, ResumeContinuesBitExactly) {
  const BoltzmannMachine machine = random_machine(4, 6, 0.5, 1.0, 0.5, 16);
  SamplerSettings settings;
  settings.seed = 123456789012345ull;
  const ChainBlock start = random_chains(machine.num_nodes(), settings.seed, 0, 100);

  std::unique_ptr<Sampler> straight = make_kokkos_sampler(machine, settings);
  straight->set_chains(start);
  straight->sweep(40);
  const ChainBlock expected = straight->chains();

  std::unique_ptr<Sampler> first = make_kokkos_sampler(machine, settings);
  first->set_chains(start);
  for (int i = 0; i < 25; ++i) first->sweep(1);  // chunking must not matter either
  const ChainBlock saved = first->chains();
  std::unique_ptr<Sampler> second = make_kokkos_sampler(machine, settings);
  second->set_chains(saved);
  second->sweep(15);
  const ChainBlock resumed = second->chains();
  EXPECT_EQ(resumed.states, expected.states);
  EXPECT_EQ(resumed.sweeps, expected.sweeps);
  EXPECT_NE(saved.states, expected.states);
}

TEST(KokkosGibbs, ChainTrajectoryDoesNotDependOnItsBlock) {
  // Chains 0..99 in one sampler equal chains [0, 37) and [37, 100) in two:
  // what ranks do with their blocks.
  const BoltzmannMachine machine = random_machine(4, 5, 0.5, 1.0, 0.5, 17);
  SamplerSettings settings;
  settings.seed = 42;
  const ChainBlock all = random_chains(machine.num_nodes(), 42, 0, 100);
  std::unique_ptr<Sampler> whole = make_kokkos_sampler(machine, settings);
  whole->set_chains(all);
  whole->sweep(20);
  const ChainBlock expected = whole->chains();
  const ChainBlock low = random_chains(machine.num_nodes(), 42, 0, 37),
                   high = random_chains(machine.num_nodes(), 42, 37, 63);
  std::vector<std::uint8_t> joined;
  for (const ChainBlock& part : {low, high}) {
    std::unique_ptr<Sampler> sampler = make_kokkos_sampler(machine, settings);
    sampler->set_chains(part);
    sampler->sweep(20);
    const ChainBlock out = sampler->chains();
    joined.insert(joined.end(), out.states.begin(), out.states.end());
  }
  EXPECT_EQ(joined, expected.states);
}

TEST(KokkosGibbs, TileWidthFollowsTheChainCountWithoutChangingABit) {
  // Blocks of 9, 23 and 68 chains run in tiles of 16, 32 and 64 lanes; together
  // they are the 100 chains of one sampler with 64-lane tiles.
  EXPECT_EQ(detail::host_lanes_for(9), 16);
  EXPECT_EQ(detail::host_lanes_for(23), 32);
  EXPECT_EQ(detail::host_lanes_for(68), 64);
  const BoltzmannMachine machine = random_machine(4, 6, 0.5, 1.0, 0.5, 23);
  SamplerSettings settings;
  settings.seed = 9;
  std::unique_ptr<Sampler> whole = make_kokkos_sampler(machine, settings);
  whole->set_chains(random_chains(machine.num_nodes(), 9, 0, 100));
  whole->sweep(25);
  std::vector<std::uint8_t> joined;
  std::vector<std::int64_t> joined_sweeps;
  for (const auto& [first, count] : {std::pair<std::int64_t, std::int64_t>{0, 9}, {9, 23}, {32, 68}}) {
    std::unique_ptr<Sampler> sampler = make_kokkos_sampler(machine, settings);
    sampler->set_chains(random_chains(machine.num_nodes(), 9, first, count));
    sampler->sweep(25);
    const ChainBlock out = sampler->chains();
    joined.insert(joined.end(), out.states.begin(), out.states.end());
    joined_sweeps.insert(joined_sweeps.end(), out.sweeps.begin(), out.sweeps.end());
  }
  EXPECT_EQ(joined, whole->chains().states);
  EXPECT_EQ(joined_sweeps, whole->chains().sweeps);
}

TEST(KokkosGibbs, PortableAndAvx2KernelsGiveTheSameBits) {
  const BoltzmannMachine machine = random_machine(4, 7, 0.5, 1.0, 0.5, 18);
  SamplerSettings settings;
  settings.seed = 3;
  for (const std::int64_t chains : {5, 20, 70}) {  // tiles of 16, 32 and 64 lanes
    auto run = [&] {
      std::unique_ptr<Sampler> sampler = make_kokkos_sampler(machine, settings);
      sampler->set_chains(random_chains(machine.num_nodes(), 3, 5, chains));
      sampler->sweep(30);
      return sampler->chains();
    };
    const ChainBlock best = run();
    const std::string isa = host_kernel_isa();
    detail::force_portable_host_kernel(true);
    const ChainBlock portable = run();
    EXPECT_EQ(host_kernel_isa(), "portable");
    detail::force_portable_host_kernel(false);
    EXPECT_EQ(best.states, portable.states) << "host kernel " << isa << ", " << chains << " chains";
  }
}

TEST(KokkosGibbs, UniformsAreTheDocumentedPhiloxWords) {
  const BoltzmannMachine machine = random_machine(3, 6, 0.5, 1.0, 0.5, 19);  // 2 groups per partition, the last short
  const std::uint64_t seed = 0xDEADBEEFCAFEull;
  const std::int64_t first = 1000, count = 45;
  std::vector<std::int64_t> sweeps(count);
  for (std::int64_t c = 0; c < count; ++c) sweeps[c] = (c * 37) % 11;
  const std::int64_t blocks_per_sweep = 3 * 2;
  for (int p = 0; p < 3; ++p) {
    std::vector<float> u(static_cast<std::size_t>(count * 6));
    for (bool portable : {false, true}) {
      detail::force_portable_host_kernel(portable);
      gibbs_uniforms(machine, seed, first, count, sweeps.data(), p, u.data());
      for (std::int64_t c = 0; c < count; ++c)
        for (int k = 0; k < 6; ++k) {
          const std::uint64_t counter = static_cast<std::uint64_t>(sweeps[c] * blocks_per_sweep + 2 * p + k / 4);
          core::Philox rng(seed, core::stream_id(kGibbsSweepDomain, static_cast<std::uint64_t>(first + c)), counter);
          const float expected = core::u01_float(rng.block().v[k % 4]);
          ASSERT_EQ(u[static_cast<std::size_t>(c * 6 + k)], expected)
              << "chain " << c << " partition " << p << " unit " << k;
        }
    }
  }
  detail::force_portable_host_kernel(false);
}

TEST(KokkosGibbs, OneSweepFollowsTheDocumentedScalarRule) {
  // A scalar reading of gibbs_kernel.hpp's contract in double precision: the
  // kernel (float fields, fast exp) may only differ at near-ties.
  const BoltzmannMachine machine = random_machine(4, 5, 0.6, 1.0, 0.5, 20);
  SamplerSettings settings;
  settings.seed = 9;
  const std::int64_t chains = 500;
  ChainBlock reference = random_chains(machine.num_nodes(), 9, 0, chains);
  std::unique_ptr<Sampler> sampler = make_kokkos_sampler(machine, settings);
  sampler->set_chains(reference);
  sampler->sweep(3);
  const ChainBlock kernel = sampler->chains();

  const std::int64_t n = machine.num_nodes();
  std::vector<std::vector<std::pair<std::int64_t, double>>> neighbours(static_cast<std::size_t>(n));
  for (std::int64_t e = 0; e < machine.num_couplers(); ++e) {
    const auto [i, j] = machine.couplers()[static_cast<std::size_t>(e)];
    neighbours[i].push_back({j, machine.weights()[e]});
    neighbours[j].push_back({i, machine.weights()[e]});
  }
  const std::uint64_t blocks_per_sweep = 4 * 2;  // 5 units per partition -> 2 groups
  std::int64_t differing = 0;
  for (std::int64_t c = 0; c < chains; ++c) {
    std::uint8_t* z = reference.state(c);
    for (std::uint64_t s = 0; s < 3; ++s)
      for (int p = 0; p < 4; ++p)
        for (std::int64_t k = 0; k < machine.partition_size(p); ++k) {
          const std::int64_t node = machine.partition_nodes(p)[k];
          double a = machine.biases()[node];
          for (const auto& [j, w] : neighbours[node]) a += w * z[j];
          core::Philox rng(9, core::stream_id(kGibbsSweepDomain, c), s * blocks_per_sweep + 2 * p + k / 4);
          const double u = core::u01_float(rng.block().v[k % 4]);
          z[node] = u < 1.0 / (1.0 + std::exp(-a)) ? 1 : 0;
        }
    differing += !std::equal(z, z + n, kernel.state(c));
  }
  EXPECT_LE(differing, 1) << "chains whose 3-sweep trajectory differs from the scalar rule";
}

TEST(KokkosGibbs, ParameterViewsShareTheMachineBuffers) {
  BoltzmannMachine machine = random_machine(3, 3, 1.0, 1.0, 0.5, 23);
  HostParameterView biases = biases_view(machine), weights = weights_view(machine);
  EXPECT_EQ(biases.data(), machine.biases());
  EXPECT_EQ(static_cast<std::int64_t>(weights.extent(0)), machine.num_couplers());
  weights(2) = 40.0;
  EXPECT_EQ(machine.weights()[2], 40.0);
  // The sampler reads the change on refresh: all biases +30 make every unit 1.
  std::unique_ptr<Sampler> sampler = make_kokkos_sampler(machine, SamplerSettings{});
  sampler->set_chains(random_chains(9, 1, 0, 40));
  for (std::size_t i = 0; i < biases.extent(0); ++i) biases(i) = 30.0;
  Kokkos::deep_copy(weights, 0.0);
  sampler->refresh_parameters();
  sampler->sweep(1);
  for (std::uint8_t v : sampler->chains().states) EXPECT_EQ(v, 1);
}

TEST(KokkosGibbs, RejectsMalformedChainBlocks) {
  const BoltzmannMachine machine = random_machine(2, 3, 1.0, 1.0, 0.5, 21);
  std::unique_ptr<Sampler> sampler = make_kokkos_sampler(machine, SamplerSettings{});
  ChainBlock wrong_width = random_chains(5, 1, 0, 4);
  EXPECT_THROW(sampler->set_chains(wrong_width), core::InputError);
  ChainBlock not_binary = random_chains(6, 1, 0, 4);
  not_binary.states[2] = 7;
  EXPECT_THROW(sampler->set_chains(not_binary), core::InputError);
  ChainBlock negative = random_chains(6, 1, 0, 4);
  negative.sweeps[1] = -1;
  EXPECT_THROW(sampler->set_chains(negative), core::InputError);
  EXPECT_THROW(make_kokkos_sampler(machine, SamplerSettings{0, -1.0, BetaScope::all}), core::UsageError);
  // Zero chains is a valid (empty) block: a rank may hold none.
  sampler->set_chains(random_chains(6, 1, 0, 0));
  sampler->sweep(3);
  EXPECT_EQ(sampler->chains().count, 0);
}

TEST(KokkosGibbs, ZeroWeightsGiveIndependentBernoulliUnits) {
  BoltzmannMachine machine = random_machine(4, 4, 0.5, 0.0, 1.0, 22);
  SamplerSettings settings;
  settings.seed = 10;
  const ChainBlock chains = sample(machine, settings, kChains, 2);  // one sweep already samples exactly
  const auto exact = exact_moments(machine, 1.0, BetaScope::couplings);
  expect_moments_match(exact, sampled_moments(chains), kChains, kBound, "W = 0");
}

}  // namespace
}  // namespace qvae::rbm
