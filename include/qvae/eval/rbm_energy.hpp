// Model-side metric of the original study ("Energy distribution
// for encoded and RBM Gibbs samples"): RBM energies E(z) of the encoded data
// (posterior samples) against those of Gibbs samples from the prior.  A trained
// prior puts both on top of each other.  This takes the two energy arrays;
// `qvae evaluate --model --data` gets them from train::compute_model_metrics
// (eval does not depend on the model) and passes them gathered in global order.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "qvae/eval/histogram.hpp"
#include "qvae/io/file.hpp"
#include "qvae/par/communicator.hpp"

namespace qvae::eval {

struct EnergyComparison {
  Histogram encoded, gibbs;    ///< one linear binning over both sets' [min, max]
  SeparationPower separation;  ///< with its finite-sample floor
  double overlap = 0;          ///< sum_i min(p_i, q_i): 1 = identical shapes
  std::int64_t count_encoded = 0, count_gibbs = 0;
  double mean_encoded = 0, mean_gibbs = 0;
  double std_encoded = 0, std_gibbs = 0;  ///< population standard deviations
};

/// Compares two sets of RBM energies.  With `comm`, each rank passes its block
/// (blocks in rank order make the global order) and the call is collective: the
/// blocks are gathered and every number is computed over the sets in global
/// order, with a two-pass variance, so 1 and K ranks give identical bits.
EnergyComparison compare_rbm_energies(const std::vector<double>& encoded, const std::vector<double>& gibbs,
                                      int bins = 50, const par::Communicator* comm = nullptr);

/// {"separation_power": {value, floor}, "overlap", "encoded": {count, mean, std}, "gibbs": {...}}.
nlohmann::json energy_comparison_json(const EnergyComparison& comparison);

/// Writes group `rbm_energy` of a histograms file (docs/formats.md, histograms v1).
void write_energy_comparison(io::File& file, const EnergyComparison& comparison);

}  // namespace qvae::eval
