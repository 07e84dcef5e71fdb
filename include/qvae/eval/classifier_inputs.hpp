// The input vectors of CaloChallenge's classifier test, built from the same
// per-shower features as the histograms and FPD/KPD (features.hpp):
//   low:  [log10 E_inc, x_1/E_inc, ..., x_V/E_inc]  (voxels zeroed below min_energy)
//   high: the cls-high vector (cls_high_entries): log10 energies, positions/100, sparsities.
// Like evaluate.py, no further standardisation: these fixed transforms are the
// whole preprocessing (docs/evaluation.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qvae/data/calo_file.hpp"
#include "qvae/eval/features.hpp"
#include "qvae/par/communicator.hpp"

namespace qvae::eval {

enum class ClassifierInputs { low, high };
const char* to_string(ClassifierInputs inputs);

/// Builds one shower's input vector: `out` has input_size() values.
class ClassifierInputBuilder {
 public:
  ClassifierInputBuilder(ClassifierInputs inputs, const FeatureCalculator& calculator, std::int64_t voxels);
  int input_size() const { return size_; }
  void build(const float* voxels, double incident_energy, double* out) const;
  /// Appends one row per shower of `block` to `table` (cols = input_size()).
  void append(const data::ShowerBlock& block, FeatureTable& table) const;

 private:
  ClassifierInputs inputs_;
  const FeatureCalculator& calculator_;
  std::int64_t voxels_;
  int size_;
  std::vector<ClsHighEntry> entries_;
  mutable std::vector<double> features_;  // scratch row of the feature table
};

/// Collective: the input rows of the first `events` showers of `reader`, read
/// `chunk_rows` per rank per step, gathered in event order on every rank.
FeatureTable classifier_inputs(const data::CaloReader& reader, std::int64_t events,
                               const ClassifierInputBuilder& builder, std::int64_t chunk_rows,
                               const par::Communicator& comm);

}  // namespace qvae::eval
