// The evaluation of a generated CaloChallenge file against a reference one
// (docs/evaluation.md): per-shower features over ranks,
// histograms with CaloChallenge's binnings and their separation power, the same
// conditioned on incident-energy bins, and FPD/KPD on the cls-high vector.
//
// Data flow (every step gives the same result for any rank count):
//  1. each rank streams its row blocks of both files (CaloReader, `chunk_rows`
//     per step) into a local feature table, tracking the maxima binnings need;
//  2. binnings are fixed from global reductions (e.g. the reference maximum of
//     each E_layer), then each rank fills integer counts and one allreduce sums them;
//  3. a second streaming pass fills the voxel-energy spectrum, whose log bins
//     need the reference's largest voxel first;
//  4. the cls-high vectors are gathered on every rank (2 x N x d doubles) and
//     FPD/KPD work items are spread over ranks (distances.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qvae/core/progress.hpp"
#include "qvae/eval/classifier_metrics.hpp"
#include "qvae/eval/distances.hpp"
#include "qvae/eval/features.hpp"
#include "qvae/eval/histogram.hpp"
#include "qvae/eval/rbm_energy.hpp"
#include "qvae/eval/reconstruction.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/par/communicator.hpp"

namespace qvae::eval {

struct EvaluationSettings {
  std::string geometry_name;         ///< "" = each file's attribute, else detected from the voxel count
  double min_energy = -1;            ///< MeV; < 0 = default_min_energy(geometry)
  int energy_bins = 5;               ///< log-spaced incident-energy bins over the reference's range
  std::vector<double> energy_edges;  ///< MeV, ascending; when set, replaces energy_bins
  std::int64_t chunk_rows = 1024;    ///< showers read per rank per step
  /// numpy_float32: features, thresholds and log-bin edges computed as evaluate.py's
  /// numpy code does (separation powers equal evaluate.py's); float64: double sums.
  Summation summation = Summation::numpy_float32;
  bool compute_fpd = true;
  bool compute_kpd = true;
  FpdOptions fpd;
  KpdOptions kpd;
  core::ProgressMode progress = core::ProgressMode::automatic;
  double progress_interval_s = 5.0;
};

/// One feature histogrammed for both files with one binning.
struct HistogramComparison {
  std::string name;    ///< "etot_over_einc", "e_layer_12", "voxel_energy", ...
  std::string family;  ///< "e_layer", "ec_eta", ... (the name without the layer), "voxel_energy"
  std::string label;   ///< x-axis label with unit
  int layer_id = -1;   ///< binning-XML layer id, -1 for shower-wide features
  Histogram reference, generated;
  SeparationPower separation;
};

/// One feature histogrammed per incident-energy bin (the original study's
/// conditional energy and sparsity histograms).
struct ConditionalComparison {
  std::string name, family, label;
  std::vector<HistogramComparison> per_bin;  ///< one per energy bin, each with its own binning
};

/// What `qvae evaluate --model --data` adds: RBM energies of the encoded data
/// against Gibbs chains of the prior, and reconstruction metrics (the model-side
/// numbers come from train::compute_model_metrics).
struct ModelComparison {
  std::string model_path, data_path;
  std::int64_t events = 0;  ///< showers encoded
  std::int64_t chains = 0;  ///< Gibbs chains
  int gibbs_sweeps = 0;
  std::uint64_t seed = 0;  ///< of the chains
  bool partition0_clamped = false;
  EnergyComparison rbm_energy;
  ReconstructionComparison reconstruction;
  double seconds_encode = 0, seconds_gibbs = 0;
};

struct Evaluation {
  std::string reference_path, generated_path;
  std::string geometry;
  std::int64_t voxels = 0;
  int layers = 0;
  std::int64_t events_reference = 0, events_generated = 0;
  double min_energy = 0;
  Summation summation = Summation::numpy_float32;
  int ranks = 1;
  std::vector<HistogramComparison> histograms;
  Binning energy_bins;  ///< incident-energy edges, MeV
  std::vector<std::int64_t> energy_bin_events_reference, energy_bin_events_generated;
  std::vector<ConditionalComparison> conditional;
  int distance_features = 0;  ///< length of the cls-high vector
  std::optional<FpdResult> fpd;
  std::optional<KpdResult> kpd;
  std::string distances_note;            ///< why FPD/KPD were not computed, when they were not
  std::optional<ModelComparison> model;  ///< with --model/--data: metrics.json "rbm_energy",
                                         ///< "reconstruction", "model_evaluation"; groups in histograms.h5
  std::vector<ClassifierResult>
      classifiers;  ///< with --classifier: metrics.json "classifier", histograms.h5 classifier/
  double seconds_features = 0, seconds_fpd = 0, seconds_kpd = 0, seconds_total = 0;
};

/// Collective: evaluates `generated` against `reference`.  Input errors (missing
/// or malformed files, different geometries) are core::InputError (exit 3) on
/// every rank; bad settings are core::UsageError (exit 2).
Evaluation evaluate_files(const std::string& reference, const std::string& generated, const par::Communicator& comm,
                          const EvaluationSettings& settings);

/// The metrics object of metrics.json and `qvae evaluate --json` (documented in docs/formats.md).
nlohmann::json metrics_json(const Evaluation& evaluation);

/// Writes the "histograms v1" file (docs/formats.md) atomically, by this process alone.
void write_histograms_file(const std::string& path, const Evaluation& evaluation, const io::Provenance& provenance);

}  // namespace qvae::eval
