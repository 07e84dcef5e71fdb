// Physics and contract tests of the GFlash generator (qvae/sim/gflash.hpp).
// Statistical checks use fixed seeds and bounds in units of the sample's own
// standard error (z-scores), plus a stated model systematic where the check
// compares against an approximation (the reference table of the effective
// medium is the profile at the mean (T, alpha); showers fluctuate around it).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <map>
#include <numeric>
#include <vector>

#include "qvae/core/config.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/geometry/geometry.hpp"
#include "qvae/sim/gflash.hpp"

using qvae::geometry::Geometry;
using namespace qvae::sim;

namespace {

constexpr double kZBound = 4.0;  // |z| < 4: a false alarm once in ~16 000 checks

struct Moments {
  double mean = 0.0, sigma = 0.0, standard_error = 0.0;
};

Moments moments_of(const std::vector<double>& values) {
  Moments m;
  const double n = static_cast<double>(values.size());
  m.mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
  double sum_squares = 0.0;
  for (double v : values) sum_squares += (v - m.mean) * (v - m.mean);
  m.sigma = std::sqrt(sum_squares / (n - 1.0));
  m.standard_error = m.sigma / std::sqrt(n);
  return m;
}

const GFlashSimulator& ds2_simulator() {
  static const GFlashSimulator simulator(Geometry::builtin("ds2"), GFlashParameters{});
  return simulator;
}

/// Summary of one shower on a geometry: total energy, energy-weighted mean layer, zero voxels.
struct ShowerSummary {
  double total = 0.0, mean_layer = 0.0;
  std::int64_t zeros = 0;
};

ShowerSummary summarise(const GFlashSimulator& simulator, const std::vector<double>& voxels) {
  ShowerSummary s;
  const auto& layer_of = simulator.geometry().layer_of();
  double weighted_layer = 0.0;
  for (std::size_t v = 0; v < voxels.size(); ++v) {
    s.total += voxels[v];
    weighted_layer += voxels[v] * layer_of[v];
    if (voxels[v] == 0.0) ++s.zeros;
  }
  s.mean_layer = s.total > 0.0 ? weighted_layer / s.total : 0.0;
  return s;
}

std::vector<ShowerSummary> simulate_many(const GFlashSimulator& simulator, std::uint64_t seed, double e_inc_mev,
                                         int showers) {
  std::vector<double> voxels(static_cast<std::size_t>(simulator.geometry().voxels()));
  std::vector<ShowerSummary> out;
  for (int event = 0; event < showers; ++event) {
    simulator.simulate(seed, event, e_inc_mev, voxels.data());
    out.push_back(summarise(simulator, voxels));
  }
  return out;
}

/// The model's expected energy-weighted mean layer at e_inc_mev: the per-shower
/// centroid of the layer energies E_vis dP_k · F_k(r_max) averaged over the
/// correlated (T, alpha) fluctuations z1, z2 ~ N(0, 1) by a product trapezoid rule on
/// [-6, 6]^2 (spectrally accurate for Gaussian weights).  Spot noise is left out: it
/// biases the centroid only at O(1/spots).
double expected_mean_layer(const GFlashSimulator& simulator, double e_inc_mev) {
  const auto& boundaries = simulator.layer_boundaries_x0();
  const int layers = simulator.geometry().num_layers();
  std::vector<double> r_outer(static_cast<std::size_t>(layers));
  for (int k = 0; k < layers; ++k)
    r_outer[static_cast<std::size_t>(k)] = simulator.geometry().layers()[static_cast<std::size_t>(k)].r_edges.back() /
                                           simulator.parameters().moliere_radius_mm;
  constexpr double kStep = 0.1;
  const double normal_density = 1.0 / std::sqrt(2.0 * 3.14159265358979323846);
  double expectation = 0.0, total_weight = 0.0;
  for (double z1 = -6.0; z1 <= 6.0 + 1e-9; z1 += kStep) {
    for (double z2 = -6.0; z2 <= 6.0 + 1e-9; z2 += kStep) {
      const double weight = normal_density * std::exp(-0.5 * z1 * z1) * normal_density * std::exp(-0.5 * z2 * z2);
      const LongitudinalProfile shower = simulator.longitudinal_profile(e_inc_mev, z1, z2);
      double energy = 0.0, weighted_layer = 0.0, p_lower = 0.0;
      for (int k = 0; k < layers; ++k) {
        const auto layer = static_cast<std::size_t>(k);
        const double p_upper = regularized_lower_gamma(shower.alpha, shower.beta * boundaries[layer + 1]);
        const double centre = 0.5 * (boundaries[layer] + boundaries[layer + 1]);
        const double e_layer =
            (p_upper - p_lower) * simulator.radial_profile(e_inc_mev, shower, centre).cdf(r_outer[layer]);
        p_lower = p_upper;
        energy += e_layer;
        weighted_layer += e_layer * k;
      }
      expectation += weight * weighted_layer / energy;
      total_weight += weight;
    }
  }
  return expectation / total_weight;
}

/// Q(n, x) = e^-x sum_{k<n} x^k/k! for integer n, in long double.
double integer_upper_gamma_q(int n, double x) {
  long double term = 1.0L, sum = 0.0L;
  for (int k = 0; k < n; ++k) {
    sum += term;
    term *= static_cast<long double>(x) / (k + 1);
  }
  return static_cast<double>(sum * std::exp(-static_cast<long double>(x)));
}

}  // namespace

