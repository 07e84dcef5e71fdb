#include "qvae/eval/reconstruction.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "qvae/core/json_output.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/io/dataset.hpp"

namespace qvae::eval {

using core::finite_or_null;
ReconstructionComparison compare_reconstruction(const ReconstructedShowers& showers, int bins) {
  const std::size_t n = showers.incident_energies.size();
  if (showers.etot_data.size() != n || showers.etot_reconstruction.size() != n || showers.squared_error.size() != n)
    throw std::invalid_argument("compare_reconstruction: per-shower arrays of different lengths");
  if (bins < 1) throw std::invalid_argument("compare_reconstruction: need bins >= 1");
  ReconstructionComparison out;
  out.showers = static_cast<std::int64_t>(n);
  const SampleMoments mse = sample_moments(showers.squared_error);
  out.mse_mean = mse.mean, out.mse_std = mse.deviation;

  std::vector<double> relative_errors, ratio_data, ratio_reconstruction;
  for (std::size_t i = 0; i < n; ++i) {
    const double data = showers.etot_data[i], reconstruction = showers.etot_reconstruction[i];
    if (data > 0) relative_errors.push_back((reconstruction - data) / data);
    ratio_data.push_back(data / showers.incident_energies[i]);
    ratio_reconstruction.push_back(reconstruction / showers.incident_energies[i]);
  }
  out.etot_showers = static_cast<std::int64_t>(relative_errors.size());
  const SampleMoments relative = sample_moments(relative_errors);
  out.etot_relative_error_mean = relative.mean, out.etot_relative_error_std = relative.deviation;

  const Binning binning = Binning::linear_over(ratio_data, ratio_reconstruction, bins, 0.05);
  out.data = Histogram(binning);
  out.reconstruction = Histogram(binning);
  for (double r : ratio_data) out.data.fill(r);
  for (double r : ratio_reconstruction) out.reconstruction.fill(r);
  out.chi2 = chi_squared(out.data.counts, out.reconstruction.counts);
  out.separation = separation_power(out.data.counts, out.reconstruction.counts);
  return out;
}

nlohmann::json reconstruction_json(const ReconstructionComparison& c) {
  return {{"showers", c.showers},
          {"mean_squared_error", finite_or_null(c.mse_mean)},
          {"mean_squared_error_std", finite_or_null(c.mse_std)},
          {"mean_squared_error_unit", "MeV^2"},
          {"etot_relative_error_mean", finite_or_null(c.etot_relative_error_mean)},
          {"etot_relative_error_std", finite_or_null(c.etot_relative_error_std)},
          {"etot_relative_error_showers", c.etot_showers},
          {"etot_over_einc",
           {{"chi2", finite_or_null(c.chi2.value)},
            {"chi2_per_bin", finite_or_null(c.chi2.per_bin())},
            {"bins_occupied", c.chi2.occupied_bins},
            {"bins", c.data.binning.bins()},
            {"separation_power", finite_or_null(c.separation.value)},
            {"separation_power_floor", finite_or_null(c.separation.floor)}}}};
}

void write_reconstruction_comparison(io::File& file, const ReconstructionComparison& c) {
  write_histogram_pair(file, "reconstruction", "E_tot / E_inc", "data", c.data, "reconstruction", c.reconstruction);
  io::set_attribute(file, "reconstruction", "chi2", c.chi2.value);
  io::set_attribute(file, "reconstruction", "chi2_bins_occupied", static_cast<std::int64_t>(c.chi2.occupied_bins));
  io::set_attribute(file, "reconstruction", "separation_power", c.separation.value);
  io::set_attribute(file, "reconstruction", "separation_power_floor", c.separation.floor);
  io::set_attribute(file, "reconstruction", "mean_squared_error", c.mse_mean);
  io::set_attribute(file, "reconstruction", "etot_relative_error_mean", c.etot_relative_error_mean);
  io::set_attribute(file, "reconstruction", "etot_relative_error_std", c.etot_relative_error_std);
}

}  // namespace qvae::eval
