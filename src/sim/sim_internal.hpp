// Internal helpers shared by the sim module's sources (not installed).
#pragma once

namespace qvae::sim::detail {

/// P(a, x) with ln Gamma(a) supplied, so a shower's ~46 layer boundaries
/// (one alpha per shower) pay for ln Gamma once.
double lower_gamma_p(double a, double x, double log_gamma_a);

}  // namespace qvae::sim::detail
