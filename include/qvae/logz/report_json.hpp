// The JSON form of a partition-function report (`qvae logz --json`, `qvae ll`,
// `qvae bench logz`): keys logz, stderr, ess, logz_ais/stderr_ais/ess_ais,
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

/// Human warnings about a report: an inverted bracket, a reverse estimate that
/// is no guaranteed bound, a small effective sample size.  Empty when none.
std::vector<std::string> report_warnings(const LogzReport& report);

}  // namespace qvae::logz
