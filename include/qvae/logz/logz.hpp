// One partition-function run as `qvae logz` performs it (docs/logz.md):
// exact enumeration, forward AIS, reverse AIS or both with their bracket,
// on any number of ranks with identical results.
//
//   E[log Ẑ_AIS] ≤ log Z ≤ E[log Ẑ_RAIS]  (reverse chains started from exact samples)
//
// Reverse chains started from data (RAISE) or from long equilibrated chains
// give no guaranteed bound; the report says so (rais_is_bound = false).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "qvae/logz/annealing.hpp"
#include "qvae/logz/exact.hpp"
#include "qvae/logz/schedule.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/rbm/boltzmann_machine.hpp"

namespace qvae::logz {

enum class Method { exact, ais, rais, both };
/// "exact" | "ais" | "rais" | "both"; anything else is a core::UsageError.
Method parse_method(const std::string& text);
const char* to_string(Method method) noexcept;

struct LogzRequest {
  Method method = Method::both;
  std::int64_t chains = 1024;
  std::int64_t temperatures = 1000;  ///< K steps: β_0 = 0 … β_K = 1
  std::int64_t sweeps_per_temperature = 1;
  ScheduleKind schedule = ScheduleKind::linear;
  PilotSettings pilot;  ///< adaptive schedule; its seed and factory are taken from this request
  std::uint64_t seed = 0;
  /// Where reverse chains start; empty: exact samples when the model is small
  /// enough for ExactSampler, else long equilibrated chains.
  std::optional<ReverseStart> reverse_start;
  std::int64_t equilibration_sweeps = 1000;  ///< ReverseStart::chains
  std::string latents_path;                  ///< ReverseStart::data (see read_latents_for_chains)
  std::int64_t bootstrap_resamples = 200;
  ExactOptions exact;
  rbm::SamplerFactory factory = rbm::make_kokkos_sampler;
  /// Progress: phase ("ais", "rais"), temperatures done, total.
  std::function<void(const std::string&, std::int64_t, std::int64_t)> on_progress;
};

/// RAISE (Burda et al. 2015): with reverse chains started at data rows,
/// log p̂(v) = −E(v) − log Z₀ + log r per chain, averaged (log-mean-exp) over
/// the chains of each row; an unbiased p̂ of the annealing model, so the mean
/// of log p̂ is a conservative (low) log-likelihood.
struct RaiseResult {
  std::int64_t rows = 0;           ///< data rows with at least one chain
  double mean_log_likelihood = 0;  ///< mean over rows of log p̂(v)
  double std_error = 0;            ///< sd over rows / sqrt(rows)
};

struct LogzReport {
  Method method = Method::both;
  double log_z0 = 0;  ///< Σ softplus(b)
  std::optional<ExactResult> exact;
  ScheduleKind schedule = ScheduleKind::linear;
  std::vector<double> betas;
  std::optional<AnnealingRun> ais, rais;
  std::optional<Estimate> ais_estimate, rais_estimate;
  ReverseStart reverse_start = ReverseStart::exact;
  bool rais_is_bound = false;  ///< reverse chains started from exact samples
  std::int64_t equilibration_sweeps = 0;
  std::optional<RaiseResult> raise;
  double schedule_seconds = 0, start_seconds = 0;

  /// The headline estimate: exact; AIS; RAIS; or, with both, the bracket's midpoint.
  double log_z() const;
  /// Statistical (bootstrap) error of log_z(): both: of the midpoint,
  /// ½·hypot(se_AIS, se_RAIS); one direction: its se; exact: 0.
  double statistical_uncertainty() const;
  /// Systematic error of log_z(): both: half the bracket width, |AIS − RAIS|/2
  /// (the annealing bias the bracket exposes); exact: 0; one direction: NaN
  /// (not measured: a single estimator cannot show its own bias).
  double systematic_uncertainty() const;
  /// The uncertainty to quote with log_z(): hypot(statistical, systematic)
  /// with both directions, the statistical error alone with one (docs/evaluation.md,
  /// "log Z uncertainty").  Used by the LL table and for model selection on LL.
  double combined_uncertainty() const;
  /// ESS of the run (both: the smaller).
  double ess() const;
  bool has_bracket() const { return ais_estimate.has_value() && rais_estimate.has_value(); }
  /// With both directions: AIS above RAIS (too few temperatures or unequilibrated starts).
  bool bracket_inverted() const { return has_bracket() && ais_estimate->log_z > rais_estimate->log_z; }
  /// (log Ẑ_AIS − log Ẑ_RAIS) / sqrt(se_AIS² + se_RAIS²): the gap in units of
  /// its own standard error.
  double inversion_z() const;
  /// AIS above RAIS by more than kSignificantInversionZ standard errors of the
  /// gap: the estimators' expected order (AIS low, RAIS high) is violated beyond
  /// noise, so neither number can be trusted; reported as an error-level warning.
  bool bracket_inversion_significant() const { return bracket_inverted() && inversion_z() > kSignificantInversionZ; }
  static constexpr double kSignificantInversionZ = 2.0;
};

/// The reverse start used when none is asked for.
ReverseStart automatic_reverse_start(const rbm::BoltzmannMachine& machine);

/// Collective: runs `request` on `machine`.  Usage errors (bad counts, a
/// model too large for exact, --reverse-start data without latents) are
/// core::UsageErrors; bad latent files core::InputErrors.
LogzReport run_logz(const rbm::BoltzmannMachine& machine, const LogzRequest& request, const par::Communicator& comm);

}  // namespace qvae::logz
