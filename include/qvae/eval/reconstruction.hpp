// Reconstruction metrics of a trained model (docs/evaluation.md, "Model-side metrics"): how
// closely encode -> decode reproduces the data, shower by shower.  This takes
// per-shower sums; `qvae evaluate --model --data` computes them with the model
// (train::compute_model_metrics), since eval does not depend on the model.
//
// The inputs are every shower's values in event order (gathered on each rank),
// and every sum runs over them in that order: the result is bit-identical for
// any rank count.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "qvae/eval/histogram.hpp"
#include "qvae/io/file.hpp"

namespace qvae::eval {

/// Per-shower values, one entry per shower in event order.
struct ReconstructedShowers {
  std::vector<double> incident_energies;    ///< MeV
  std::vector<double> etot_data;            ///< sum of the data voxels, MeV
  std::vector<double> etot_reconstruction;  ///< sum of the reconstructed voxels, MeV
  std::vector<double> squared_error;        ///< mean over voxels of (x_rec - x)^2, MeV^2
};

struct ReconstructionComparison {
  std::int64_t showers = 0;
  /// Mean and population standard deviation (numpy.std) over showers of the per-shower MSE, MeV^2.
  double mse_mean = 0, mse_std = 0;
  /// Showers whose data E_tot > 0: the relative error (E_rec - E_data) / E_data is defined for them.
  std::int64_t etot_showers = 0;
  double etot_relative_error_mean = 0, etot_relative_error_std = 0;
  /// E_tot / E_inc of data and reconstruction, one linear binning over both sets'
  /// [min, max] (the original study's "30 common bins", docs/evaluation.md).
  Histogram data, reconstruction;
  ChiSquared chi2;             ///< raw-count chi^2 distance of the two histograms
  SeparationPower separation;  ///< of the same two histograms
};

/// Mean, std, relative errors and the E_tot / E_inc histograms.  NaN statistics
/// (null in JSON) when no shower enters them.  std::invalid_argument when the
/// arrays differ in length or bins < 1.
ReconstructionComparison compare_reconstruction(const ReconstructedShowers& showers, int bins = 30);

/// {"showers", "mean_squared_error", "mean_squared_error_std", "etot_relative_error_mean",
///  "etot_relative_error_std", "etot_relative_error_showers", "etot_over_einc": {chi2, chi2_per_bin,
///  bins_occupied, bins, separation_power, floor}}.
nlohmann::json reconstruction_json(const ReconstructionComparison& comparison);

/// Writes group `reconstruction` of a histograms file (docs/formats.md, histograms v1).
void write_reconstruction_comparison(io::File& file, const ReconstructionComparison& comparison);

}  // namespace qvae::eval
