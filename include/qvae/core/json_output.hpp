// The `--json` contract: a command prints exactly one JSON object, on one line,
// on stdout, from rank 0; human text and progress go to stderr.
#pragma once

#include <cmath>
#include <ostream>

#include <nlohmann/json.hpp>

namespace qvae::core {

/// Writes `summary` as one line to `out` (std::cout by default) when `is_root`.
/// Non-finite numbers become null (JSON has no NaN) rather than invalid output.
void print_json_summary(const nlohmann::json& summary, bool is_root = true);
void print_json_summary(const nlohmann::json& summary, std::ostream& out, bool is_root = true);

/// A number for an output file: null where it is not finite (JSON has no NaN or inf).
inline nlohmann::json finite_or_null(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(); }

}  // namespace qvae::core
