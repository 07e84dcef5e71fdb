// The JSON form of a partition-function report (`qvae logz --json`, `qvae ll`,
// `qvae bench logz`): keys logz, error (combined), error_stat, error_sys, ess, logz_ais/stderr_ais/ess_ais,
// logz_rais/stderr_rais/ess_rais, bracket, logz_exact … (docs/formats.md,
// "qvae logz --json").
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "qvae/logz/logz.hpp"

namespace qvae::logz {

/// Every number of `report` that applies to its method; non-finite values are
/// left to core::print_json_summary (printed as null).
nlohmann::json report_json(const LogzReport& report);

/// Error-level findings: a significantly inverted bracket
/// (LogzReport::bracket_inversion_significant), with what to do.  Commands
/// print each with core::alert_root and list them under "warnings" too.
std::vector<std::string> report_alerts(const LogzReport& report);

/// Human warnings about a report: a bracket inverted within noise, a reverse
/// estimate that is no guaranteed bound, a small effective sample size.  Empty when none.
std::vector<std::string> report_warnings(const LogzReport& report);

}  // namespace qvae::logz
