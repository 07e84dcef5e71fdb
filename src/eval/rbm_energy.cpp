#include "qvae/eval/rbm_energy.hpp"

#include <mpi.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "qvae/io/attributes.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/par/mpi_check.hpp"
#include "json_values.hpp"

namespace qvae::eval {
namespace {

struct Moments {
  double count = 0, sum = 0, sum_squares = 0;
};

Moments moments(const std::vector<double>& values) {
  Moments m;
  for (double v : values) m.count += 1, m.sum += v, m.sum_squares += v * v;
  return m;
}

}  // namespace

EnergyComparison compare_rbm_energies(const std::vector<double>& encoded, const std::vector<double>& gibbs, int bins,
                                      const par::Communicator* comm) {
  if (bins < 1) throw std::invalid_argument("compare_rbm_energies: need bins >= 1");
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto* set : {&encoded, &gibbs})
    for (double e : *set)
      if (std::isfinite(e)) lo = std::min(lo, e), hi = std::max(hi, e);
  if (comm) lo = comm->min(lo), hi = comm->max(hi);
  if (!(lo <= hi)) lo = 0, hi = 1;                            // no finite energies anywhere
  if (hi == lo) lo -= 0.5 * std::abs(lo) + 0.5, hi += 0.5 * std::abs(hi) + 0.5;  // one value
  const Binning binning = Binning::linear(lo, hi, bins);
  EnergyComparison out;
  out.encoded = Histogram(binning);
  out.gibbs = Histogram(binning);
  for (double e : encoded) out.encoded.fill(e);
  for (double e : gibbs) out.gibbs.fill(e);
  Moments a = moments(encoded), b = moments(gibbs);
  if (comm) {
    out.encoded.sum_over(*comm);
    out.gibbs.sum_over(*comm);
    double packed[6] = {a.count, a.sum, a.sum_squares, b.count, b.sum, b.sum_squares};
    comm->sum_in_place(packed, 6);
    a = {packed[0], packed[1], packed[2]};
    b = {packed[3], packed[4], packed[5]};
  }
  out.separation = separation_power(out.encoded.counts, out.gibbs.counts);
  out.overlap = overlap(out.encoded.counts, out.gibbs.counts);
  const auto fill = [](const Moments& m, std::int64_t& count, double& mean, double& deviation) {
    count = static_cast<std::int64_t>(m.count);
    mean = m.count > 0 ? m.sum / m.count : std::numeric_limits<double>::quiet_NaN();
    deviation = m.count > 0 ? std::sqrt(std::max(0.0, m.sum_squares / m.count - mean * mean))
                            : std::numeric_limits<double>::quiet_NaN();
  };
  fill(a, out.count_encoded, out.mean_encoded, out.std_encoded);
  fill(b, out.count_gibbs, out.mean_gibbs, out.std_gibbs);
  return out;
}

nlohmann::json energy_comparison_json(const EnergyComparison& c) {
  return {{"separation_power", {{"value", finite_or_null(c.separation.value)}, {"floor", finite_or_null(c.separation.floor)}}},
          {"overlap", finite_or_null(c.overlap)},
          {"encoded", {{"count", c.count_encoded}, {"mean", finite_or_null(c.mean_encoded)}, {"std", finite_or_null(c.std_encoded)}}},
          {"gibbs", {{"count", c.count_gibbs}, {"mean", finite_or_null(c.mean_gibbs)}, {"std", finite_or_null(c.std_gibbs)}}}};
}

void write_energy_comparison(io::File& file, const EnergyComparison& c) {
  write_histogram_pair(file, "rbm_energy", "RBM energy E(z)", "encoded", c.encoded, "gibbs", c.gibbs);
  io::set_attribute(file, "rbm_energy", "separation_power", c.separation.value);
  io::set_attribute(file, "rbm_energy", "separation_power_floor", c.separation.floor);
  io::set_attribute(file, "rbm_energy", "overlap", c.overlap);
}

}  // namespace qvae::eval
