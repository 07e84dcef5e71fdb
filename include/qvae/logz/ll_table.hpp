// The log-likelihood table of the original study (docs/logz.md): latent codes under the Boltzmann-machine prior,
//
//   LL(model, samples) = −⟨E_model(z)⟩_samples − log Ẑ(model),
//
// for samples = the encoded latents or the model's own Gibbs samples, model =
// the trained RBM or (with random_reference) a random RBM of the same graph
// (biases and weights N(0, σ²), the reference's randn init), each with log Ẑ
// from AIS and from reverse AIS.  AIS tends to underestimate log Z, so its LL
// is the high one; RAIS's the low one.  The study expects
//
//   LL(trained, encoded) ≈ LL(trained, Gibbs) > LL(random, Gibbs) > LL(random, encoded)
//
// and the table flags each relation that does not hold.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qvae/logz/logz.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/rbm/boltzmann_machine.hpp"
#include "qvae/rbm/sampling.hpp"

namespace qvae::logz {

struct LlSettings {
  /// log Z runs of each model (the method is always both); the random model's
  /// runs use derive_seed(seed, random_model_logz).
  LogzRequest logz;
  std::int64_t gibbs_chains = 0;     ///< Gibbs samples per model; 0: one per latent code
  std::int64_t gibbs_sweeps = 1000;  ///< sweeps of each Gibbs chain from a uniform start
  bool random_reference = false;
  double random_sigma = 1.0;
  /// Tolerance of "≈" in nats; < 0: a quarter of |LL(trained, Gibbs) − LL(random, Gibbs)|
  /// with the random reference, else 5% of |LL(trained, Gibbs)|.
  double approx_tolerance = -1;
};

using rbm::EnergySummary;

struct ModelLikelihood {
  std::string model;  ///< "trained" | "random"
  LogzReport logz;
  EnergySummary encoded, gibbs;
  /// LL = −⟨E⟩ − log Ẑ for one log Z estimate (AIS or RAIS).
  static double ll(const EnergySummary& energies, const Estimate& log_z) { return -energies.mean - log_z.log_z; }
};

struct LlEntry {
  std::string model, samples;  ///< ("trained" | "random", "encoded" | "gibbs")
  double mean_energy = 0, energy_std_error = 0;
  std::int64_t count = 0;
  double ll_ais = 0, ll_rais = 0;
  /// LL with the headline log Z (the bracket's midpoint) and its uncertainty:
  /// hypot(combined log Z uncertainty, energy_std_error), so the bracket width
  /// (the annealing bias) is part of the quoted error.
  double ll = 0, ll_error = 0;
};

struct LlTable {
  ModelLikelihood trained;
  std::optional<ModelLikelihood> random;
  std::vector<LlEntry> entries;  ///< trained/encoded, trained/gibbs[, random/gibbs, random/encoded]
  double approx_tolerance = 0;
  /// One line per relation that fails, e.g. "LL(random, Gibbs) > LL(random, encoded) fails: -812.4 <= -790.1".
  std::vector<std::string> violations;
  bool order_ok() const { return violations.empty(); }
};

/// Collective: the table for `trained` and the codes in `latents_path`
/// (see read_latents_for_chains).
LlTable compute_ll_table(const rbm::BoltzmannMachine& trained, const std::string& latents_path,
                         const LlSettings& settings, const par::Communicator& comm);

}  // namespace qvae::logz
