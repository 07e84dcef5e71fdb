// numpy's summation order (qvae/eval/numpy_sum.hpp), checked on cases whose
// float32 results follow from the order alone.
#include <gtest/gtest.h>

#include <vector>

#include "qvae/eval/numpy_sum.hpp"

namespace qvae {
namespace {

TEST(NumpySum, ShortRunsAddLeftToRight) {
  // 1e8 + 1 + ... in float32: each +1 is lost (ulp(1e8) = 8), left to right.
  const std::vector<float> x = {1e8f, 1, 1, 1, 1, 1, 1};
  EXPECT_EQ(eval::numpy_sum(x.data(), 7), 1e8f);
}

TEST(NumpySum, EightAccumulatorsKeepSmallTermsTogether) {
  // 16 values: accumulator 0 gets 1e8 + 1, the others 1 + 1 = 2 each;
  // ((1e8 + 2) + (2 + 2)) + ((2 + 2) + (2 + 2)) in float32.
  std::vector<float> x(16, 1.0f);
  x[0] = 1e8f;
  float r0 = 1e8f + 1.0f;
  const float expected = ((r0 + 2.0f) + (2.0f + 2.0f)) + ((2.0f + 2.0f) + (2.0f + 2.0f));
  EXPECT_EQ(eval::numpy_sum(x.data(), 16), expected);
  EXPECT_EQ(eval::numpy_pairwise_sum(x.data(), 16), expected);
}

TEST(NumpySum, ChunksOf8192AreAddedInTheAccumulatorType) {
  // 2^25 ones: a running float32 sum stops at 2^24; numpy's chunks of 8192 are
  // exact and so is their float32 total, 2^25.
  const std::vector<float> ones(std::size_t{1} << 25, 1.0f);
  EXPECT_EQ(eval::numpy_sum(ones.data(), static_cast<std::int64_t>(ones.size())), 33554432.0f);
  float running = 0;
  for (float v : ones) running += v;
  EXPECT_EQ(running, 16777216.0f);
}

TEST(NumpySum, DoubleSumsAreExactOnIntegers) {
  std::vector<double> x(1000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i);
  EXPECT_EQ(eval::numpy_sum(x.data(), 1000), 499500.0);
}

}  // namespace
}  // namespace qvae
