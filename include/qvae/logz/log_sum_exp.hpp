// Numerics of partition functions in double (docs/logz.md, "Numerics"):
// softplus instead of log(1 + e^x), log-sum-exp instead of a log of a mean of
// exponentials, and the effective sample size of importance weights given as
// logarithms.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace qvae::logz {

/// log(1 + e^x) without overflow or loss of precision for any finite x.
inline double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

/// log Σ_i e^{v_i} = max + log Σ_i e^{v_i − max}, two passes.  −∞ for no values.
double log_sum_exp(const double* values, std::size_t count);
inline double log_sum_exp(const std::vector<double>& values) { return log_sum_exp(values.data(), values.size()); }
/// log((1/M) Σ_i e^{v_i}).  With all v_i equal it returns exactly v_0.
double log_mean_exp(const std::vector<double>& values);

/// A running log-sum-exp for streams too long to store (exact enumeration):
/// keeps the largest value seen and Σ e^{v − largest}.  merge() combines two
/// accumulators; folding accumulators in a fixed order gives a fixed result.
class LogSumExp {
 public:
  void add(double value) {
    if (value == -std::numeric_limits<double>::infinity()) return;
    if (value > max_) {
      sum_ = sum_ * std::exp(max_ - value) + 1.0;
      max_ = value;
    } else {
      sum_ += std::exp(value - max_);
    }
  }
  void merge(double other_max, double other_sum) {
    if (other_sum == 0) return;
    if (other_max > max_) {
      sum_ = sum_ * std::exp(max_ - other_max) + other_sum;
      max_ = other_max;
    } else {
      sum_ += other_sum * std::exp(other_max - max_);
    }
  }
  double max() const { return max_; }
  double sum() const { return sum_; }
  double value() const { return sum_ > 0 ? max_ + std::log(sum_) : -std::numeric_limits<double>::infinity(); }

 private:
  double max_ = -std::numeric_limits<double>::infinity();
  double sum_ = 0.0;
};

/// Kish's effective sample size of weights w_i = e^{l_i}: (Σ w)² / Σ w²,
/// between 1 and M (M when all weights are equal).  0 for no weights.
double effective_sample_size(const std::vector<double>& log_weights);

}  // namespace qvae::logz
