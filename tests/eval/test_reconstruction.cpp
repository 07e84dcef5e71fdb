// Reconstruction metrics of `qvae evaluate --model --data` (eval::compare_reconstruction)
// and the chi^2 distance of the original study against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "qvae/eval/histogram.hpp"
#include "qvae/eval/reconstruction.hpp"

using namespace qvae::eval;

TEST(ChiSquared, RawCountsOverOccupiedBins) {
  // bins: (3-1)^2/4 + (0-2)^2/2 + empty bin skipped + (5-5)^2/10
  const ChiSquared c = chi_squared({3, 0, 0, 5}, {1, 2, 0, 5});
  EXPECT_DOUBLE_EQ(c.value, 1.0 + 2.0);
  EXPECT_EQ(c.occupied_bins, 3);
  EXPECT_DOUBLE_EQ(c.per_bin(), 1.0);
  EXPECT_EQ(chi_squared({4, 1}, {4, 1}).value, 0.0);
  EXPECT_TRUE(std::isnan(chi_squared({0, 0}, {0, 0}).per_bin()));
  EXPECT_THROW(chi_squared({1}, {1, 2}), std::invalid_argument);
}

TEST(Reconstruction, HandComputedShowers) {
  ReconstructedShowers showers;
  showers.incident_energies = {100, 200, 400};
  showers.etot_data = {50, 100, 0};  // the empty third shower has no relative error
  showers.etot_reconstruction = {60, 80, 10};
  showers.squared_error = {1, 2, 6};
  const ReconstructionComparison r = compare_reconstruction(showers, 4);

  EXPECT_EQ(r.showers, 3);
  EXPECT_DOUBLE_EQ(r.mse_mean, 3.0);
  EXPECT_DOUBLE_EQ(r.mse_std, std::sqrt(14.0 / 3.0));  // population std of {1, 2, 6}
  EXPECT_EQ(r.etot_showers, 2);
  EXPECT_NEAR(r.etot_relative_error_mean, 0.0, 1e-15);  // +0.2 and -0.2
  EXPECT_DOUBLE_EQ(r.etot_relative_error_std, 0.2);

  // E_tot/E_inc: data {0.5, 0.5, 0}, reconstruction {0.6, 0.4, 0.025}; 4 bins over [0, 0.6].
  ASSERT_EQ(r.data.binning.bins(), 4);
  EXPECT_EQ(r.data.binning.edges.front(), 0.0);
  EXPECT_EQ(r.data.binning.edges.back(), 0.6);
  EXPECT_EQ(r.data.counts, (std::vector<std::int64_t>{1, 0, 0, 2}));
  EXPECT_EQ(r.reconstruction.counts, (std::vector<std::int64_t>{1, 0, 1, 1}));
  // chi^2 = 0 + (0 - 1)^2 / 1 + (2 - 1)^2 / 3 over 3 occupied bins
  EXPECT_DOUBLE_EQ(r.chi2.value, 4.0 / 3.0);
  EXPECT_EQ(r.chi2.occupied_bins, 3);
  // S = 1/2 [(1/3)^2 / (1/3) + (1/3)^2 / 1]
  EXPECT_NEAR(r.separation.value, 2.0 / 9.0, 1e-15);

  const nlohmann::json j = reconstruction_json(r);
  EXPECT_DOUBLE_EQ(j["mean_squared_error"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(j["etot_relative_error_std"].get<double>(), 0.2);
  EXPECT_DOUBLE_EQ(j["etot_over_einc"]["chi2"].get<double>(), 4.0 / 3.0);
  EXPECT_EQ(j["etot_over_einc"]["bins"].get<int>(), 4);
}

TEST(Reconstruction, PerfectReconstructionHasZeroErrors) {
  ReconstructedShowers showers;
  showers.incident_energies = {1e3, 2e3, 5e3, 1e4};
  showers.etot_data = {900, 1700, 4600, 8800};
  showers.etot_reconstruction = showers.etot_data;
  showers.squared_error = {0, 0, 0, 0};
  const ReconstructionComparison r = compare_reconstruction(showers);
  EXPECT_EQ(r.mse_mean, 0.0);
  EXPECT_EQ(r.etot_relative_error_mean, 0.0);
  EXPECT_EQ(r.etot_relative_error_std, 0.0);
  EXPECT_EQ(r.data.binning.bins(), 30);  // the original study's 30 common bins
  EXPECT_EQ(r.chi2.value, 0.0);
  EXPECT_EQ(r.separation.value, 0.0);
}

TEST(Reconstruction, EmptyInputGivesNullStatisticsAndBadInputThrows) {
  const ReconstructionComparison r = compare_reconstruction(ReconstructedShowers{});
  EXPECT_EQ(r.showers, 0);
  EXPECT_TRUE(std::isnan(r.mse_mean));
  EXPECT_TRUE(std::isnan(r.etot_relative_error_mean));
  EXPECT_TRUE(reconstruction_json(r)["mean_squared_error"].is_null());
  ReconstructedShowers uneven;
  uneven.incident_energies = {1, 2};
  uneven.etot_data = {1};
  uneven.etot_reconstruction = {1, 2};
  uneven.squared_error = {0, 0};
  EXPECT_THROW(compare_reconstruction(uneven), std::invalid_argument);
  EXPECT_THROW(compare_reconstruction(ReconstructedShowers{}, 0), std::invalid_argument);
}
