// FPD/KPD pieces against JetNet's numbers (computed with numpy/scipy) and hand cases.
#include <gtest/gtest.h>

#include <cmath>

#include "qvae/core/philox.hpp"
#include "qvae/eval/distances.hpp"

using namespace qvae::eval;

namespace {

SampleMatrix gaussian_sample(std::int64_t rows, int cols, double shift, std::uint64_t seed) {
  qvae::core::Philox rng(seed, 3);
  SampleMatrix m{rows, cols, std::vector<double>(static_cast<std::size_t>(rows * cols))};
  for (std::int64_t i = 0; i < rows; ++i)
    for (int c = 0; c < cols; ++c)
      m.values[static_cast<std::size_t>(i * cols + c)] = rng.normal() + (c == 0 ? shift : 0.0);
  return m;
}

SampleMatrix rows_of(const SampleMatrix& m, const std::vector<std::int64_t>& indices) {
  SampleMatrix out{static_cast<std::int64_t>(indices.size()), m.cols, {}};
  for (auto i : indices) out.values.insert(out.values.end(), m.row(i), m.row(i) + m.cols);
  return out;
}

}  // namespace

TEST(Distances, BatchSizesAsJetNet) {
  // (1 / np.linspace(1/10000, 1/50000, 10)).astype("int32")
  EXPECT_EQ(fpd_batch_sizes(10000, 50000, 10),
            (std::vector<std::int64_t>{10000, 10975, 12162, 13636, 15517, 18000, 21428, 26470, 34615, 49999}));
  EXPECT_EQ(fpd_batch_sizes(400, 2000, 10),
            (std::vector<std::int64_t>{400, 439, 486, 545, 620, 720, 857, 1058, 1384, 2000}));
}

TEST(Distances, NonNegativeLineFitAsCurveFitWithBounds) {
  const std::vector<double> x = {0.1, 0.2, 0.3, 0.4, 0.5};
  // Values from scipy.optimize.curve_fit(a + b x, bounds=([0, 0], [inf, inf])).
  LineFit f = fit_nonnegative_line(x, {1.1, 1.25, 1.28, 1.45, 1.52});
  EXPECT_NEAR(f.intercept, 1.008, 1e-12);
  EXPECT_NEAR(f.slope, 1.04, 1e-12);
  EXPECT_NEAR(f.intercept_error, 0.03653309, 1e-8);
  EXPECT_NEAR(f.slope_error, 0.11015141, 1e-8);
  f = fit_nonnegative_line(x, {1.5, 1.4, 1.2, 1.1, 0.9});  // falling: the slope stops at 0
  EXPECT_NEAR(f.intercept, 1.22, 1e-12);
  EXPECT_EQ(f.slope, 0.0);
  EXPECT_NEAR(f.intercept_error, 0.28913665, 1e-8);
  f = fit_nonnegative_line(x, {0.05, 0.3, 0.55, 0.9, 1.1});  // the intercept stops at 0
  EXPECT_EQ(f.intercept, 0.0);
  EXPECT_NEAR(f.slope, 2.07272723, 1e-7);  // scipy stops at its tolerance (a = 1.6e-8)
  EXPECT_NEAR(f.intercept_error, 0.13820276, 1e-7);
  EXPECT_NEAR(f.slope_error, 0.416697, 1e-6);
  f = fit_nonnegative_line({1, 2, 3}, {5, 7, 9});  // exact line
  EXPECT_NEAR(f.intercept, 3.0, 1e-12);
  EXPECT_NEAR(f.slope, 2.0, 1e-12);
  EXPECT_NEAR(f.intercept_error, 0.0, 1e-7);
  EXPECT_TRUE(std::isnan(fit_nonnegative_line({1, 2}, {1, 2}).intercept_error));  // no residual degrees of freedom
}

TEST(Distances, PercentileAsNumpy) {
  const std::vector<double> v = {0.3, -0.1, 0.7, 0.2, 0.05, 0.9, 0.4, -0.2, 0.1, 0.6};
  EXPECT_NEAR(percentile(v, 16.275), -0.0302875, 1e-15);
  EXPECT_NEAR(percentile(v, 83.725), 0.653525, 1e-15);
  EXPECT_NEAR(percentile(v, 50), 0.25, 1e-15);
  EXPECT_EQ(percentile({4.0}, 30), 4.0);
}

TEST(Distances, UnbiasedPolynomialMmdHandCases) {
  // d = 1, k(x, y) = (x y + 1)^4.
  // X = {1, 1}, Y = {0, 0}: XX off-diagonal 16, YY 1, XY 1: 16 + 1 - 2 = 15.
  EXPECT_DOUBLE_EQ(mmd2_polynomial_unbiased({2, 1, {1, 1}}, {2, 1, {0, 0}}), 15.0);
  // X = Y = {1, -1}: XX = YY = k(1, -1) = 0, mean XY = (16 + 0 + 0 + 16) / 4: -16.
  EXPECT_DOUBLE_EQ(mmd2_polynomial_unbiased({2, 1, {1, -1}}, {2, 1, {1, -1}}), -16.0);
  // d = 2 and degree 3: X = {(1,0), (0,1)}, Y = {(1,1), (1,1)}: k = (x.y/2 + 1)^3.
  const double xx = 1.0, yy = std::pow(2.0, 3), xy = std::pow(1.5, 3);
  EXPECT_DOUBLE_EQ(mmd2_polynomial_unbiased({2, 2, {1, 0, 0, 1}}, {2, 2, {1, 1, 1, 1}}, 3), xx + yy - 2 * xy);
}

