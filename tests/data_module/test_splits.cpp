// Tests of qvae/data/splits.hpp: deterministic train/validation/test splits,
// stratification by incident energy, per-epoch shuffles and rank shards.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "qvae/core/error.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/data/splits.hpp"

namespace {

using qvae::core::InputError;
using qvae::core::UsageError;
using qvae::data::Split;
using qvae::data::SplitFractions;
using qvae::data::SplitSizes;
using Indices = std::vector<std::int64_t>;

Indices iota_indices(std::int64_t n) {
  Indices all(static_cast<std::size_t>(n));
  std::iota(all.begin(), all.end(), std::int64_t{0});
  return all;
}

Indices merged(const Split& split) {
  Indices all = split.train;
  all.insert(all.end(), split.validation.begin(), split.validation.end());
  all.insert(all.end(), split.test.begin(), split.test.end());
  std::sort(all.begin(), all.end());
  return all;
}

bool is_permutation_of_range(Indices values) {
  std::sort(values.begin(), values.end());
  return values == iota_indices(static_cast<std::int64_t>(values.size()));
}

void expect_sizes(const SplitSizes& sizes, std::int64_t train, std::int64_t validation, std::int64_t test) {
  EXPECT_EQ(sizes.train, train);
  EXPECT_EQ(sizes.validation, validation);
  EXPECT_EQ(sizes.test, test);
}

// ---------------------------------------------------------------------------
// Sizes and fractions

TEST(SplitSizes, FollowDocumentedCumulativeFloorRule) {
  expect_sizes(qvae::data::split_sizes(10), 8, 1, 1);
  expect_sizes(qvae::data::split_sizes(15), 12, 1, 2);
  expect_sizes(qvae::data::split_sizes(19), 15, 2, 2);
  expect_sizes(qvae::data::split_sizes(100000), 80000, 10000, 10000);
  expect_sizes(qvae::data::split_sizes(0), 0, 0, 0);
  expect_sizes(qvae::data::split_sizes(1), 0, 0, 1);
  // 0.29 * 100 is 28.999999999999996 in double: the rule still gives 29.
  expect_sizes(qvae::data::split_sizes(100, SplitFractions{0.29, 0.71, 0.0}), 29, 71, 0);
  expect_sizes(qvae::data::split_sizes(7, SplitFractions{1.0, 0.0, 0.0}), 7, 0, 0);
}

TEST(SplitSizes, RefuseFractionsNotSummingToOneOrOutOfRange) {
  EXPECT_THROW(qvae::data::split_sizes(10, SplitFractions{0.8, 0.1, 0.2}), UsageError);
  EXPECT_THROW(qvae::data::split_sizes(10, SplitFractions{0.8, 0.1, 0.1 - 1e-8}), UsageError);
  EXPECT_THROW(qvae::data::split_sizes(10, SplitFractions{1.2, -0.1, -0.1}), UsageError);
  EXPECT_NO_THROW(qvae::data::split_sizes(10, SplitFractions{0.8, 0.1, 0.1 + 1e-10}));
  EXPECT_THROW(qvae::data::split_events(10, 1, SplitFractions{0.5, 0.5, 0.5}), UsageError);
  EXPECT_THROW(qvae::data::split_events(-1, 1), UsageError);
}

// ---------------------------------------------------------------------------
// Shuffled split

TEST(SplitEvents, PartsAreDisjointCoverAllEventsAndHaveDocumentedSizes) {
  for (std::int64_t n : {0, 1, 7, 19, 1000, 12345}) {
    const Split split = qvae::data::split_events(n, 42);
    const SplitSizes sizes = qvae::data::split_sizes(n);
    EXPECT_EQ(static_cast<std::int64_t>(split.train.size()), sizes.train) << n;
    EXPECT_EQ(static_cast<std::int64_t>(split.validation.size()), sizes.validation) << n;
    EXPECT_EQ(static_cast<std::int64_t>(split.test.size()), sizes.test) << n;
    EXPECT_EQ(merged(split), iota_indices(n)) << n;  // disjoint and covering
    EXPECT_TRUE(std::is_sorted(split.train.begin(), split.train.end()));
    EXPECT_TRUE(std::is_sorted(split.validation.begin(), split.validation.end()));
    EXPECT_TRUE(std::is_sorted(split.test.begin(), split.test.end()));
  }
}

TEST(SplitEvents, SameSeedGivesSameSplitAndOtherSeedAnotherOne) {
  const Split first = qvae::data::split_events(5000, 7);
  const Split again = qvae::data::split_events(5000, 7);
  const Split other = qvae::data::split_events(5000, 8);
  EXPECT_EQ(first.train, again.train);
  EXPECT_EQ(first.validation, again.validation);
  EXPECT_EQ(first.test, again.test);
  EXPECT_NE(first.test, other.test);
  EXPECT_NE(first.validation, other.validation);
}

TEST(SplitEvents, IsShuffledNotContiguous) {
  const Split split = qvae::data::split_events(1000, 3);
  EXPECT_NE(split.train, iota_indices(800));
  // The test part reaches into the first half of the file.
  EXPECT_LT(split.test.front(), 500);
}

TEST(SplitEvents, EventMembershipInTestIsUnbiasedAcrossSeeds) {
  // Over 4000 seeds, event 0 (and event n-1) lands in test with probability
  // 0.1: |z| must stay below 3.29 (two-sided p = 0.001) for these fixed seeds.
  const int seeds = 4000;
  const std::int64_t n = 20;
  for (std::int64_t event : {std::int64_t{0}, n - 1}) {
    int in_test = 0;
    for (int seed = 0; seed < seeds; ++seed) {
      const Split split = qvae::data::split_events(n, static_cast<std::uint64_t>(seed));
      in_test += std::binary_search(split.test.begin(), split.test.end(), event) ? 1 : 0;
    }
    const double expected = seeds * 0.1;
    const double z = (in_test - expected) / std::sqrt(seeds * 0.1 * 0.9);
    EXPECT_LT(std::fabs(z), 3.29) << "event " << event << " in test " << in_test << " times";
  }
}

TEST(SplitEventsContiguous, TakesConsecutiveRowsInTrainValidationTestOrder) {
  const Split split = qvae::data::split_events_contiguous(19);
  EXPECT_EQ(split.train, iota_indices(15));
  EXPECT_EQ(split.validation, (Indices{15, 16}));
  EXPECT_EQ(split.test, (Indices{17, 18}));
}

// ---------------------------------------------------------------------------
// Stratified split

TEST(EnergyStrata, UsesDistinctEnergiesBelowThresholdAndLogBinsOtherwise) {
  const std::vector<double> discrete = {4096.0, 256.0, 65536.0, 256.0, 4096.0};
  const std::vector<int> strata = qvae::data::energy_strata(discrete.data(), 5);
  EXPECT_EQ(strata, (std::vector<int>{1, 0, 2, 0, 1}));

  // 30 distinct energies from 1e3 to 1e6 in 3 log bins: [1e3, 1e4), [1e4, 1e5), [1e5, 1e6].
  std::vector<double> continuous;
  for (int i = 0; i < 30; ++i) continuous.push_back(1e3 * std::pow(1e3, i / 29.0));
  qvae::data::StratifyOptions options;
  options.log_bins = 3;
  const std::vector<int> bins = qvae::data::energy_strata(continuous.data(), 30, options);
  EXPECT_EQ(bins.front(), 0);
  EXPECT_EQ(bins.back(), 2);
  for (std::size_t i = 0; i < 30; ++i) {
    EXPECT_EQ(bins[i], std::min(2, static_cast<int>(3 * i / 29))) << i;  // floor(3 i / 29)
  }
}

TEST(SplitEventsStratified, EachDiscreteEnergyIsSplitWithTheFractions) {
  // Three discrete energies with 100, 50 and 30 events, interleaved in the file.
  std::vector<double> energies;
  for (int i = 0; i < 100; ++i) energies.push_back(1024.0);
  for (int i = 0; i < 50; ++i) energies.push_back(8192.0);
  for (int i = 0; i < 30; ++i) energies.push_back(262144.0);
  qvae::core::Philox rng(11, 0);
  for (std::size_t i = energies.size() - 1; i > 0; --i) {
    std::swap(energies[i], energies[static_cast<std::size_t>(rng.next_u32() % (i + 1))]);
  }
  const Split split = qvae::data::split_events_stratified(energies, 5);
  EXPECT_EQ(merged(split), iota_indices(180));
  auto count_of = [&](const Indices& part, double energy) {
    return std::count_if(part.begin(), part.end(),
                         [&](std::int64_t event) { return energies[static_cast<std::size_t>(event)] == energy; });
  };
  const std::map<double, std::vector<long>> expected = {
      {1024.0, {80, 10, 10}}, {8192.0, {40, 5, 5}}, {262144.0, {24, 3, 3}}};
  for (const auto& [energy, sizes] : expected) {
    EXPECT_EQ(count_of(split.train, energy), sizes[0]) << energy;
    EXPECT_EQ(count_of(split.validation, energy), sizes[1]) << energy;
    EXPECT_EQ(count_of(split.test, energy), sizes[2]) << energy;
  }
  EXPECT_TRUE(std::is_sorted(split.train.begin(), split.train.end()));
  EXPECT_TRUE(std::is_sorted(split.test.begin(), split.test.end()));
}

TEST(SplitEventsStratified, EachLogBinOfContinuousEnergiesHasDocumentedSizes) {
  const std::int64_t n = 5000;
  std::vector<double> energies(static_cast<std::size_t>(n));
  qvae::core::Philox rng(99, 0);
  for (double& energy : energies) energy = 1e3 * std::pow(1e3, rng.uniform());  // log-uniform 1 GeV..1 TeV
  const SplitFractions fractions{0.7, 0.2, 0.1};
  const Split split = qvae::data::split_events_stratified(energies, 123, fractions);
  EXPECT_EQ(merged(split), iota_indices(n));

  const std::vector<int> strata = qvae::data::energy_strata(energies.data(), n);
  std::map<int, std::array<std::int64_t, 4>> counts;  // stratum -> total, train, validation, test
  for (int stratum : strata) ++counts[stratum][0];
  for (std::int64_t event : split.train) ++counts[strata[static_cast<std::size_t>(event)]][1];
  for (std::int64_t event : split.validation) ++counts[strata[static_cast<std::size_t>(event)]][2];
  for (std::int64_t event : split.test) ++counts[strata[static_cast<std::size_t>(event)]][3];
  EXPECT_EQ(counts.size(), 15u);
  for (const auto& [stratum, count] : counts) {
    const SplitSizes sizes = qvae::data::split_sizes(count[0], fractions);
    EXPECT_EQ(count[1], sizes.train) << "stratum " << stratum;
    EXPECT_EQ(count[2], sizes.validation) << "stratum " << stratum;
    EXPECT_EQ(count[3], sizes.test) << "stratum " << stratum;
  }
  const Split again = qvae::data::split_events_stratified(energies, 123, fractions);
  EXPECT_EQ(again.test, split.test);
  EXPECT_NE(qvae::data::split_events_stratified(energies, 124, fractions).test, split.test);
}

TEST(SplitEventsStratified, RefusesBadEnergiesNamingTheEvent) {
  const std::vector<double> energies = {1e3, 2e3, 0.0, 4e3};
  try {
    qvae::data::split_events_stratified(energies, 1);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("event 2"), std::string::npos) << error.what();
  }
}

