// The scores of CaloChallenge's classifier two-sample test, torch-free: AUC
// (ties at mid-rank), the ROC curve, binary cross-entropies, the JSD estimate
// (ln2 - BCE)/ln2, and the isotonic calibration (pool adjacent violators with
// linear interpolation between fitted points, clipped to [1e-6, 1 - 1e-6]).
// The classifier itself is trained by the `classifier` module (LibTorch);
// the result type lives here so metrics.json and histograms.h5 can hold it.
// docs/evaluation.md "Classifier two-sample test" describes the science.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qvae/io/file.hpp"

namespace qvae::eval {

/// Monotone non-decreasing fit of y against x (sklearn's IsotonicRegression with
/// out_of_bounds='clip'): equal x are pooled first (mean y, summed weight), then
/// adjacent violators are pooled; predictions interpolate linearly between the
/// distinct x and are constant beyond them.
class IsotonicRegression {
 public:
  IsotonicRegression(double y_min, double y_max) : y_min_(y_min), y_max_(y_max) {}
  /// InputError-free: throws std::invalid_argument on empty or mismatched input.
  void fit(const std::vector<double>& x, const std::vector<double>& y);
  double predict(double x) const;
  std::vector<double> predict(const std::vector<double>& x) const;
  const std::vector<double>& x_points() const { return x_; }
  const std::vector<double>& y_points() const { return y_; }

 private:
  double y_min_, y_max_;
  std::vector<double> x_, y_;
};

/// Area under the ROC curve of `scores` for `labels` (1 positive, 0 negative);
/// tied scores count one half (the Mann-Whitney statistic).  Throws
/// std::invalid_argument if a class is missing.
double roc_auc(const std::vector<double>& scores, const std::vector<double>& labels);

struct RocCurve {
  std::vector<double> false_positive_rate, true_positive_rate;  ///< from (0,0) to (1,1)
};
/// The ROC curve at every distinct threshold, without points collinear with their neighbours.
RocCurve roc_curve(const std::vector<double>& scores, const std::vector<double>& labels);

/// Mean binary cross-entropy of probabilities (log clamped at -100 as torch's BCELoss).
double binary_cross_entropy(const std::vector<double>& probabilities, const std::vector<double>& labels);
/// Mean binary cross-entropy of logits (torch's BCEWithLogitsLoss).
double binary_cross_entropy_logits(const std::vector<double>& logits, const std::vector<double>& labels);
/// (ln 2 - BCE) / ln 2: 0 for indistinguishable classes, 1 for perfectly separated ones.
double jsd_from_bce(double bce);
/// Fraction of scores on the right side of `threshold` (score > threshold means class 1).
double accuracy(const std::vector<double>& scores, const std::vector<double>& labels, double threshold);

/// One trained classifier's scores ("low" or "high" inputs).
struct ClassifierResult {
  std::string inputs;                 ///< "low" | "high"
  int features = 0;                   ///< input vector length
  std::int64_t events_per_class = 0;  ///< used of each file (the smaller file's count)
  std::int64_t train_per_class = 0, test_per_class = 0, validation_per_class = 0;
  int hidden = 0, layers = 0, epochs = 0;
  std::int64_t batch_size = 0;
  double lr = 0;
  std::uint64_t seed = 0;
  int best_epoch = 0;  ///< 1-based epoch with the best test accuracy
  int epochs_run = 0;  ///< fewer than `epochs` when the test accuracy reached 1
  double best_test_accuracy = 0;
  double auc = 0, jsd = 0, accuracy = 0;  ///< calibrated, on the validation set
  double auc_uncalibrated = 0, jsd_uncalibrated = 0, accuracy_uncalibrated = 0;
  double auc_test = 0;  ///< uncalibrated, on the test set (the calibration set)
  RocCurve roc;         ///< calibrated, validation set
  std::vector<double> test_accuracy_per_epoch, train_loss_per_epoch;
  double seconds_inputs = 0, seconds_training = 0;
};

nlohmann::json classifier_json(const ClassifierResult& result);
/// Group classifier/<inputs> of histograms.h5: roc_fpr, roc_tpr, per-epoch series, scores as attributes.
void write_classifier_result(io::File& file, const ClassifierResult& result);

}  // namespace qvae::eval
