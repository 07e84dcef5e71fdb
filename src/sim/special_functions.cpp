// Special functions and variates of the GFlash generator: ln Gamma and the
// regularised lower incomplete gamma P(a, x) (layer energies are P
// differences) from Boost.Math; Gamma variates (sampling fluctuations) and
// Poisson variates (spot counts) drawn from the project's Philox streams.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include <boost/math/special_functions/gamma.hpp>

#include "qvae/sim/gflash.hpp"

namespace qvae::sim {

namespace {
// Double precision throughout: Boost's default policy evaluates double
// arguments in long double, an accuracy the simulator does not need.
using DoublePolicy = boost::math::policies::policy<boost::math::policies::promote_double<false>>;
}  // namespace

double log_gamma(double x) { return boost::math::lgamma(x, DoublePolicy()); }

double regularized_lower_gamma(double a, double x) {
  if (!(a > 0.0) || std::isnan(x)) return std::numeric_limits<double>::quiet_NaN();
  if (!(x > 0.0)) return 0.0;
  if (std::isinf(x)) return 1.0;
  return boost::math::gamma_p(a, x, DoublePolicy());
}

double gamma_variate(core::Philox& rng, double shape) {
  if (!(shape > 0.0)) return 0.0;
  if (shape == 1.0) return -std::log1p(-rng.uniform());  // exponential: one log
  if (shape < 1.0) {
    // Gamma(a) = Gamma(a+1) · U^{1/a} (Marsaglia & Tsang 2000, section 6).
    const double u = 1.0 - rng.uniform();  // (0, 1]
    return gamma_variate(rng, shape + 1.0) * std::pow(u, 1.0 / shape);
  }
  // Marsaglia & Tsang (2000): d = a - 1/3, c = 1/sqrt(9d); accept d·v^3.
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = rng.normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = rng.uniform();
    const double x2 = x * x;
    if (u < 1.0 - 0.0331 * x2 * x2) return d * v;  // squeeze: no log most of the time
    if (std::log(u) < 0.5 * x2 + d * (1.0 - v + std::log(v))) return d * v;
  }
}

std::int64_t poisson_variate(core::Philox& rng, double mean) {
  if (!(mean > 0.0)) return 0;
  if (mean < 10.0) {
    // Inversion: walk the CDF from 0; expected mean + 1 steps.
    const double u = rng.uniform();
    double probability = std::exp(-mean), cdf = probability;
    std::int64_t k = 0;
    while (u > cdf && k < 1000) {
      ++k;
      probability *= mean / static_cast<double>(k);
      cdf += probability;
    }
    return k;
  }
  // PTRS: transformed rejection with squeeze (Hoermann 1993), valid for mean >= 10.
  const double sqrt_mean = std::sqrt(mean), log_mean = std::log(mean);
  const double b = 0.931 + 2.53 * sqrt_mean;
  const double a = -0.059 + 0.02483 * b;
  const double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
  const double v_r = 0.9277 - 3.6224 / (b - 2.0);
  for (;;) {
    const double u = rng.uniform() - 0.5;
    const double v = rng.uniform();
    const double us = 0.5 - std::fabs(u);
    if (us <= 0.0) continue;  // u = -1/2 exactly: the transform is singular
    const double k = std::floor((2.0 * a / us + b) * u + mean + 0.43);
    if (us >= 0.07 && v <= v_r) return static_cast<std::int64_t>(k);
    if (k < 0.0 || (us < 0.013 && v > us)) continue;
    if (std::log(v) + std::log(inv_alpha) - std::log(a / (us * us) + b) <= -mean + k * log_mean - log_gamma(k + 1.0))
      return static_cast<std::int64_t>(k);
  }
}

}  // namespace qvae::sim