// --- Special functions -------------------------------------------------------------

TEST(IncompleteGamma, MatchesClosedFormsOnBothBranches) {
  constexpr double kPi = 3.14159265358979323846;
  for (double x : {1e-6, 0.01, 0.3, 1.0, 2.5, 7.0, 20.0, 60.0}) {
    // a = 1: 1 - e^-x;  a = 1/2: erf(sqrt x);  a = 3/2: erf(sqrt x) - 2 sqrt(x/pi) e^-x.
    EXPECT_NEAR(regularized_lower_gamma(1.0, x), -std::expm1(-x), 1e-14 * std::max(1.0, -std::expm1(-x))) << x;
    EXPECT_NEAR(regularized_lower_gamma(0.5, x), std::erf(std::sqrt(x)), 2e-14) << x;
    const double p_three_halves = std::erf(std::sqrt(x)) - 2.0 * std::sqrt(x / kPi) * std::exp(-x);
    EXPECT_NEAR(regularized_lower_gamma(1.5, x), p_three_halves, 2e-14) << x;
  }
  // Integer a, with x on both sides of a + 1 (series and continued fraction).
  for (int n : {2, 3, 6, 10, 50}) {
    for (double x : {0.1, 0.5 * n, 1.0 * n, n + 1.5, 2.0 * n, 4.0 * n + 10.0}) {
      const double expected = 1.0 - integer_upper_gamma_q(n, x);
      EXPECT_NEAR(regularized_lower_gamma(n, x), expected, 1e-13) << "a=" << n << " x=" << x;
    }
  }
  // Published values (Abramowitz & Stegun 26.4 chi-square table): P(chi2 <= 3.84146 | 1 dof) = 0.95,
  // i.e. P(1/2, 1.92073) = 0.95; P(5, 9.23635 ... ) for 10 dof: chi2_0.95(10) = 18.307 -> P(5, 9.1535) = 0.95.
  EXPECT_NEAR(regularized_lower_gamma(0.5, 3.841459 / 2.0), 0.95, 1e-6);
  EXPECT_NEAR(regularized_lower_gamma(5.0, 18.307038 / 2.0), 0.95, 1e-6);
  EXPECT_EQ(regularized_lower_gamma(2.5, 0.0), 0.0);
  EXPECT_EQ(regularized_lower_gamma(2.5, 1e4), 1.0);
  EXPECT_TRUE(std::isnan(regularized_lower_gamma(0.0, 1.0)));
}

