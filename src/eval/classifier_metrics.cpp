#include "qvae/eval/classifier_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "qvae/core/json_output.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/io/dataset.hpp"

namespace qvae::eval {

using core::finite_or_null;
namespace {

void require_pairs(std::size_t a, std::size_t b, const char* where) {
  if (a != b || a == 0)
    throw std::invalid_argument(std::string(where) + ": need equally many, non-zero scores and labels");
}

/// Indices of `values` in ascending order (ties keep their input order).
std::vector<std::size_t> ascending_order(const std::vector<double>& values) {
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  return order;
}

}  // namespace

void IsotonicRegression::fit(const std::vector<double>& x, const std::vector<double>& y) {
  require_pairs(x.size(), y.size(), "IsotonicRegression::fit");
  const std::vector<std::size_t> order = ascending_order(x);
  // Pool equal x first: one point per distinct x with the mean y and the count as weight.
  std::vector<double> xs, ys, ws;
  for (std::size_t k = 0; k < order.size();) {
    const double xv = x[order[k]];
    double sum = 0, n = 0;
    for (; k < order.size() && x[order[k]] == xv; ++k) sum += y[order[k]], n += 1;
    xs.push_back(xv), ys.push_back(sum / n), ws.push_back(n);
  }
  // Pool adjacent violators: a stack of blocks, each with its weighted mean.
  std::vector<double> mean, weight;
  std::vector<std::size_t> size;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    mean.push_back(ys[i]), weight.push_back(ws[i]), size.push_back(1);
    while (mean.size() > 1 && mean[mean.size() - 2] > mean.back()) {
      const std::size_t last = mean.size() - 1;
      const double w = weight[last - 1] + weight[last];
      mean[last - 1] = (mean[last - 1] * weight[last - 1] + mean[last] * weight[last]) / w;
      weight[last - 1] = w;
      size[last - 1] += size[last];
      mean.pop_back(), weight.pop_back(), size.pop_back();
    }
  }
  x_ = std::move(xs);
  y_.clear();
  for (std::size_t b = 0; b < mean.size(); ++b) y_.insert(y_.end(), size[b], std::clamp(mean[b], y_min_, y_max_));
}

double IsotonicRegression::predict(double x) const {
  if (x_.empty()) throw std::logic_error("IsotonicRegression::predict before fit");
  if (!(x > x_.front())) return y_.front();  // also NaN: the lowest value, as clipping does
  if (x >= x_.back()) return y_.back();
  const std::size_t hi = static_cast<std::size_t>(std::upper_bound(x_.begin(), x_.end(), x) - x_.begin());
  const std::size_t lo = hi - 1;
  const double t = (x - x_[lo]) / (x_[hi] - x_[lo]);
  return y_[lo] + t * (y_[hi] - y_[lo]);
}

std::vector<double> IsotonicRegression::predict(const std::vector<double>& x) const {
  std::vector<double> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = predict(x[i]);
  return out;
}

double roc_auc(const std::vector<double>& scores, const std::vector<double>& labels) {
  require_pairs(scores.size(), labels.size(), "roc_auc");
  const std::vector<std::size_t> order = ascending_order(scores);
  double positives = 0, rank_sum = 0;
  for (std::size_t k = 0; k < order.size();) {
    std::size_t end = k;
    while (end < order.size() && scores[order[end]] == scores[order[k]]) ++end;
    const double mid_rank = 0.5 * static_cast<double>(k + 1 + end);  // ranks k+1 .. end
    for (std::size_t j = k; j < end; ++j)
      if (labels[order[j]] > 0.5) positives += 1, rank_sum += mid_rank;
    k = end;
  }
  const double negatives = static_cast<double>(scores.size()) - positives;
  if (positives == 0 || negatives == 0) throw std::invalid_argument("roc_auc: both classes must be present");
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

RocCurve roc_curve(const std::vector<double>& scores, const std::vector<double>& labels) {
  require_pairs(scores.size(), labels.size(), "roc_curve");
  std::vector<std::size_t> order = ascending_order(scores);
  std::reverse(order.begin(), order.end());
  // Integer (false, true) positive counts at each distinct threshold, highest first.
  std::vector<std::int64_t> fp{0}, tp{0};
  std::int64_t f = 0, t = 0;
  for (std::size_t k = 0; k < order.size();) {
    const double s = scores[order[k]];
    for (; k < order.size() && scores[order[k]] == s; ++k) (labels[order[k]] > 0.5 ? t : f) += 1;
    // Drop the previous point if it lies on the line from its predecessor to this one.
    const std::size_t n = fp.size();
    if (n >= 2 && (fp[n - 1] - fp[n - 2]) * (t - tp[n - 1]) == (tp[n - 1] - tp[n - 2]) * (f - fp[n - 1]))
      fp.pop_back(), tp.pop_back();
    fp.push_back(f), tp.push_back(t);
  }
  if (f == 0 || t == 0) throw std::invalid_argument("roc_curve: both classes must be present");
  RocCurve roc;
  for (std::size_t i = 0; i < fp.size(); ++i) {
    roc.false_positive_rate.push_back(static_cast<double>(fp[i]) / static_cast<double>(f));
    roc.true_positive_rate.push_back(static_cast<double>(tp[i]) / static_cast<double>(t));
  }
  return roc;
}

double binary_cross_entropy(const std::vector<double>& probabilities, const std::vector<double>& labels) {
  require_pairs(probabilities.size(), labels.size(), "binary_cross_entropy");
  double sum = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const double p = probabilities[i], y = labels[i];
    sum -= y * std::max(std::log(p), -100.0) + (1 - y) * std::max(std::log1p(-p), -100.0);
  }
  return sum / static_cast<double>(labels.size());
}

