#include "qvae/eval/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "qvae/io/attributes.hpp"
#include "qvae/io/dataset.hpp"

namespace qvae::eval {
namespace {

/// numpy.linspace(start, stop, num) with endpoint: start + k * step, the last value exactly stop.
std::vector<double> numpy_linspace(double start, double stop, int num) {
  std::vector<double> values(static_cast<std::size_t>(std::max(num, 2)));
  const int div = static_cast<int>(values.size()) - 1;
  const double step = (stop - start) / div;
  for (int k = 0; k < div; ++k) values[static_cast<std::size_t>(k)] = k * step + start;
  values[static_cast<std::size_t>(div)] = stop;
  return values;
}

}  // namespace

int Binning::find(double value) const {
  if (edges.size() < 2 || !(value >= edges.front() && value <= edges.back())) return -1;
  if (value == edges.back()) return bins() - 1;  // numpy closes the last bin
  const auto upper = std::upper_bound(edges.begin(), edges.end(), value);
  return static_cast<int>(upper - edges.begin()) - 1;
}

Binning Binning::linear(double lo, double hi, int bins) {
  if (bins < 1 || !(hi > lo)) throw std::invalid_argument("Binning::linear: need bins >= 1 and lo < hi");
  return Binning{numpy_linspace(lo, hi, bins + 1), false};
}

Binning Binning::linear_over(const std::vector<double>& a, const std::vector<double>& b, int bins, double widen) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto* set : {&a, &b})
    for (double x : *set)
      if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
  if (!(lo <= hi)) lo = 0, hi = 1;
  if (hi == lo) lo -= widen * std::abs(lo) + 0.5, hi += widen * std::abs(hi) + 0.5;
  return linear(lo, hi, bins);
}

SampleMoments sample_moments(const std::vector<double>& values) {
  SampleMoments m{static_cast<std::int64_t>(values.size()), std::numeric_limits<double>::quiet_NaN(),
                  std::numeric_limits<double>::quiet_NaN()};
  if (values.empty()) return m;
  double sum = 0;
  for (double v : values) sum += v;
  m.mean = sum / static_cast<double>(values.size());
  double square = 0;
  for (double v : values) square += (v - m.mean) * (v - m.mean);
  m.deviation = std::sqrt(square / static_cast<double>(values.size()));
  return m;
}

Binning Binning::log_edges(double lo, double hi, int edge_count) {
  if (edge_count < 2 || !(lo > 0) || !(hi > lo))
    throw std::invalid_argument("Binning::log_edges: need edge_count >= 2 and 0 < lo < hi");
  Binning binning{numpy_linspace(std::log10(lo), std::log10(hi), edge_count), true};
  for (double& e : binning.edges) e = std::pow(10.0, e);
  return binning;
}

Binning Binning::logspace(double start, double stop, int edge_count) {
  if (edge_count < 2 || !(stop > start))
    throw std::invalid_argument("Binning::logspace: need edge_count >= 2 and start < stop");
  Binning binning{numpy_linspace(start, stop, edge_count), true};
  for (double& e : binning.edges) e = std::pow(10.0, e);
  return binning;
}

void Histogram::fill(double value) {
  const int bin = binning.find(value);
  if (bin < 0)
    ++outside;
  else
    ++counts[static_cast<std::size_t>(bin)];
}

std::int64_t Histogram::entries() const {
  std::int64_t n = 0;
  for (std::int64_t c : counts) n += c;
  return n;
}

void Histogram::sum_over(const par::Communicator& comm) {
  if (!counts.empty()) comm.sum_in_place(counts.data(), counts.size());
  outside = comm.sum(outside);
}

SeparationPower separation_power(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("separation_power: histograms of different binnings");
  SeparationPower s;
  for (std::size_t i = 0; i < a.size(); ++i) {
    s.entries_a += a[i];
    s.entries_b += b[i];
    s.occupied_bins += (a[i] > 0 || b[i] > 0);
  }
  if (s.entries_a == 0 || s.entries_b == 0) {
    s.value = s.floor = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  const double na = static_cast<double>(s.entries_a), nb = static_cast<double>(s.entries_b);
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double p = static_cast<double>(a[i]) / na, q = static_cast<double>(b[i]) / nb;
    sum += (p - q) * (p - q) / (p + q + 1e-16);
  }
  s.value = 0.5 * sum;
  s.floor = s.occupied_bins * (1.0 / na + 1.0 / nb) / 4.0;
  return s;
}

double overlap(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("overlap: histograms of different binnings");
  double na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) na += static_cast<double>(a[i]), nb += static_cast<double>(b[i]);
  if (na == 0 || nb == 0) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    sum += std::min(static_cast<double>(a[i]) / na, static_cast<double>(b[i]) / nb);
  return sum;
}

double ChiSquared::per_bin() const {
  return occupied_bins > 0 ? value / occupied_bins : std::numeric_limits<double>::quiet_NaN();
}

ChiSquared chi_squared(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("chi_squared: histograms of different binnings");
  ChiSquared c;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double p = static_cast<double>(a[i]), q = static_cast<double>(b[i]);
    if (p + q <= 0) continue;
    c.value += (p - q) * (p - q) / (p + q);
    ++c.occupied_bins;
  }
  return c;
}

void write_histogram_pair(io::File& file, const std::string& group, const std::string& label,
                          const std::string& first_name, const Histogram& first, const std::string& second_name,
                          const Histogram& second) {
  io::create_group(file, group);
  const auto& edges = first.binning.edges;
  io::write_rows(file, group + "/edges", edges.data(), static_cast<std::int64_t>(edges.size()), 0);
  io::write_rows(file, group + "/" + first_name, first.counts.data(), static_cast<std::int64_t>(first.counts.size()),
                 0);
  io::write_rows(file, group + "/" + second_name, second.counts.data(), static_cast<std::int64_t>(second.counts.size()),
                 0);
  io::set_attribute(file, group, "label", label);
}

}  // namespace qvae::eval