TEST(IncompleteGamma, LogGammaMatchesKnownValues) {
  EXPECT_NEAR(log_gamma(0.5), 0.5 * std::log(3.14159265358979323846), 1e-14);
  EXPECT_NEAR(log_gamma(1.0), 0.0, 1e-14);
  EXPECT_NEAR(log_gamma(2.0), 0.0, 1e-14);
  EXPECT_NEAR(log_gamma(11.0), std::log(3628800.0), 1e-12);
  EXPECT_NEAR(log_gamma(171.0), 706.5730622457874, 1e-10);  // ln 170!
  EXPECT_NEAR(log_gamma(0.1), 2.252712651734206, 1e-13);
}

TEST(Variates, GammaAndPoissonHaveTheirMeanAndVariance) {
  constexpr int kDraws = 200000;
  for (double shape : {0.3, 1.0, 2.5, 40.0}) {
    qvae::core::Philox rng(11, static_cast<std::uint64_t>(shape * 100));
    std::vector<double> draws(kDraws);
    for (double& d : draws) d = gamma_variate(rng, shape);
    const Moments m = moments_of(draws);
    // Gamma(k, 1): mean k, variance k; Var(s^2) ~ (mu4 - sigma^4)/N = (2k^2 + 6k)/N.
    EXPECT_LT(std::fabs(m.mean - shape) / std::sqrt(shape / kDraws), kZBound) << shape;
    const double variance_se = std::sqrt((2.0 * shape * shape + 6.0 * shape) / kDraws);
    EXPECT_LT(std::fabs(m.sigma * m.sigma - shape) / variance_se, kZBound) << shape;
    EXPECT_GE(*std::min_element(draws.begin(), draws.end()), 0.0);
  }
  for (double mean : {0.3, 4.0, 9.9, 25.0, 400.0}) {
    qvae::core::Philox rng(12, static_cast<std::uint64_t>(mean * 10));
    std::vector<double> draws(kDraws);
    for (double& d : draws) d = static_cast<double>(poisson_variate(rng, mean));
    const Moments m = moments_of(draws);
    // Poisson: mean = variance = lambda; Var(s^2) ~ (lambda + 2 lambda^2)/N.
    EXPECT_LT(std::fabs(m.mean - mean) / std::sqrt(mean / kDraws), kZBound) << mean;
    EXPECT_LT(std::fabs(m.sigma * m.sigma - mean) / std::sqrt((mean + 2.0 * mean * mean) / kDraws), kZBound) << mean;
  }
}

// --- Energy spectrum ----------------------------------------------------------------

TEST(EnergySpectrum, LogUniformDrawPassesKolmogorovSmirnov) {
  const EnergySpectrum spectrum;  // 1 GeV - 1 TeV
  constexpr int kDraws = 20000;
  std::vector<double> u(kDraws);
  for (int i = 0; i < kDraws; ++i) {
    const double e = spectrum.draw(2024, i);
    ASSERT_GE(e, spectrum.e_min);
    ASSERT_LE(e, spectrum.e_max);
    u[static_cast<std::size_t>(i)] = std::log(e / spectrum.e_min) / std::log(spectrum.e_max / spectrum.e_min);
  }
  std::sort(u.begin(), u.end());
  double d_statistic = 0.0;
  for (int i = 0; i < kDraws; ++i) {
    const double x = u[static_cast<std::size_t>(i)];
    d_statistic = std::max({d_statistic, (i + 1.0) / kDraws - x, x - static_cast<double>(i) / kDraws});
  }
  // KS critical value at significance 0.001: 1.949/sqrt(N).
  EXPECT_LT(d_statistic, 1.949 / std::sqrt(static_cast<double>(kDraws)));
  // Keyed by (seed, event) only: order of calls does not matter.
  EXPECT_EQ(spectrum.draw(2024, 17), spectrum.draw(2024, 17));
  EXPECT_NE(spectrum.draw(2024, 17), spectrum.draw(2025, 17));
}

