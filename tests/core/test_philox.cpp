#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "qvae/core/philox.hpp"

using namespace qvae::core;

// Known-answer vectors of Random123 (kat_vectors, "philox4x32 10"): counter, key -> output.
TEST(Philox, MatchesPublishedKnownAnswerVectors) {
  struct Kat {
    PhiloxBlock ctr;
    std::uint32_t k0, k1;
    PhiloxBlock expected;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}},
       0xffffffffu,
       0xffffffffu,
       {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
       0xa4093822u,
       0x299f31d0u,
       {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
  };
  for (const auto& kat : kats) {
    const PhiloxBlock out = philox4x32_10(kat.ctr, kat.k0, kat.k1);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out.v[i], kat.expected.v[i]) << "word " << i;
  }
}

TEST(Philox, GeneratorMapsSeedStreamCounterOntoKeyAndCounterWords) {
  // seed -> key (lo, hi); (counter, stream) -> counter words (lo, hi, lo, hi).
  Philox g(0x299f31d0a4093822ull, 0x0370734413198a2eull, 0x85a308d3243f6a88ull);
  const PhiloxBlock out = g.block();
  EXPECT_EQ(out.v[0], 0xd16cfe09u);
  EXPECT_EQ(out.v[3], 0x24126ea1u);
  EXPECT_EQ(g.counter(), 0x85a308d3243f6a89ull);
}

TEST(Philox, ResumingFromAStoredCounterContinuesTheStream) {
  Philox a(42, 7);
  for (int i = 0; i < 5; ++i) a.block();
  Philox b(42, 7, a.counter());
  const PhiloxBlock x = a.block(), y = b.block();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(x.v[i], y.v[i]);
}

TEST(Philox, DifferentStreamsAndSeedsGiveDifferentNumbers) {
  EXPECT_NE(Philox(1, 0).next_u32(), Philox(1, 1).next_u32());
  EXPECT_NE(Philox(1, 0).next_u32(), Philox(2, 0).next_u32());
  EXPECT_NE(stream_id(1, 5), stream_id(2, 5));
}

// Moments of n draws, compared with z-scores: |z| < 5 fails with probability ~6e-7 per check.
TEST(Philox, UniformHasTheMeanAndVarianceOfU01) {
  Philox g(2024, 1);
  const int n = 200000;
  double sum = 0, sum2 = 0, lo = 1, hi = 0;
  for (int i = 0; i < n; ++i) {
    const double u = g.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum2 += u * u;
    lo = std::min(lo, u);
    hi = std::max(hi, u);
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  EXPECT_LT(std::abs(mean - 0.5) / std::sqrt(1.0 / 12 / n), 5.0);
  // Var of (u-1/2)^2 for U(0,1) is 1/180.
  EXPECT_LT(std::abs(var - 1.0 / 12) / std::sqrt(1.0 / 180 / n), 5.0);
  EXPECT_LT(lo, 1e-3);
  EXPECT_GT(hi, 1 - 1e-3);
}

TEST(Philox, UniformIsFlatOverTenBins) {
  Philox g(7, 3);
  const int n = 100000, bins = 10;
  std::vector<int> counts(bins, 0);
  for (int i = 0; i < n; ++i) ++counts[static_cast<int>(g.uniform_float() * bins)];
  double chi2 = 0;
  for (int c : counts) chi2 += (c - n / bins) * (c - n / bins) / double(n / bins);
  // chi-square with 9 dof: P(chi2 > 33.7) = 1e-4.
  EXPECT_LT(chi2, 33.7);
}

TEST(Philox, NormalHasZeroMeanUnitVarianceAndNoSkew) {
  Philox g(99, 0);
  const int n = 200000;
  double s1 = 0, s2 = 0, s3 = 0;
  for (int i = 0; i < n; ++i) {
    const double x = g.normal();
    s1 += x, s2 += x * x, s3 += x * x * x;
  }
  EXPECT_LT(std::abs(s1 / n) / std::sqrt(1.0 / n), 5.0);
  EXPECT_LT(std::abs(s2 / n - 1) / std::sqrt(2.0 / n), 5.0);
  EXPECT_LT(std::abs(s3 / n) / std::sqrt(15.0 / n), 5.0);
}

TEST(Philox, BernoulliFrequencyMatchesP) {
  Philox g(5, 5);
  const int n = 100000;
  for (double p : {0.0, 0.03, 0.5, 0.9, 1.0}) {
    int ones = 0;
    for (int i = 0; i < n; ++i) ones += g.bernoulli(p);
    if (p == 0.0 || p == 1.0) {
      EXPECT_EQ(ones, static_cast<int>(p * n));
    } else {
      EXPECT_LT(std::abs(ones - p * n) / std::sqrt(n * p * (1 - p)), 5.0) << "p=" << p;
    }
  }
}
