#include "qvae/eval/rbm_energy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "qvae/core/json_output.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/io/dataset.hpp"

namespace qvae::eval {

using core::finite_or_null;
namespace {

EnergyComparison compare_in_order(const std::vector<double>& encoded, const std::vector<double>& gibbs, int bins) {
  const Binning binning = Binning::linear_over(encoded, gibbs, bins, 0.5);
  EnergyComparison out;
  out.encoded = Histogram(binning);
  out.gibbs = Histogram(binning);
  for (double e : encoded) out.encoded.fill(e);
  for (double e : gibbs) out.gibbs.fill(e);
  out.separation = separation_power(out.encoded.counts, out.gibbs.counts);
  out.overlap = overlap(out.encoded.counts, out.gibbs.counts);
  const SampleMoments a = sample_moments(encoded), b = sample_moments(gibbs);
  out.count_encoded = a.count, out.mean_encoded = a.mean, out.std_encoded = a.deviation;
  out.count_gibbs = b.count, out.mean_gibbs = b.mean, out.std_gibbs = b.deviation;
  return out;
}

}  // namespace

EnergyComparison compare_rbm_energies(const std::vector<double>& encoded, const std::vector<double>& gibbs, int bins,
                                      const par::Communicator* comm) {
  if (bins < 1) throw std::invalid_argument("compare_rbm_energies: need bins >= 1");
  if (!comm) return compare_in_order(encoded, gibbs, bins);
  // Every rank gets both sets in global order (rank blocks concatenated), so the
  // sums run in one order whatever the rank count: identical bits on 1 or K ranks.
  return compare_in_order(comm->allgather_blocks(encoded), comm->allgather_blocks(gibbs), bins);
}

nlohmann::json energy_comparison_json(const EnergyComparison& c) {
  return {
      {"separation_power",
       {{"value", finite_or_null(c.separation.value)}, {"floor", finite_or_null(c.separation.floor)}}},
      {"overlap", finite_or_null(c.overlap)},
      {"encoded",
       {{"count", c.count_encoded}, {"mean", finite_or_null(c.mean_encoded)}, {"std", finite_or_null(c.std_encoded)}}},
      {"gibbs",
       {{"count", c.count_gibbs}, {"mean", finite_or_null(c.mean_gibbs)}, {"std", finite_or_null(c.std_gibbs)}}}};
}

void write_energy_comparison(io::File& file, const EnergyComparison& c) {
  write_histogram_pair(file, "rbm_energy", "RBM energy E(z)", "encoded", c.encoded, "gibbs", c.gibbs);
  io::set_attribute(file, "rbm_energy", "separation_power", c.separation.value);
  io::set_attribute(file, "rbm_energy", "separation_power_floor", c.separation.floor);
  io::set_attribute(file, "rbm_energy", "overlap", c.overlap);
}

}  // namespace qvae::eval