TEST(EnergySpectrum, DiscreteDrawHitsOnlyListedValuesUniformly) {
  const EnergySpectrum spectrum = EnergySpectrum::ds1_discrete();
  ASSERT_EQ(spectrum.values.size(), 15u);
  EXPECT_EQ(spectrum.values.front(), 256.0);
  EXPECT_EQ(spectrum.values.back(), 4194304.0);
  constexpr int kDraws = 30000;
  std::map<double, int> counts;
  for (int i = 0; i < kDraws; ++i) ++counts[spectrum.draw(5, i)];
  double chi2 = 0.0;
  const double expected = static_cast<double>(kDraws) / 15.0;
  for (const auto& [value, count] : counts) {
    EXPECT_NE(std::find(spectrum.values.begin(), spectrum.values.end(), value), spectrum.values.end()) << value;
    chi2 += (count - expected) * (count - expected) / expected;
  }
  EXPECT_EQ(counts.size(), 15u);
  EXPECT_LT(chi2, 36.12);  // chi-square, 14 dof, 0.999 quantile
  EnergySpectrum empty;
  empty.kind = EnergySpectrum::Kind::discrete;
  EXPECT_THROW(empty.draw(1, 0), qvae::core::UsageError);
}

// --- Contracts ------------------------------------------------------------------------

TEST(GFlash, SameSeedEventEnergyIsBitIdenticalAndEventsDiffer) {
  const GFlashSimulator& simulator = ds2_simulator();
  const auto n = static_cast<std::size_t>(simulator.geometry().voxels());
  std::vector<double> a(n), b(n), c(n), d(n);
  simulator.simulate(99, 7, 5.0e4, a.data());
  simulator.simulate(99, 8, 5.0e4, c.data());  // another event in between
  simulator.simulate(99, 7, 5.0e4, b.data());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), n * sizeof(double)), 0);
  EXPECT_NE(std::memcmp(a.data(), c.data(), n * sizeof(double)), 0);
  simulator.simulate(100, 7, 5.0e4, d.data());  // another seed
  EXPECT_NE(std::memcmp(a.data(), d.data(), n * sizeof(double)), 0);
  // A second simulator (as on another rank) gives the same shower.
  const GFlashSimulator other(Geometry::builtin("ds2"), GFlashParameters{});
  other.simulate(99, 7, 5.0e4, b.data());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), n * sizeof(double)), 0);
}

TEST(GFlash, OutputIsFiniteNonNegativeAndThresholded) {
  const GFlashSimulator& simulator = ds2_simulator();
  const double threshold = simulator.parameters().readout_threshold_mev;
  std::vector<double> voxels(static_cast<std::size_t>(simulator.geometry().voxels()));
  const EnergySpectrum spectrum;
  std::int64_t checked = 0;
  for (int event = 0; event < 300; ++event) {
    simulator.simulate(3, event, spectrum.draw(3, event), voxels.data());
    for (double v : voxels) {
      ASSERT_TRUE(std::isfinite(v));
      ASSERT_TRUE(v == 0.0 || v >= threshold) << v;
      ++checked;
    }
  }
  // Extremes of the ds1 range, and far beyond it (the Geant4 clamps keep the model defined).
  for (double e : {1.0, 256.0, 4194304.0, 1e8}) {
    simulator.simulate(3, 0, e, voxels.data());
    for (double v : voxels) ASSERT_TRUE(std::isfinite(v) && (v == 0.0 || v >= threshold)) << v;
  }
  EXPECT_EQ(checked, 300 * simulator.geometry().voxels());
}

TEST(GFlash, RejectsBadArguments) {
  const GFlashSimulator& simulator = ds2_simulator();
  std::vector<double> voxels(static_cast<std::size_t>(simulator.geometry().voxels()));
  EXPECT_THROW(simulator.simulate(1, -1, 1e3, voxels.data()), qvae::core::UsageError);
  EXPECT_THROW(simulator.simulate(1, 0, 0.0, voxels.data()), qvae::core::UsageError);
  EXPECT_THROW(simulator.simulate(1, 0, std::nan(""), voxels.data()), qvae::core::UsageError);
  GFlashParameters bad;
  bad.spot_energy_mev = 50.0;  // above a^2 · 1 GeV = 12.1 MeV
  EXPECT_THROW(GFlashSimulator(Geometry::builtin("ds2"), bad), qvae::core::UsageError);
}

