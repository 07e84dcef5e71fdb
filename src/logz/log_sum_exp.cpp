#include "qvae/logz/log_sum_exp.hpp"

#include <algorithm>

namespace qvae::logz {

double log_sum_exp(const double* values, std::size_t count) {
  constexpr double kMinusInfinity = -std::numeric_limits<double>::infinity();
  if (count == 0) return kMinusInfinity;
  const double top = *std::max_element(values, values + count);
  if (top == kMinusInfinity || !std::isfinite(top)) return top;
  double sum = 0.0;
  for (std::size_t i = 0; i < count; ++i) sum += std::exp(values[i] - top);
  return top + std::log(sum);
}

double log_mean_exp(const std::vector<double>& values) {
  if (values.empty()) return -std::numeric_limits<double>::infinity();
  const double top = *std::max_element(values.begin(), values.end());
  if (!std::isfinite(top)) return top;
  double sum = 0.0;
  for (double v : values) sum += std::exp(v - top);
  // Σ e^{v − top} = M exactly when all values are equal, so the mean is exactly 1.
  return top + std::log(sum / static_cast<double>(values.size()));
}

double effective_sample_size(const std::vector<double>& log_weights) {
  if (log_weights.empty()) return 0.0;
  const double top = *std::max_element(log_weights.begin(), log_weights.end());
  if (!std::isfinite(top)) return 0.0;
  double sum = 0.0, square = 0.0;
  for (double l : log_weights) {
    const double w = std::exp(l - top);
    sum += w;
    square += w * w;
  }
  return sum * sum / square;
}

}  // namespace qvae::logz
