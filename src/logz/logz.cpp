// One `qvae logz` run: exact, AIS, reverse AIS or both (qvae/logz/logz.hpp).
#include "qvae/logz/logz.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "qvae/core/choices.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/logz/log_sum_exp.hpp"
#include "qvae/logz/logz_file.hpp"

namespace qvae::logz {

Method parse_method(const std::string& text) {
  return core::parse_choice(text, {Method::exact, Method::ais, Method::rais, Method::both}, "--method");
}

const char* to_string(Method method) noexcept {
  switch (method) {
    case Method::exact:
      return "exact";
    case Method::ais:
      return "ais";
    case Method::rais:
      return "rais";
    case Method::both:
      return "both";
  }
  return "?";
}

double LogzReport::log_z() const {
  if (exact) return exact->log_z;
  if (has_bracket()) return 0.5 * (ais_estimate->log_z + rais_estimate->log_z);
  if (ais_estimate) return ais_estimate->log_z;
  if (rais_estimate) return rais_estimate->log_z;
  return std::nan("");
}

double LogzReport::statistical_uncertainty() const {
  if (exact) return 0.0;
  if (has_bracket()) return 0.5 * std::hypot(ais_estimate->std_error, rais_estimate->std_error);
  if (ais_estimate) return ais_estimate->std_error;
  if (rais_estimate) return rais_estimate->std_error;
  return std::nan("");
}

double LogzReport::systematic_uncertainty() const {
  if (exact) return 0.0;
  if (has_bracket()) return 0.5 * std::fabs(ais_estimate->log_z - rais_estimate->log_z);
  return std::nan("");
}

double LogzReport::combined_uncertainty() const {
  const double systematic = systematic_uncertainty();
  return std::isnan(systematic) ? statistical_uncertainty() : std::hypot(statistical_uncertainty(), systematic);
}

double LogzReport::ess() const {
  if (has_bracket()) return std::min(ais_estimate->ess, rais_estimate->ess);
  if (ais_estimate) return ais_estimate->ess;
  if (rais_estimate) return rais_estimate->ess;
  return std::nan("");
}

double LogzReport::inversion_z() const {
  if (!has_bracket()) return std::nan("");
  const double spread = std::hypot(ais_estimate->std_error, rais_estimate->std_error);
  const double gap = ais_estimate->log_z - rais_estimate->log_z;
  return spread > 0 ? gap / spread : (gap > 0 ? std::numeric_limits<double>::infinity() : 0.0);
}

ReverseStart automatic_reverse_start(const rbm::BoltzmannMachine& machine) {
  return enumerated_units(machine) <= ExactSampler::kMaxSamplerLog2Terms ? ReverseStart::exact : ReverseStart::chains;
}

namespace {

/// RAISE from the reverse run and the data energies of every chain's start.
RaiseResult raise_estimate(const AnnealingRun& run, const std::vector<double>& start_energies, std::int64_t rows) {
  const std::int64_t chains = static_cast<std::int64_t>(run.log_weights.size());
  const std::int64_t used = std::min(chains, rows);
  std::vector<std::vector<double>> per_row(static_cast<std::size_t>(used));
  for (std::int64_t c = 0; c < chains; ++c)  // log p̂(v) = −E(v) − log Z₀ + log r (RAISE)
    per_row[static_cast<std::size_t>(c % rows)].push_back(-start_energies[static_cast<std::size_t>(c)] - run.log_z0 +
                                                          run.log_weights[static_cast<std::size_t>(c)]);
  std::vector<double> values;
  for (const auto& chain_values : per_row) values.push_back(log_mean_exp(chain_values));
  RaiseResult result;
  result.rows = used;
  double mean = 0, square = 0;
  for (double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  for (double v : values) square += (v - mean) * (v - mean);
  result.mean_log_likelihood = mean;
  result.std_error =
      values.size() > 1
          ? std::sqrt(square / static_cast<double>(values.size() - 1) / static_cast<double>(values.size()))
          : 0.0;
  return result;
}

}  // namespace

LogzReport run_logz(const rbm::BoltzmannMachine& machine, const LogzRequest& request, const par::Communicator& comm) {
  LogzReport report;
  report.method = request.method;
  report.log_z0 = independent_log_z(machine);
  auto progress = [&](const std::string& phase, std::int64_t done, std::int64_t total) {
    if (request.on_progress) request.on_progress(phase, done, total);
  };
  if (request.method == Method::exact) {
    report.exact = exact_log_z(machine, comm, request.exact);
    return report;
  }
  if (request.chains < 1 || request.temperatures < 1 || request.sweeps_per_temperature < 1)
    throw core::UsageError(core::describe("--chains, --temps and --sweeps-per-temp must be >= 1", "qvae logz"));
  if (request.bootstrap_resamples < 0 || request.equilibration_sweeps < 0)
    throw core::UsageError(core::describe("--bootstrap and --equilibration-sweeps must be >= 0", "qvae logz"));
  const bool forward = request.method == Method::ais || request.method == Method::both;
  const bool reverse = request.method == Method::rais || request.method == Method::both;
  report.reverse_start = request.reverse_start.value_or(automatic_reverse_start(machine));
  if (reverse && report.reverse_start == ReverseStart::data && request.latents_path.empty())
    throw core::UsageError(
        core::describe("reverse chains from data need the latent codes", "qvae logz", "pass --latents FILE"));

  core::Stopwatch t0;
  PilotSettings pilot = request.pilot;
  pilot.seed = request.seed;
  pilot.factory = request.factory;
  report.schedule = request.schedule;
  report.betas = make_schedule(request.schedule, machine, request.temperatures, pilot);
  report.schedule_seconds = comm.max(t0.seconds());

  AnnealingSettings settings;
  settings.chains = request.chains;
  settings.sweeps_per_temperature = request.sweeps_per_temperature;
  settings.betas = report.betas;
  settings.seed = request.seed;
  settings.factory = request.factory;
  const std::int64_t steps = request.temperatures;
  if (forward) {
    settings.on_progress = [&](std::int64_t done) { progress("ais", done, steps); };
    report.ais = run_forward_ais(machine, settings, comm);
    report.ais_estimate = estimate_log_z(*report.ais, report.ais->sampler_seed, request.bootstrap_resamples);
  }
  if (reverse) {
    t0.restart();
    ReverseStartStates start;
    std::int64_t data_rows = 0;
    switch (report.reverse_start) {
      case ReverseStart::exact:
        start = exact_start(machine, request.seed, request.chains, comm);
        break;
      case ReverseStart::chains:
        start = equilibrated_start(machine, request.seed, request.chains, request.equilibration_sweeps, comm);
        report.equilibration_sweeps = request.equilibration_sweeps;
        break;
      case ReverseStart::data:
        data_rows = latent_rows(request.latents_path, comm, machine);
        start = data_start(read_latents_for_chains(request.latents_path, comm, machine, request.chains));
        break;
    }
    std::vector<double> start_energies;
    if (report.reverse_start == ReverseStart::data)
      start_energies = comm.allgather_blocks(rbm::chain_energies(machine, start.states));
    const double preparation = comm.max(t0.seconds());
    settings.on_progress = [&](std::int64_t done) { progress("rais", done, steps); };
    report.rais = run_reverse_ais(machine, settings, start, comm);
    report.start_seconds = preparation + report.rais->start_seconds;
    report.rais_estimate = estimate_log_z(*report.rais, report.rais->sampler_seed, request.bootstrap_resamples);
    report.rais_is_bound = report.reverse_start == ReverseStart::exact;
    if (report.reverse_start == ReverseStart::data)
      report.raise = raise_estimate(*report.rais, start_energies, data_rows);
  }
  return report;
}

}  // namespace qvae::logz