TEST(GFlash, ConfigKeysRoundTripIntoParameters) {
  qvae::core::ConfigSchema schema;
  add_sim_keys(schema);
  const auto defaults = qvae::core::Config::resolve(schema, {}, {});
  const GFlashParameters from_defaults = parameters_from(defaults);
  const GFlashParameters reference;
  EXPECT_DOUBLE_EQ(from_defaults.x0_mm, reference.x0_mm);
  EXPECT_DOUBLE_EQ(from_defaults.readout_threshold_mev, 0.01515);
  EXPECT_DOUBLE_EQ(from_defaults.spot_energy_mev, reference.spot_energy_mev);
  const auto tuned = qvae::core::Config::resolve(schema, {}, {{"sim.spot_energy_mev", "3.5"}, {"sim.z_eff", "74"}});
  EXPECT_DOUBLE_EQ(parameters_from(tuned).spot_energy_mev, 3.5);
  EXPECT_DOUBLE_EQ(parameters_from(tuned).z_eff, 74.0);
  const auto invalid = qvae::core::Config::resolve(schema, {}, {{"sim.x0_mm", "-1"}});
  EXPECT_THROW(parameters_from(invalid), qvae::core::UsageError);
}

// --- Physics -------------------------------------------------------------------------

TEST(GFlashPhysics, MeanProfileReproducesTheEffectiveMediumTable) {
  // The reference table of ds2's effective W/Si medium, computed independently from the
  // Geant4 GFlash sampling formulas: T_sam, alpha_sam and <t> at 1, 10, 100, 1000 GeV,
  // quoted to 2-3 digits.
  const GFlashSimulator& simulator = ds2_simulator();
  const struct {
    double e_mev, t_max, alpha, mean_depth;
  } table[] = {{1e3, 3.43, 2.90, 5.23}, {1e4, 5.73, 4.03, 7.62}, {1e5, 8.03, 5.15, 9.96}, {1e6, 10.33, 6.28, 12.29}};
  for (const auto& row : table) {
    const LongitudinalProfile p = simulator.mean_longitudinal_profile(row.e_mev);
    EXPECT_NEAR(p.t_max, row.t_max, 0.006) << row.e_mev;
    EXPECT_NEAR(p.alpha, row.alpha, 0.006) << row.e_mev;
    EXPECT_NEAR(p.mean_depth(), row.mean_depth, 0.006) << row.e_mev;
  }
  // The same table's radial part at 100 GeV: R_C, R_T (mm) and p at tau = 0.5, 1, 2.  Our tau is t/T
  // times Geant4's rescale, which is 1 at the mean profile.
  const LongitudinalProfile mean = simulator.mean_longitudinal_profile(1e5);
  const double rm = simulator.parameters().moliere_radius_mm;
  const struct {
    double tau, core_mm, tail_mm, weight;
  } radial[] = {{0.5, 0.83, 8.27, 0.99}, {1.0, 1.22, 5.57, 0.89}, {2.0, 2.02, 8.14, 0.54}};
  for (const auto& row : radial) {
    const RadialProfile r = simulator.radial_profile(1e5, mean, row.tau * mean.t_max);
    EXPECT_NEAR(r.core_radius * rm, row.core_mm, 0.006) << row.tau;
    EXPECT_NEAR(r.tail_radius * rm, row.tail_mm, 0.006) << row.tau;
    EXPECT_NEAR(r.core_weight, row.weight, 0.006) << row.tau;
  }
}

