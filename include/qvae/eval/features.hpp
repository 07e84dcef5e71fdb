// High-level shower features of CaloChallenge's evaluate.py / HighLevelFeatures.py.
//
// Every voxel below the readout threshold `min_energy` counts as 0 before any
// feature (evaluate.py zeroes `showers < min_energy`).  With x a layer's voxels
// and eps = 1e-16:
//   E_layer = sum x;  <eta> = sum(eta x)/(sum x + eps);
//   sigma_eta = sqrt(max(0, sum(eta^2 x)/(sum x + eps) - <eta>^2)), same for phi and r;
//   sparsity = 1 - mean(x > 0).
// eta/phi features exist only for layers binned in alpha (HighLevelFeatures'
// layersBinnedInAlpha); r uses the radial bin centre (a + b) * 0.5 as
// HighLevelFeatures' radial_center_mult does.
//
// Summation::numpy_float32 (the default) computes E_tot, E_layer and the eta/phi
// centres and widths operation by operation as numpy does on the float32 voxels:
// the threshold compared in float32, float32 sums in numpy's order (numpy_sum.hpp),
// the eta*x products and their sums in float64 and the denominator sum(x) + 1e-16
// in float32.  Summation::float64 sums everything in double, in voxel order (more
// accurate, but layer sums near a bin edge can land in the other bin).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qvae/data/calo_file.hpp"
#include "qvae/geometry/geometry.hpp"
#include "qvae/par/communicator.hpp"

namespace qvae::eval {

enum class Summation { numpy_float32, float64 };
/// "numpy" | "float64"; anything else is a core::UsageError.
Summation parse_summation(const std::string& text);
const char* to_string(Summation summation) noexcept;

/// evaluate.py's min_energy: 0.5e-3/0.033 MeV (15.15 keV) for ds2/ds3, 1 MeV for ds1.
double default_min_energy(const geometry::Geometry& geometry);

enum class FeatureKind {
  e_inc,           ///< incident energy, MeV
  e_tot,           ///< sum of all voxels, MeV
  etot_over_einc,  ///< E_tot / E_inc
  sparsity_total,  ///< fraction of zero voxels in the whole shower (the original study's convention)
  e_layer,
  sparsity,  ///< per layer: 1 - mean(x > 0)
  ec_eta,
  ec_phi,
  ec_r,
  width_eta,
  width_phi,
  width_r,
};
/// "e_layer", "ec_eta", ... (the prefix of per-layer column names).
const char* kind_name(FeatureKind kind);

struct FeatureColumn {
  std::string name;  ///< "e_tot", "etot_over_einc", "e_layer_12", "ec_eta_3", ...
  FeatureKind kind;
  int layer = -1;     ///< index into Geometry::layers(); -1 for shower-wide features
  int layer_id = -1;  ///< the layer's id in the binning XML (used in names)
};

/// Column layout of the per-shower feature table, fixed by the geometry:
/// e_inc, e_tot, etot_over_einc, sparsity_total, then per layer e_layer,
/// sparsity, ec_r, width_r and (layers binned in alpha) ec_eta, ec_phi,
/// width_eta, width_phi.
class FeatureLayout {
 public:
  explicit FeatureLayout(const geometry::Geometry& geometry);
  const std::vector<FeatureColumn>& columns() const { return columns_; }
  int size() const { return static_cast<int>(columns_.size()); }
  /// Column of `kind` (in `layer` for per-layer kinds); -1 if absent (eta/phi of a layer not binned in alpha).
  int column(FeatureKind kind, int layer = -1) const;
  /// Column called `name`; -1 if none.
  int index_of(const std::string& name) const;
  int num_layers() const { return num_layers_; }
  /// Layers binned in alpha, in file order (indices into Geometry::layers()).
  const std::vector<int>& alpha_layers() const { return alpha_layers_; }

 private:
  std::vector<FeatureColumn> columns_;
  std::vector<std::vector<int>> per_layer_;  // [kind][layer] -> column
  int num_layers_ = 0;
  std::vector<int> alpha_layers_;
};

/// Rows of features (row-major, layout.size() columns), one row per shower.
struct FeatureTable {
  int cols = 0;
  std::int64_t first_event = 0;  ///< global index of the first row (rows are consecutive)
  std::vector<double> values;
  std::int64_t rows() const { return cols ? static_cast<std::int64_t>(values.size()) / cols : 0; }
  const double* row(std::int64_t i) const { return values.data() + i * cols; }
  double at(std::int64_t i, int c) const { return values[static_cast<std::size_t>(i * cols + c)]; }
};

/// Precomputed per-voxel coordinates for the feature loop.
class FeatureCalculator {
 public:
  FeatureCalculator(const geometry::Geometry& geometry, double min_energy,
                    Summation summation = Summation::numpy_float32);
  const FeatureLayout& layout() const { return layout_; }
  double min_energy() const { return min_energy_; }
  Summation summation() const { return summation_; }
  /// Whether a voxel survives the threshold: numpy_float32 compares in float32
  /// (numpy casts the Python-float threshold to the array's float32), float64 in
  /// double.  NaN never survives.
  bool keeps(float voxel) const {
    return summation_ == Summation::numpy_float32 ? voxel >= threshold32_ : static_cast<double>(voxel) >= min_energy_;
  }
  /// Features of one shower into `row` (layout().size() values).
  void compute(const float* voxels, double incident_energy, double* row) const;
  /// Appends one row per shower of `block` to `table` (table.cols must be layout().size() or 0).
  void append(const data::ShowerBlock& block, FeatureTable& table) const;

 private:
  void compute_float64(const float* voxels, double incident_energy, double* row) const;
  void compute_numpy(const float* voxels, double incident_energy, double* row) const;

  FeatureLayout layout_;
  double min_energy_;
  Summation summation_;
  float threshold32_;
  std::vector<std::int64_t> layer_offsets_;
  std::vector<double> eta_, phi_, r_;
  std::vector<char> alpha_binned_;
};

/// Collective: every rank's rows, concatenated in rank order, on every rank.
FeatureTable allgather_rows(const FeatureTable& local, const par::Communicator& comm);

/// One entry of evaluate.py's cls-high vector (prepare_high_data_for_classifier
/// without its label column): which feature column and how it is transformed.
struct ClsHighEntry {
  enum class Transform { log10, log10_offset, per_100, identity };
  std::string name;     ///< "log10_e_inc", "log10_e_layer_3", "ec_eta_3/100", "sparsity_3", ...
  int column;           ///< into FeatureLayout::columns()
  Transform transform;  ///< log10(x), log10(x + 1e-8), x / 100 (mm -> the script's scale), x
};
/// The cls-high entries in evaluate.py's order: [log10 E_inc, log10(E_layer + 1e-8) per layer,
/// <eta>/100, <phi>/100, sigma_eta/100, sigma_phi/100 (each per alpha-binned layer),
/// log10(E_tot + 1e-8), sparsity per layer, <r>/100 per layer, sigma_r/100 per layer]:
/// 362 entries for ds2/ds3.
std::vector<ClsHighEntry> cls_high_entries(const FeatureLayout& layout);
/// The cls-high vector of one feature row into `out` (entries.size() values).
void cls_high_vector(const std::vector<ClsHighEntry>& entries, const double* feature_row, double* out);

}  // namespace qvae::eval
