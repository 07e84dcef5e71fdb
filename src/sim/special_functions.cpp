// Special functions and variates of the GFlash generator: ln Gamma, the
// regularised lower incomplete gamma P(a, x) (layer energies are P
// differences), Gamma variates (sampling fluctuations) and Poisson
// variates (spot counts).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "qvae/sim/gflash.hpp"
#include "sim_internal.hpp"

namespace qvae::sim {

namespace {
constexpr double kPi = 3.141592653589793238462643;
constexpr double kHalfLogTwoPi = 0.918938533204672741780329736;
constexpr double kEpsilon = 1e-15;
constexpr int kMaxIterations = 10000;
}  // namespace

double log_gamma(double x) {
  // Lanczos approximation, g = 7 and 9 coefficients (Numerical Recipes 3rd ed., section 6.1,
  // Wikipedia "Lanczos approximation"); reflection below 1/2.
  static constexpr double kCoefficients[9] = {0.99999999999980993,  676.5203681218851,     -1259.1392167224028,
                                              771.32342877765313,   -176.61502916214059,   12.507343278686905,
                                              -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7};
  if (x < 0.5) return std::log(kPi / std::fabs(std::sin(kPi * x))) - log_gamma(1.0 - x);
  const double z = x - 1.0;
  double sum = kCoefficients[0];
  for (int i = 1; i < 9; ++i) sum += kCoefficients[i] / (z + i);
  const double t = z + 7.5;
  return kHalfLogTwoPi + (z + 0.5) * std::log(t) - t + std::log(sum);
}

namespace detail {

double lower_gamma_p(double a, double x, double log_gamma_a) {
  if (!(x > 0.0)) return 0.0;
  if (std::isinf(x)) return 1.0;
  // x^a e^-x / Gamma(a): the common prefactor of both expansions.
  const double log_prefactor = a * std::log(x) - x - log_gamma_a;
  if (x < a + 1.0) {
    // Series: P = x^a e^-x / Gamma(a+1) · sum_n x^n / ((a+1)...(a+n)); converges fast for x < a+1.
    double term = 1.0 / a, sum = term, denominator = a;
    for (int n = 0; n < kMaxIterations; ++n) {
      denominator += 1.0;
      term *= x / denominator;
      sum += term;
      if (std::fabs(term) < std::fabs(sum) * kEpsilon) break;
    }
    return std::min(1.0, sum * std::exp(log_prefactor));
  }
  // Continued fraction for Q = 1 - P (modified Lentz), converges fast for x > a+1.
  constexpr double kTiny = 1e-300;
  double b = x + 1.0 - a, c = 1.0 / kTiny, d = 1.0 / b, h = d;
  for (int i = 1; i < kMaxIterations; ++i) {
    const double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < kEpsilon) break;
  }
  return std::max(0.0, 1.0 - std::exp(log_prefactor) * h);
}

}  // namespace detail

double regularized_lower_gamma(double a, double x) {
  if (!(a > 0.0) || std::isnan(x)) return std::numeric_limits<double>::quiet_NaN();
  return detail::lower_gamma_p(a, x, log_gamma(a));
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