TEST(GFlashPhysics, MeanShowerDepthGrowsWithLogEnergyAsTheTable) {
  // Energy-weighted mean layer per shower, averaged over 300 showers per energy.
  //  (a) Against the model: its expectation over the (T, alpha) fluctuations, by
  //      quadrature (expected_mean_layer): |measured - expected| < 4 SE.
  //  (b) Against the effective-medium table: its <t> is the depth of the *mean* profile; layer k covers
  //      [0.806 k, 0.806 (k+1)] X0, so its mean layer index is <t>/0.806 - 1/2.  Showers
  //      fluctuate log-normally around it and <alpha T/(alpha - 1)> is convex in ln alpha,
  //      so the expectation lies deeper, most at 1 GeV (sigma(ln alpha) = 0.35).  Stated
  //      bound: 4 SE + 1 layer (0.8 X0) at 1 GeV, 4 SE + 0.3 layer from 10 GeV on.
  //  (c) Growth with ln E: least-squares slope over the four energies within 15 % of the
  //      table's 2.35 X0 per decade (2.92 layers).
  const GFlashSimulator& simulator = ds2_simulator();
  const double thickness = simulator.layer_boundaries_x0()[1];
  ASSERT_NEAR(thickness, 0.806, 0.001);
  const struct {
    double e_mev, mean_depth_x0, systematic_layers;
  } table[] = {{1e3, 5.23, 1.0}, {1e4, 7.62, 0.3}, {1e5, 9.96, 0.3}, {1e6, 12.29, 0.3}};
  std::vector<double> measured;
  for (const auto& row : table) {
    std::vector<double> layers;
    for (const ShowerSummary& s : simulate_many(simulator, 31, row.e_mev, 300)) layers.push_back(s.mean_layer);
    const Moments m = moments_of(layers);
    const double from_table = row.mean_depth_x0 / thickness - 0.5;
    const double from_model = expected_mean_layer(simulator, row.e_mev);
    std::cout << "[ physics  ] E = " << row.e_mev / 1e3 << " GeV: mean layer " << m.mean << " +- " << m.standard_error
              << " (model expectation " << from_model << ", table at mean profile " << from_table
              << "), shower-to-shower sigma " << m.sigma << "\n";
    EXPECT_LT(std::fabs(m.mean - from_model), kZBound * m.standard_error) << row.e_mev;
    EXPECT_LT(std::fabs(m.mean - from_table), kZBound * m.standard_error + row.systematic_layers) << row.e_mev;
    measured.push_back(m.mean);
  }
  double slope_numerator = 0.0, slope_denominator = 0.0;
  for (std::size_t i = 0; i < measured.size(); ++i) {
    const double x = static_cast<double>(i) - 1.5;  // log10(E/GeV) - its mean
    slope_numerator += x * measured[i];
    slope_denominator += x * x;
  }
  const double slope = slope_numerator / slope_denominator;
  const double table_slope = (table[3].mean_depth_x0 - table[0].mean_depth_x0) / 3.0 / thickness;
  std::cout << "[ physics  ] mean layer grows by " << slope << " layers per decade (table " << table_slope << ")\n";
  EXPECT_NEAR(slope, table_slope, 0.15 * table_slope);
}

