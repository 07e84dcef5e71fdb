// bfloat16 conversions: round to nearest with ties to even, NaN and inf kept.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "qvae/core/bfloat16.hpp"

namespace qvae::core {
namespace {

float round_trip(float x) { return from_bfloat16(to_bfloat16(x)); }

TEST(Bfloat16, RoundsToNearestWithTiesToEven) {
  EXPECT_EQ(round_trip(1.0f), 1.0f);
  EXPECT_EQ(round_trip(-3.5f), -3.5f);
  // Spacing at 1 is 2^-7: 1 + 2^-8 is a tie between 1 (even) and 1 + 2^-7 (odd).
  EXPECT_EQ(round_trip(1.0f + std::ldexp(1.0f, -8)), 1.0f);
  // 1 + 3·2^-8 ties between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
  EXPECT_EQ(round_trip(1.0f + 3 * std::ldexp(1.0f, -8)), 1.0f + std::ldexp(1.0f, -6));
  // Just above a tie rounds up.
  EXPECT_EQ(round_trip(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 1.0f + std::ldexp(1.0f, -7));
  for (float x : {1e-30f, 0.1f, 3.14159f, 6.02e23f, -2.5e-3f})
    EXPECT_LE(std::abs(round_trip(x) - x), std::ldexp(std::abs(x), -8)) << x;
}

TEST(Bfloat16, KeepsNaNAndInfinity) {
  EXPECT_TRUE(std::isnan(round_trip(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(round_trip(std::nanf("0x1"))));  // a payload that rounding alone would lose
  EXPECT_EQ(round_trip(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
  EXPECT_EQ(round_trip(-std::numeric_limits<float>::infinity()), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(round_trip(0.0f), 0.0f);
}

}  // namespace
}  // namespace qvae::core