TEST(Distances, NormaliseByReferenceMaximum) {
  SampleMatrix ref{2, 3, {1, -4, 0, -2, 2, 0}}, gen{1, 3, {4, 4, 5}};
  normalise_by_reference(ref, gen);
  EXPECT_EQ(ref.values, (std::vector<double>{0.5, -1, 0, -1, 0.5, 0}));
  EXPECT_EQ(gen.values, (std::vector<double>{2, 1, 5}));  // a zero column is left as it is
}

TEST(Distances, ResamplingIsKeyedBySeedAndItem) {
  const auto a = resample_indices(42, 7, 3, 1000, 17);
  EXPECT_EQ(a, resample_indices(42, 7, 3, 1000, 17));
  EXPECT_NE(a, resample_indices(42, 7, 4, 1000, 17));
  EXPECT_NE(a, resample_indices(43, 7, 3, 1000, 17));
  std::vector<int> seen(17, 0);
  for (auto i : a) {
    ASSERT_GE(i, 0);
    ASSERT_LT(i, 17);
    ++seen[static_cast<std::size_t>(i)];
  }
  for (int count : seen) EXPECT_GT(count, 25);  // ~59 each
}

TEST(Distances, KpdBatchesEqualTheSerialMmdOfTheSameResample) {
  // 150 rows: not a multiple of the 4 x 8 register tile nor of the 64-row strips.
  const SampleMatrix x = gaussian_sample(150, 7, 0.0, 1), y = gaussian_sample(170, 7, 0.3, 2);
  KpdOptions options;
  options.batch_size = 150;
  options.batches = 3;
  const KpdResult kpd = kernel_physics_distance(x, y, options);
  ASSERT_EQ(kpd.values.size(), 3u);
  for (int b = 0; b < 3; ++b) {
    const SampleMatrix xb = rows_of(x, resample_indices(42, 0x4B50, 2 * static_cast<std::uint64_t>(b), 150, x.rows));
    const SampleMatrix yb =
        rows_of(y, resample_indices(42, 0x4B50, 2 * static_cast<std::uint64_t>(b) + 1, 150, y.rows));
    const double serial = mmd2_polynomial_unbiased(xb, yb);
    EXPECT_NEAR(kpd.values[static_cast<std::size_t>(b)], serial, 1e-12 * std::abs(serial) + 1e-15);
  }
  EXPECT_FALSE(kpd.reduced);
  std::vector<double> sorted = kpd.values;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(kpd.value, sorted[1]);
}

TEST(Distances, FpdAndKpdOfOneSampleAgainstItselfAreZeroWithinErrors) {
  SampleMatrix x = gaussian_sample(3000, 5, 0.0, 4), y = x;
  normalise_by_reference(x, y);
  FpdOptions fpd;
  fpd.min_samples = 500, fpd.max_samples = 2500, fpd.points = 6, fpd.resamples = 8;
  const FpdResult f = frechet_physics_distance(x, y, fpd);
  EXPECT_FALSE(f.reduced);
  EXPECT_EQ(f.batch_sizes.front(), 500);
  EXPECT_LE(f.value, 3 * f.error + 1e-12);
  KpdOptions kpd;
  kpd.batch_size = 1000, kpd.batches = 10;
  const KpdResult k = kernel_physics_distance(x, y, kpd);
  EXPECT_LE(std::abs(k.value), 3 * k.error + 1e-12);
}

TEST(Distances, FpdSeesAShiftedMeanAndReducesSizesForSmallSamples) {
  // Unnormalised, unit covariances, mean shifted by 0.5 in one of 3 features: FD = 0.25.
  const SampleMatrix x = gaussian_sample(4000, 3, 0.0, 5), y = gaussian_sample(4000, 3, 0.5, 6);
  FpdOptions options;
  options.min_samples = 1000, options.max_samples = 8000, options.points = 5, options.resamples = 6;
  const FpdResult f = frechet_physics_distance(x, y, options);
  EXPECT_TRUE(f.reduced);  // 4000 < 8000: sizes 500..4000, the 1:8 ratio kept
  EXPECT_EQ(f.max_samples, 4000);
  EXPECT_EQ(f.min_samples, 500);
  EXPECT_FALSE(f.note.empty());
  EXPECT_NEAR(f.value, 0.25, 0.05);
  EXPECT_LT(f.error, 0.05);
  KpdOptions kpd;
  kpd.batch_size = 10000;
  const KpdResult k = kernel_physics_distance(x, y, kpd);
  EXPECT_TRUE(k.reduced);
  EXPECT_EQ(k.batch_size, 4000);
  EXPECT_GT(k.value, 5 * k.error);
}
