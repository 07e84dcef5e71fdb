// Binnings as numpy builds them, numpy.histogram's bin rule, separation power
// and its finite-sample floor against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "qvae/eval/histogram.hpp"

using namespace qvae::eval;

TEST(Binning, LinearMatchesNumpyLinspace) {
  const Binning b = Binning::linear(0.5, 1.5, 100);
  ASSERT_EQ(b.bins(), 100);
  EXPECT_EQ(b.edges.front(), 0.5);
  EXPECT_EQ(b.edges.back(), 1.5);
  const double step = (1.5 - 0.5) / 100;
  for (int k = 0; k < 100; ++k) EXPECT_EQ(b.edges[static_cast<std::size_t>(k)], k * step + 0.5);
  EXPECT_FALSE(b.log_scale);
}

TEST(Binning, LogEdgesMatchNumpyLogspace) {
  // np.logspace(np.log10(0.5e-3/0.033), np.log10(1234.5), 40): 40 edges, 39 bins.
  const double lo = 0.5e-3 / 0.033, hi = 1234.5;
  const Binning b = Binning::log_edges(lo, hi, 40);
  ASSERT_EQ(b.bins(), 39);
  EXPECT_TRUE(b.log_scale);
  const double start = std::log10(lo), step = (std::log10(hi) - start) / 39;
  for (int k = 0; k < 39; ++k) EXPECT_EQ(b.edges[static_cast<std::size_t>(k)], std::pow(10.0, k * step + start));
  EXPECT_EQ(b.edges.back(), std::pow(10.0, std::log10(hi)));
}

TEST(Binning, FindFollowsNumpyHistogram) {
  const Binning b = Binning::linear(0.0, 4.0, 4);  // edges 0 1 2 3 4
  EXPECT_EQ(b.find(0.0), 0);
  EXPECT_EQ(b.find(0.999), 0);
  EXPECT_EQ(b.find(1.0), 1);  // an inner edge opens the next bin
  EXPECT_EQ(b.find(3.5), 3);
  EXPECT_EQ(b.find(4.0), 3);  // the last edge closes the last bin
  EXPECT_EQ(b.find(-1e-300), -1);
  EXPECT_EQ(b.find(4.0000001), -1);
  EXPECT_EQ(b.find(std::numeric_limits<double>::quiet_NaN()), -1);
  Histogram h(b);
  for (double x : {0.5, 1.5, 1.7, 4.0, 9.0, -3.0}) h.fill(x);
  EXPECT_EQ(h.counts, (std::vector<std::int64_t>{1, 2, 0, 1}));
  EXPECT_EQ(h.outside, 2);
  EXPECT_EQ(h.entries(), 4);
}

TEST(Binning, RefusesBadRanges) {
  EXPECT_THROW(Binning::linear(1.0, 1.0, 10), std::invalid_argument);
  EXPECT_THROW(Binning::linear(0.0, 1.0, 0), std::invalid_argument);
  EXPECT_THROW(Binning::log_edges(0.0, 1.0, 10), std::invalid_argument);
  EXPECT_THROW(Binning::log_edges(1.0, 10.0, 1), std::invalid_argument);
}

TEST(SeparationPower, HandComputedCases) {
  // Identical shapes (different totals): S = 0.
  EXPECT_EQ(separation_power({2, 4, 6}, {1, 2, 3}).value, 0.0);
  // Disjoint: S = 1.
  EXPECT_DOUBLE_EQ(separation_power({5, 0}, {0, 7}).value, 1.0);
  // p = (3/4, 1/4), q = (1/4, 3/4): S = 1/2 (1/4 / 1 + 1/4 / 1) = 1/4.
  const SeparationPower s = separation_power({3, 1}, {1, 3});
  EXPECT_DOUBLE_EQ(s.value, 0.25);
  // Floor n_occupied (1/N_a + 1/N_b) / 4 = 2 (1/4 + 1/4) / 4.
  EXPECT_DOUBLE_EQ(s.floor, 0.25);
  EXPECT_EQ(s.occupied_bins, 2);
  EXPECT_EQ(s.entries_a, 4);
  // The floor of docs/evaluation.md: 50 occupied bins, N = 8000 each: 50 / 16000 = 0.003125.
  std::vector<std::int64_t> a(60, 0), b(60, 0);
  for (int i = 0; i < 50; ++i) a[static_cast<std::size_t>(i)] = b[static_cast<std::size_t>(i)] = 160;
  EXPECT_DOUBLE_EQ(separation_power(a, b).floor, 50.0 / 16000.0);
  // Empty: undefined.
  EXPECT_TRUE(std::isnan(separation_power({0, 0}, {1, 2}).value));
  EXPECT_THROW(separation_power({1}, {1, 2}), std::invalid_argument);
}

TEST(SeparationPower, OverlapIsHistogramIntersection) {
  EXPECT_DOUBLE_EQ(overlap({3, 1}, {1, 3}), 0.5);
  EXPECT_DOUBLE_EQ(overlap({1, 2, 3}, {2, 4, 6}), 1.0);
  EXPECT_DOUBLE_EQ(overlap({1, 0}, {0, 1}), 0.0);
  EXPECT_TRUE(std::isnan(overlap({0, 0}, {0, 1})));
}
