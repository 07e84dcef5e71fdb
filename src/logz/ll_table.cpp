// The LL table of the original study (qvae/logz/ll_table.hpp).
#include "qvae/logz/ll_table.hpp"

#include <cmath>
#include <cstdio>

#include "qvae/core/error.hpp"
#include "qvae/logz/logz_file.hpp"
#include "qvae/logz/random_streams.hpp"
#include "qvae/rbm/sampling.hpp"

namespace qvae::logz {
namespace {

EnergySummary gibbs_energies(const rbm::BoltzmannMachine& machine, const LlSettings& settings, std::int64_t chains,
                             std::uint64_t seed, const par::Communicator& comm) {
  rbm::SampleJob job;
  job.chains = chains;
  job.burn_in = 0;
  job.sweeps = settings.gibbs_sweeps;
  job.settings.seed = seed;
  job.settings.beta = 1.0;
  job.settings.beta_scope = rbm::BetaScope::couplings;
  const rbm::SampleResult result = rbm::run_sample_job(machine, job, comm, settings.logz.factory);
  return rbm::summarise_energies(result.energies, comm);
}

ModelLikelihood evaluate_model(const std::string& name, const rbm::BoltzmannMachine& machine,
                               const rbm::ChainBlock& latents, const LlSettings& settings, std::int64_t gibbs_chains,
                               std::uint64_t seed, const par::Communicator& comm) {
  ModelLikelihood out;
  out.model = name;
  LogzRequest request = settings.logz;
  request.method = Method::both;
  request.seed = seed;
  out.logz = run_logz(machine, request, comm);
  out.encoded = rbm::summarise_energies(rbm::chain_energies(machine, latents), comm);
  out.gibbs = gibbs_energies(machine, settings, gibbs_chains, derive_seed(seed, SeedPurpose::gibbs_samples), comm);
  return out;
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", value);
  return text;
}

}  // namespace

LlTable compute_ll_table(const rbm::BoltzmannMachine& trained, const std::string& latents_path,
                         const LlSettings& settings, const par::Communicator& comm) {
  if (settings.gibbs_chains < 0 || settings.gibbs_sweeps < 0 || !(settings.random_sigma >= 0))
    throw core::UsageError(core::describe("--gibbs-chains, --gibbs-sweeps and --random-sigma must be >= 0", "qvae ll"));
  const std::int64_t rows = latent_rows(latents_path, comm, trained);
  const rbm::ChainBlock latents = read_latents_for_chains(latents_path, comm, trained, rows);  // row c on chain c
  const std::int64_t gibbs_chains = settings.gibbs_chains > 0 ? settings.gibbs_chains : rows;
  const std::uint64_t seed = settings.logz.seed;

  LlTable table;
  table.trained = evaluate_model("trained", trained, latents, settings, gibbs_chains, seed, comm);
  if (settings.random_reference) {
    rbm::BoltzmannMachine random_machine(trained.graph(), "the random reference model");
    random_machine.init_normal(settings.random_sigma, derive_seed(seed, SeedPurpose::random_model));
    table.random = evaluate_model("random", random_machine, latents, settings, gibbs_chains,
                                  derive_seed(seed, SeedPurpose::random_model_logz), comm);
  }
  auto entry = [](const ModelLikelihood& model, const std::string& samples, const EnergySummary& energies) {
    LlEntry e;
    e.model = model.model;
    e.samples = samples;
    e.mean_energy = energies.mean;
    e.energy_std_error = energies.std_error;
    e.count = energies.count;
    e.ll_ais = ModelLikelihood::ll(energies, *model.logz.ais_estimate);
    e.ll_rais = ModelLikelihood::ll(energies, *model.logz.rais_estimate);
    e.ll = -energies.mean - model.logz.log_z();
    e.ll_error = std::hypot(model.logz.combined_uncertainty(), energies.std_error);
    return e;
  };
  table.entries.push_back(entry(table.trained, "encoded", table.trained.encoded));
  table.entries.push_back(entry(table.trained, "gibbs", table.trained.gibbs));
  if (table.random) {
    table.entries.push_back(entry(*table.random, "gibbs", table.random->gibbs));
    table.entries.push_back(entry(*table.random, "encoded", table.random->encoded));
  }

  // The expected order, with the headline log Z (midpoint of the bracket) and,
  // for the relation between models, under each estimator.
  const double trained_log_z = table.trained.logz.log_z();
  const double a = -table.trained.encoded.mean - trained_log_z;  // LL(trained, encoded)
  const double b = -table.trained.gibbs.mean - trained_log_z;    // LL(trained, Gibbs)
  std::optional<double> c, d;
  if (table.random) {
    c = -table.random->gibbs.mean - table.random->logz.log_z();
    d = -table.random->encoded.mean - table.random->logz.log_z();
  }
  table.approx_tolerance = settings.approx_tolerance >= 0 ? settings.approx_tolerance
                           : c                            ? 0.25 * std::fabs(b - *c)
                                                          : 0.05 * std::fabs(b);
  if (std::fabs(a - b) > table.approx_tolerance)
    table.violations.push_back("LL(trained, encoded) ~ LL(trained, Gibbs) fails: " + number(a) + " vs " + number(b) +
                               " differ by more than " + number(table.approx_tolerance));
  if (table.random) {
    for (const auto& [label, index] : {std::pair<const char*, int>{"ais", 0}, {"rais", 1}}) {
      const double ll_trained_encoded = index == 0 ? table.entries[0].ll_ais : table.entries[0].ll_rais;
      const double ll_trained_gibbs = index == 0 ? table.entries[1].ll_ais : table.entries[1].ll_rais;
      const double ll_random_gibbs = index == 0 ? table.entries[2].ll_ais : table.entries[2].ll_rais;
      if (!(std::min(ll_trained_encoded, ll_trained_gibbs) > ll_random_gibbs))
        table.violations.push_back(std::string("LL(trained, *) > LL(random, Gibbs) fails under ") + label + ": " +
                                   number(std::min(ll_trained_encoded, ll_trained_gibbs)) +
                                   " <= " + number(ll_random_gibbs));
    }
    if (!(*c > *d))
      table.violations.push_back("LL(random, Gibbs) > LL(random, encoded) fails: " + number(*c) + " <= " + number(*d));
  }
  return table;
}

}  // namespace qvae::logz
