// Internal to the eval module: JSON spellings shared by its writers.
#pragma once

#include <cmath>

#include <nlohmann/json.hpp>

namespace qvae::eval {

/// metrics.json holds null where a value is not finite (JSON has no NaN or inf).
inline nlohmann::json finite_or_null(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(); }

}  // namespace qvae::eval