// ---------------------------------------------------------------------------
// Epoch permutations and shards

TEST(EpochPermutation, IsAPermutationReproducibleAndDifferentAcrossEpochs) {
  const Indices epoch0 = qvae::data::epoch_permutation(1000, 5, 0);
  const Indices epoch1 = qvae::data::epoch_permutation(1000, 5, 1);
  EXPECT_TRUE(is_permutation_of_range(epoch0));
  EXPECT_TRUE(is_permutation_of_range(epoch1));
  EXPECT_EQ(epoch0, qvae::data::epoch_permutation(1000, 5, 0));
  EXPECT_NE(epoch0, epoch1);
  EXPECT_NE(epoch0, qvae::data::epoch_permutation(1000, 6, 0));
  EXPECT_NE(epoch0, iota_indices(1000));
}

TEST(EpochPermutation, PositionOfEachItemIsUniform) {
  // n = 8 items over 16000 epochs: counts[item][position] ~ 2000 each.  For a
  // uniform random permutation Pearson's statistic has (n-1)^2 = 49 degrees of
  // freedom; 85.35 is its 0.999 quantile.
  const std::int64_t n = 8;
  const int epochs = 16000;
  std::vector<std::vector<double>> counts(n, std::vector<double>(n, 0.0));
  for (int epoch = 0; epoch < epochs; ++epoch) {
    const Indices permutation = qvae::data::epoch_permutation(n, 2718, static_cast<std::uint64_t>(epoch));
    for (std::int64_t position = 0; position < n; ++position) {
      counts[static_cast<std::size_t>(permutation[static_cast<std::size_t>(position)])]
            [static_cast<std::size_t>(position)] += 1.0;
    }
  }
  const double expected = static_cast<double>(epochs) / n;
  double chi_square = 0.0;
  for (const auto& row : counts) {
    for (double count : row) chi_square += (count - expected) * (count - expected) / expected;
  }
  EXPECT_LT(chi_square, 85.35);
}

