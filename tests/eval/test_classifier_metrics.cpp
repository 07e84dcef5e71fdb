// The scores of the classifier test against values worked out by hand:
// isotonic regression (pooling, ties, clipping, interpolation), AUC with ties,
// the ROC curve's points, cross-entropies and the JSD estimate.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "qvae/eval/classifier_metrics.hpp"

using namespace qvae::eval;

TEST(IsotonicRegression, PoolsAdjacentViolatorsIntoTheirWeightedMean) {
  IsotonicRegression iso(0.0, 10.0);
  iso.fit({1, 2, 3, 4, 5, 6}, {1, 3, 2, 4, 3.5, 5});
  // 3 > 2 pool to 2.5; 4 > 3.5 pool to 3.75.
  const std::vector<double> expected = {1, 2.5, 2.5, 3.75, 3.75, 5};
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_DOUBLE_EQ(iso.y_points()[i], expected[i]) << i;
}

TEST(IsotonicRegression, ClipsFittedValuesAndInterpolatesBetweenPoints) {
  IsotonicRegression iso(1e-6, 1 - 1e-6);
  iso.fit({0.1, 0.2, 0.3, 0.4}, {0, 1, 0, 1});  // fitted 0, 0.5, 0.5, 1 before clipping
  EXPECT_DOUBLE_EQ(iso.predict(0.1), 1e-6);
  EXPECT_DOUBLE_EQ(iso.predict(0.15), 0.5 * (1e-6 + 0.5));
  EXPECT_DOUBLE_EQ(iso.predict(0.25), 0.5);
  EXPECT_DOUBLE_EQ(iso.predict(0.05), 1e-6);     // below the range: the first value
  EXPECT_DOUBLE_EQ(iso.predict(0.9), 1 - 1e-6);  // above: the last
}

TEST(IsotonicRegression, PoolsEqualInputsBeforeFitting) {
  IsotonicRegression iso(0.0, 1.0);
  iso.fit({0.1, 0.2, 0.1}, {0, 0, 1});  // x = 0.1: mean 0.5 with weight 2, then 0 at 0.2 -> 1/3 for both
  ASSERT_EQ(iso.x_points().size(), 2u);
  EXPECT_DOUBLE_EQ(iso.predict(0.1), 1.0 / 3);
  EXPECT_DOUBLE_EQ(iso.predict(0.2), 1.0 / 3);
}

TEST(RocAuc, MatchesTheMannWhitneyCountWithTiesAsHalf) {
  EXPECT_DOUBLE_EQ(roc_auc({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}), 0.75);
  // Positive 0.5 beats negative 0.2 and ties negative 0.5; positive 0.9 beats both: 3.5 / 4.
  EXPECT_DOUBLE_EQ(roc_auc({0.2, 0.5, 0.5, 0.9}, {0, 0, 1, 1}), 0.875);
  EXPECT_DOUBLE_EQ(roc_auc({0.5, 0.5, 0.5, 0.5}, {0, 1, 0, 1}), 0.5);
  EXPECT_DOUBLE_EQ(roc_auc({0.9, 0.1}, {0, 1}), 0.0);
  EXPECT_THROW(roc_auc({0.1, 0.2}, {1, 1}), std::invalid_argument);
}

TEST(RocCurve, HasOnePointPerThresholdWithoutCollinearOnes) {
  const RocCurve roc = roc_curve({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1});
  EXPECT_EQ(roc.false_positive_rate, (std::vector<double>{0, 0, 0.5, 0.5, 1}));
  EXPECT_EQ(roc.true_positive_rate, (std::vector<double>{0, 0.5, 0.5, 1, 1}));
  const RocCurve straight = roc_curve({0.9, 0.8, 0.7}, {1, 1, 0});  // (0, 1/2) lies between (0, 0) and (0, 1)
  EXPECT_EQ(straight.false_positive_rate, (std::vector<double>{0, 0, 1}));
  EXPECT_EQ(straight.true_positive_rate, (std::vector<double>{0, 1, 1}));
}

TEST(CrossEntropy, OfProbabilitiesAndLogitsAndTheJsdEstimate) {
  EXPECT_NEAR(binary_cross_entropy({0.8, 0.3}, {1, 0}), -(std::log(0.8) + std::log(0.7)) / 2, 1e-15);
  EXPECT_DOUBLE_EQ(binary_cross_entropy({0.0}, {1}), 100.0);  // log clamped at -100 as torch's BCELoss
  EXPECT_NEAR(binary_cross_entropy_logits({0.0}, {1}), std::log(2.0), 1e-15);
  EXPECT_NEAR(binary_cross_entropy_logits({2.0, -3.0}, {1, 0}),
              (std::log1p(std::exp(-2.0)) + std::log1p(std::exp(-3.0))) / 2, 1e-15);
  EXPECT_DOUBLE_EQ(jsd_from_bce(std::log(2.0)), 0.0);  // a coin flip: indistinguishable
  EXPECT_DOUBLE_EQ(jsd_from_bce(0.0), 1.0);            // perfect separation
}

TEST(Accuracy, CountsScoresAboveTheThresholdAsClassOne) {
  EXPECT_DOUBLE_EQ(accuracy({0.5, 0.6, 0.2, 0.9}, {1, 1, 0, 0}, 0.5), 0.5);  // 0.5 rounds to 0 as numpy
}
