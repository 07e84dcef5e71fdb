#include "qvae/logz/report_json.hpp"

#include <cstdio>

namespace qvae::logz {

nlohmann::json report_json(const LogzReport& report) {
  nlohmann::json out = {
      {"method", to_string(report.method)},           {"logz", report.log_z()},
      {"error", report.combined_uncertainty()},       {"error_stat", report.statistical_uncertainty()},
      {"error_sys", report.systematic_uncertainty()}, {"log_z0", report.log_z0}};
  if (report.exact) {
    out["logz_exact"] = report.exact->log_z;
    out["terms"] = report.exact->terms;
    out["enumerated_units"] = report.exact->enumerated_units;
    out["analytic_partition"] = report.exact->analytic_partition;
    out["seconds"] = {{"exact", report.exact->seconds}};
    return out;
  }
  out["ess"] = report.ess();
  out["schedule"] = to_string(report.schedule);
  out["temps"] = static_cast<std::int64_t>(report.betas.size()) - 1;
  nlohmann::json seconds = {{"schedule", report.schedule_seconds}};
  double steps = 0, annealing_seconds = 0;
  if (report.ais) {
    out["logz_ais"] = report.ais_estimate->log_z;
    out["stderr_ais"] = report.ais_estimate->std_error;
    out["ess_ais"] = report.ais_estimate->ess;
    out["chains"] = report.ais_estimate->chains;
    seconds["ais"] = report.ais->seconds;
    seconds["ais_cpu"] = report.ais->cpu_seconds;
    steps += report.ais->chain_temperature_steps();
    annealing_seconds += report.ais->seconds;
  }
  if (report.rais) {
    out["logz_rais"] = report.rais_estimate->log_z;
    out["stderr_rais"] = report.rais_estimate->std_error;
    out["ess_rais"] = report.rais_estimate->ess;
    out["chains"] = report.rais_estimate->chains;
    out["reverse_start"] = to_string(report.reverse_start);
    out["rais_is_bound"] = report.rais_is_bound;
    if (report.reverse_start == ReverseStart::chains) out["equilibration_sweeps"] = report.equilibration_sweeps;
    seconds["reverse_start"] = report.start_seconds;
    seconds["rais"] = report.rais->seconds;
    seconds["rais_cpu"] = report.rais->cpu_seconds;
    steps += report.rais->chain_temperature_steps();
    annealing_seconds += report.rais->seconds;
  }
  if (report.has_bracket()) {
    const double lower = report.ais_estimate->log_z, upper = report.rais_estimate->log_z;
    out["bracket"] = {{"lower", lower},
                      {"upper", upper},
                      {"width", upper - lower},
                      {"inverted", report.bracket_inverted()},
                      {"inversion_z", report.inversion_z()},
                      {"inversion_significant", report.bracket_inversion_significant()},
                      {"guaranteed", report.rais_is_bound}};
  }
  if (report.raise)
    out["raise"] = {
        {"ll", report.raise->mean_log_likelihood}, {"stderr", report.raise->std_error}, {"rows", report.raise->rows}};
  out["seconds"] = seconds;
  out["chain_temperature_steps_per_s"] = annealing_seconds > 0 ? steps / annealing_seconds : 0.0;
  return out;
}

std::vector<std::string> report_alerts(const LogzReport& report) {
  std::vector<std::string> alerts;
  if (report.bracket_inversion_significant()) {
    char text[320];
    std::snprintf(text, sizeof text,
                  "the log Z bracket is inverted: AIS %.4f > RAIS %.4f by %.1f standard errors of the gap (AIS "
                  "should lie below RAIS), so neither estimate is trustworthy; raise --temps (or "
                  "--sweeps-per-temp) and --chains, or start the reverse chains in equilibrium",
                  report.ais_estimate->log_z, report.rais_estimate->log_z, report.inversion_z());
    alerts.emplace_back(text);
  }
  return alerts;
}

std::vector<std::string> report_warnings(const LogzReport& report) {
  std::vector<std::string> warnings;
  char text[256];
  if (report.bracket_inverted() && !report.bracket_inversion_significant()) {
    std::snprintf(text, sizeof text,
                  "the bracket is inverted within noise: AIS %.4f > RAIS %.4f by %.1f standard errors of the gap "
                  "(the two agree; the bias is below the statistical error)",
                  report.ais_estimate->log_z, report.rais_estimate->log_z, report.inversion_z());
    warnings.emplace_back(text);
  }
  if (report.rais && !report.rais_is_bound)
    warnings.emplace_back(std::string("reverse chains started from ") +
                          (report.reverse_start == ReverseStart::data ? "data" : "equilibrated Gibbs chains") +
                          ": the reverse estimate is not a guaranteed upper bound on log Z");
  for (const auto* estimate : {report.ais_estimate ? &*report.ais_estimate : nullptr,
                               report.rais_estimate ? &*report.rais_estimate : nullptr}) {
    if (estimate && estimate->chains >= 10 && estimate->ess < 0.01 * static_cast<double>(estimate->chains)) {
      std::snprintf(text, sizeof text,
                    "%s: effective sample size %.1f of %lld chains; the estimate rests on a few chains",
                    estimate == (report.ais_estimate ? &*report.ais_estimate : nullptr) ? "AIS" : "RAIS", estimate->ess,
                    static_cast<long long>(estimate->chains));
      warnings.emplace_back(text);
    }
  }
  return warnings;
}

}  // namespace qvae::logz