double binary_cross_entropy_logits(const std::vector<double>& logits, const std::vector<double>& labels) {
  require_pairs(logits.size(), labels.size(), "binary_cross_entropy_logits");
  double sum = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const double z = logits[i];
    sum += std::max(z, 0.0) - z * labels[i] + std::log1p(std::exp(-std::abs(z)));
  }
  return sum / static_cast<double>(labels.size());
}

double jsd_from_bce(double bce) { return (std::log(2.0) - bce) / std::log(2.0); }

double accuracy(const std::vector<double>& scores, const std::vector<double>& labels, double threshold) {
  require_pairs(scores.size(), labels.size(), "accuracy");
  std::int64_t right = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) right += (scores[i] > threshold) == (labels[i] > 0.5);
  return static_cast<double>(right) / static_cast<double>(labels.size());
}

nlohmann::json classifier_json(const ClassifierResult& r) {
  return {{"inputs", r.inputs},
          {"features", r.features},
          {"auc", finite_or_null(r.auc)},
          {"jsd", finite_or_null(r.jsd)},
          {"accuracy", finite_or_null(r.accuracy)},
          {"auc_uncalibrated", finite_or_null(r.auc_uncalibrated)},
          {"jsd_uncalibrated", finite_or_null(r.jsd_uncalibrated)},
          {"accuracy_uncalibrated", finite_or_null(r.accuracy_uncalibrated)},
          {"auc_test_uncalibrated", finite_or_null(r.auc_test)},
          {"best_epoch", r.best_epoch},
          {"epochs_run", r.epochs_run},
          {"best_test_accuracy", finite_or_null(r.best_test_accuracy)},
          {"events_per_class",
           {{"used", r.events_per_class},
            {"train", r.train_per_class},
            {"test", r.test_per_class},
            {"validation", r.validation_per_class}}},
          {"network", {{"hidden", r.hidden}, {"layers", r.layers}, {"activation", "LeakyReLU(0.01)"}}},
          {"training", {{"epochs", r.epochs}, {"batch_size", r.batch_size}, {"lr", r.lr}, {"optimizer", "Adam"}}},
          {"seed", r.seed},
          {"calibration", "isotonic regression fitted on the test set, clipped to [1e-6, 1 - 1e-6]"},
          {"labels", "reference 1, generated 0; AUC and JSD on the validation set"},
          {"roc_points", r.roc.false_positive_rate.size()},
          {"seconds", {{"inputs", r.seconds_inputs}, {"training", r.seconds_training}}}};
}

void write_classifier_result(io::File& file, const ClassifierResult& r) {
  const std::string group = "classifier/" + r.inputs;
  io::create_group(file, group);
  io::set_attribute(file, group, "auc", r.auc);
  io::set_attribute(file, group, "jsd", r.jsd);
  io::set_attribute(file, group, "auc_uncalibrated", r.auc_uncalibrated);
  io::set_attribute(file, group, "best_epoch", static_cast<std::int64_t>(r.best_epoch));
  const auto write = [&](const std::string& name, const std::vector<double>& values) {
    io::write_rows(file, group + "/" + name, values.data(), static_cast<std::int64_t>(values.size()), 0);
  };
  write("roc_fpr", r.roc.false_positive_rate);
  write("roc_tpr", r.roc.true_positive_rate);
  write("test_accuracy", r.test_accuracy_per_epoch);
  write("train_loss", r.train_loss_per_epoch);
}

}  // namespace qvae::eval