TEST(ShuffleEvents, OrderOfTwoEventsDoesNotDependOnTheOthers) {
  const Indices events = {3, 10, 42, 77, 1000, 5};
  const Indices shuffled = qvae::data::shuffle_events(events, 9, 4);
  Indices sorted_in = events, sorted_out = shuffled;
  std::sort(sorted_in.begin(), sorted_in.end());
  std::sort(sorted_out.begin(), sorted_out.end());
  EXPECT_EQ(sorted_in, sorted_out);
  // Dropping events keeps the relative order of the rest (event-keyed shuffle).
  const Indices subset = qvae::data::shuffle_events(Indices{42, 3, 1000}, 9, 4);
  Indices expected;
  for (std::int64_t event : shuffled) {
    if (event == 42 || event == 3 || event == 1000) expected.push_back(event);
  }
  EXPECT_EQ(subset, expected);
}

TEST(ShardOfEpoch, ShardsConcatenateToTheSamePermutationForAnyRankCount) {
  for (std::int64_t n : {0, 5, 100, 1001}) {
    const Indices permutation = qvae::data::epoch_permutation(n, 31, 2);
    for (int ranks : {1, 2, 3, 7}) {
      Indices concatenated;
      for (int rank = 0; rank < ranks; ++rank) {
        const Indices shard = qvae::data::shard_of_epoch(n, 31, 2, rank, ranks);
        concatenated.insert(concatenated.end(), shard.begin(), shard.end());
      }
      EXPECT_EQ(concatenated, permutation) << "n " << n << ", ranks " << ranks;
    }
  }
  EXPECT_THROW(qvae::data::shard_of_epoch(10, 1, 0, 3, 3), UsageError);
  EXPECT_THROW(qvae::data::shard_of_epoch(10, 1, 0, 0, 0), UsageError);
}