TEST(GFlashPhysics, TotalEnergyResponseAndResolution) {
  // E_tot/E_inc: mean = response_scale (1) x containment.  The expected containment is
  // the model's at the mean profile (longitudinal beyond 36.3 X0 and lateral beyond
  // 4.41 R_M lost); bound 4 SE + 0.01 for the spread of containment over showers.
  // Resolution: spots carry a/sqrt(E_vis/GeV) with a = 0.11, plus the constant term
  // b = 0.01 and containment fluctuations.
  GFlashParameters no_constant_term;
  no_constant_term.constant_term = 0.0;
  const GFlashSimulator simulators[] = {ds2_simulator(), GFlashSimulator(Geometry::builtin("ds2"), no_constant_term)};
  for (const GFlashSimulator& simulator : simulators) {
    const GFlashParameters& p = simulator.parameters();
    std::map<double, Moments> response;
    for (double e : {1e3, 1e4, 1e5, 1e6}) {
      std::vector<double> ratio;
      for (const ShowerSummary& s : simulate_many(simulator, 77, e, 1000)) ratio.push_back(s.total / e);
      const Moments m = moments_of(ratio);
      const double containment = simulator.containment(e, simulator.mean_longitudinal_profile(e));
      const double expected_sigma =
          std::sqrt(p.sampling_term * p.sampling_term / (e / 1e3 * containment) + p.constant_term * p.constant_term);
      std::cout << "[ physics  ] b = " << p.constant_term << ", E = " << e / 1e3 << " GeV: E_tot/E_inc mean " << m.mean
                << " +- " << m.standard_error << " (containment " << containment << "), sigma/mean " << m.sigma / m.mean
                << " (sampling + constant terms alone: " << expected_sigma << ")\n";
      EXPECT_LT(std::fabs(m.mean - p.response_scale * containment), kZBound * m.standard_error + 0.01) << e;
      // ds2 contains an EM shower: < 10 % leaks past 36.3 X0 or 4.41 R_M,eff.
      EXPECT_GT(containment, 0.9) << e;
      EXPECT_LT(containment, 1.0) << e;
      response[e] = m;
    }
    // sigma/E ~ 1/sqrt(E): the 1 GeV / 100 GeV ratio of relative resolutions is
    // sqrt(100) = 10 for a pure sampling term, sqrt(a^2 + b^2)/sqrt(a^2/100 + b^2) with
    // the constant term (7.4 for b = 0.01); containment fluctuations at 100 GeV lower it
    // further.  Bound: the ratio lies between 0.6 x and 1.0 x that prediction, +4 SE
    // (relative SE of a sample sigma is 1/sqrt(2N), so of the ratio 1/sqrt(N)).
    const double low = response[1e3].sigma / response[1e3].mean;
    const double high = response[1e5].sigma / response[1e5].mean;
    const double predicted = std::sqrt(p.sampling_term * p.sampling_term + p.constant_term * p.constant_term) /
                             std::sqrt(p.sampling_term * p.sampling_term / 100.0 + p.constant_term * p.constant_term);
    const double ratio = low / high, ratio_se = ratio / std::sqrt(1000.0);
    std::cout << "[ physics  ] b = " << p.constant_term << ": resolution ratio 1 GeV / 100 GeV = " << ratio << " +- "
              << ratio_se << " (sqrt(100) = 10; with b: " << predicted << ")\n";
    EXPECT_LT(ratio, predicted + kZBound * ratio_se);
    EXPECT_GT(ratio, 0.6 * predicted - kZBound * ratio_se);
  }
}

TEST(GFlashPhysics, ZeroVoxelFractionIsRealisticForDs2) {
  // Real ds2: 76 % of voxels are exactly 0 over the log-uniform 1 GeV - 1 TeV spectrum.
  // Accepted band 0.5 - 0.9; sparsity must fall with energy.
  const GFlashSimulator& simulator = ds2_simulator();
  const EnergySpectrum spectrum;
  std::vector<double> voxels(static_cast<std::size_t>(simulator.geometry().voxels()));
  std::vector<double> zero_fraction;
  for (int event = 0; event < 500; ++event) {
    simulator.simulate(8, event, spectrum.draw(8, event), voxels.data());
    zero_fraction.push_back(static_cast<double>(summarise(simulator, voxels).zeros) /
                            static_cast<double>(voxels.size()));
  }
  const Moments m = moments_of(zero_fraction);
  std::cout << "[ physics  ] zero-voxel fraction over log-uniform 1 GeV - 1 TeV: " << m.mean << " +- "
            << m.standard_error << " (real ds2: 0.76)\n";
  for (double e : {1e3, 1e4, 1e5, 1e6}) {
    double zeros = 0.0;
    for (const ShowerSummary& s : simulate_many(simulator, 8, e, 50)) zeros += static_cast<double>(s.zeros);
    std::cout << "[ physics  ]   at " << e / 1e3 << " GeV: " << zeros / (50.0 * static_cast<double>(voxels.size()))
              << "\n";
  }
  EXPECT_GT(m.mean, 0.5);
  EXPECT_LT(m.mean, 0.9);
  const auto sparse = simulate_many(simulator, 9, 1e3, 50), dense = simulate_many(simulator, 9, 1e6, 50);
  double zeros_low = 0.0, zeros_high = 0.0;
  for (std::size_t i = 0; i < sparse.size(); ++i) {
    zeros_low += static_cast<double>(sparse[i].zeros);
    zeros_high += static_cast<double>(dense[i].zeros);
  }
  EXPECT_GT(zeros_low, zeros_high);
}

TEST(GFlashPhysics, CentreOfEnergyFluctuatesAroundTheAxis) {
  // Per layer, <eta> = sum eta x / sum x.  By symmetry its mean over showers is 0
  // (4 SE); spots must make it fluctuate shower to shower (sigma > 0.1 mm) but stay well
  // inside the +-30 mm histogram range (sigma < 10 mm), at the shower maximum of 10 GeV.
  const GFlashSimulator& simulator = ds2_simulator();
  const auto& eta = simulator.geometry().eta();
  const auto& layer_of = simulator.geometry().layer_of();
  std::vector<double> voxels(static_cast<std::size_t>(simulator.geometry().voxels()));
  std::vector<double> centres;
  constexpr int kLayer = 9;
  for (int event = 0; event < 400; ++event) {
    simulator.simulate(21, event, 1e4, voxels.data());
    double sum = 0.0, weighted = 0.0;
    for (std::size_t v = 0; v < voxels.size(); ++v) {
      if (layer_of[v] != kLayer) continue;
      sum += voxels[v];
      weighted += voxels[v] * eta[v];
    }
    centres.push_back(weighted / (sum + 1e-16));
  }
  const Moments m = moments_of(centres);
  std::cout << "[ physics  ] 10 GeV, layer " << kLayer << ": <eta> mean " << m.mean << " +- " << m.standard_error
            << " mm, shower-to-shower sigma " << m.sigma << " mm\n";
  EXPECT_LT(std::fabs(m.mean) / m.standard_error, kZBound);
  EXPECT_GT(m.sigma, 0.1);
  EXPECT_LT(m.sigma, 10.0);
}

TEST(GFlashPhysics, OtherGeometriesRun) {
  for (const char* name : {"ds1-photons", "ds1-pions", "ds3"}) {
    const GFlashSimulator simulator(Geometry::builtin(name), GFlashParameters{});
    const double thickness = simulator.layer_boundaries_x0()[1];
    std::vector<double> voxels(static_cast<std::size_t>(simulator.geometry().voxels()));
    std::vector<double> layer_energy(static_cast<std::size_t>(simulator.geometry().num_layers()), 0.0);
    std::vector<double> ratio;
    for (int event = 0; event < 100; ++event) {
      const double e = 6.5e4;
      simulator.simulate(4, event, e, voxels.data());
      double total = 0.0;
      for (std::size_t v = 0; v < voxels.size(); ++v) {
        ASSERT_TRUE(std::isfinite(voxels[v]) && voxels[v] >= 0.0);
        total += voxels[v];
        layer_energy[static_cast<std::size_t>(simulator.geometry().layer_of()[v])] += voxels[v];
      }
      ratio.push_back(total / e);
    }
    const Moments m = moments_of(ratio);
    std::cout << "[ physics  ] " << name << ": layer thickness " << thickness << " X0, E_tot/E_inc at 65 GeV " << m.mean
              << " +- " << m.standard_error << "\n";
    // Same medium and the same 36.3 X0 depth: mostly contained; ds1's radial bins reach metres.
    EXPECT_GT(m.mean, 0.8) << name;
    EXPECT_LT(m.mean, 1.05) << name;
    for (double le : layer_energy) EXPECT_GT(le, 0.0) << name;
  }
}