TEST(EqualBatches, EveryRankRunsTheSameNumberOfFullBatches) {
  const std::int64_t n = 1003, batch = 16;
  const int ranks = 4;                                            // shards of 251, 251, 251, 250
  EXPECT_EQ(qvae::data::equal_batch_count(n, ranks, batch), 15);  // floor(floor(1003/4)/16)
  for (int rank = 0; rank < ranks; ++rank) {
    const Indices shard = qvae::data::shard_of_epoch(n, 8, 1, rank, ranks);
    const Indices used = qvae::data::equal_batch_shard(n, 8, 1, rank, ranks, batch);
    EXPECT_EQ(used.size(), 15u * 16u);
    EXPECT_TRUE(std::equal(used.begin(), used.end(), shard.begin()));  // a prefix of the shard
    EXPECT_LE(shard.size() - used.size(), static_cast<std::size_t>(batch));
  }
  EXPECT_EQ(qvae::data::equal_batch_count(10, 4, 16), 0);
  EXPECT_EQ(qvae::data::equal_batch_count(64, 1, 16), 4);
  EXPECT_THROW(qvae::data::equal_batch_count(10, 2, 0), UsageError);
}

TEST(SplitsAtScale, MillionEventsSplitAndShuffleIntoPermutations) {
  const std::int64_t n = 1000000;
  const Split split = qvae::data::split_events(n, 1);
  EXPECT_EQ(merged(split), iota_indices(n));
  EXPECT_TRUE(is_permutation_of_range(qvae::data::epoch_permutation(n, 1, 0)));
}

}  // namespace
