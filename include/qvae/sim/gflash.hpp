// A parametric (GFlash) electromagnetic shower generator that writes
// CaloChallenge-format voxel energies: the parametrisation of Grindhammer & Peters
// (hep-ex/0001020) with Geant4's GFlash sampling-calorimeter tuning.
//
// The model, per shower:
//  1. correlated (T, alpha) of the gamma longitudinal profile, sampling-
//     calorimeter constants and Geant4 clamps, y = E/E_c,eff;
//  2. layer energies E_vis·[P(alpha, beta·t_{k+1}) - P(alpha, beta·t_k)];
//  3. radial fractions F(r_{j+1}) - F(r_j) of the core + tail profile at the
//     layer's tau, in units of R_M,eff, with the sampling corrections;
//     the angle is uniform, so each alpha bin of a ring gets 1/n_alpha;
//  4. fluctuations: "spots" (hits in the active layers) with a Poisson count
//     per voxel and Gamma-distributed energies, whose summed variance is
//     exactly the sampling term a^2/E, times a shower-wide constant term;
//  5. the readout threshold: voxels below it are exactly 0.
// Energy outside the grid (beyond the last layer, outside the last r edge) is
// simply not deposited, so containment comes out of the profile.
//
// Every draw comes from core::Philox keyed by (seed, stream_id(domain, event)):
// a shower depends only on (seed, event, E_inc), never on rank or call order.
#pragma once

#include <cstdint>
#include <vector>

#include "qvae/core/philox.hpp"
#include "qvae/geometry/geometry.hpp"

namespace qvae::core {
class Config;
class ConfigSchema;
}  // namespace qvae::core

namespace qvae::sim {

/// Philox stream domains of this module (top 16 bits of the stream id).
inline constexpr std::uint32_t kShowerStreamDomain = 0x5101;  ///< one stream per shower
inline constexpr std::uint32_t kEnergyStreamDomain = 0x5102;  ///< one stream per incident energy

/// Incident energies in MeV.
struct EnergySpectrum {
  enum class Kind { log_uniform, discrete } kind = Kind::log_uniform;
  double e_min = 1e3, e_max = 1e6;  ///< log-uniform bounds (ds2/ds3: 1 GeV - 1 TeV)
  std::vector<double> values;       ///< discrete list, drawn with equal probability
  /// A pure function of (seed, event); UsageError for an empty list or bad bounds.
  double draw(std::uint64_t seed, std::int64_t event) const;
  /// ds1's 15 energies 2^8 ... 2^22 MeV.
  static EnergySpectrum ds1_discrete();
};

/// Every constant of the model.  Defaults: ds2's effective W/Si medium
/// (1.4 mm W + 0.3 mm Si) and the Geant4 GFlash
/// sampling-calorimeter tuning.
struct GFlashParameters {
  // --- Effective medium ------------------------------------------------------
  double x0_mm = 4.219;               ///< X0,eff
  double moliere_radius_mm = 9.48;    ///< R_M,eff: radial bins are converted with it
  double critical_energy_mev = 9.44;  ///< E_c,eff: y = E/E_c,eff
  double z_eff = 72.5;                ///< Z_eff
  double sampling_frequency = 2.482;  ///< F_S = X0,eff/(d_W + d_Si)
  double e_hat = 0.704;               ///< e-hat = 1/(1 + 0.007 (Z_Si - Z_W))

  // --- Depth of the readout layers ---------------------------------------------
  /// Thickness of one readout layer in X0,eff; layer i (index into
  /// Geometry::layers()) spans [i·d, (i+1)·d].  ds2/ds3: 3.4 mm / 4.219 mm = 0.806.
  /// 0 means "auto": calorimeter_depth_x0 spread evenly over the geometry's layers,
  /// which gives 0.806 for the 45-layer ds2/ds3 and puts ds1's 5 or 7 layers
  /// over the same 36.3 X0 (ds1 is ATLAS, not W/Si: its showers are only format-correct).
  double layer_thickness_x0 = 0.0;
  double calorimeter_depth_x0 = 36.27;  ///< 45 × 0.806 X0,eff (153 mm of ds2)

  // --- Longitudinal profile, homogeneous medium -------------------------------
  double t_hom_offset = -0.812;  ///< <ln T_hom> = ln(ln y + t_hom_offset)
  double alpha_hom_a1 = 0.81;    ///< <ln alpha_hom> = ln(a1 + (a2 + a3/Z) ln y)
  double alpha_hom_a2 = 0.458;
  double alpha_hom_a3 = 2.26;
  // --- ... sampling corrections and fluctuations (GFlashSamplingShowerTuning)
  double t_sam_fs = -0.55;  ///< T_sam = T_hom + t_sam_fs/F_S + t_sam_ehat (1 - e-hat)
  double t_sam_ehat = -0.69;
  double alpha_sam_fs = -0.476;  ///< alpha_sam = alpha_hom + alpha_sam_fs/F_S
  double sigma_ln_t_c1 = -2.5;   ///< sigma(ln T) = 1/(c1 + c2 ln y)
  double sigma_ln_t_c2 = 1.25;
  double sigma_ln_alpha_c1 = -0.82;  ///< sigma(ln alpha) = 1/(c1 + c2 ln y)
  double sigma_ln_alpha_c2 = 0.79;
  double rho_c1 = 0.784;  ///< rho(ln T, ln alpha) = c1 + c2 ln y
  double rho_c2 = -0.023;
  // Geant4 clamps.
  double sigma_max = 0.5;
  double t_min = 1.0;
  double alpha_min = 1.1;
  double log_argument_min = 0.1;

  // --- Radial profile, E in GeV, tau = t/T rescaled as in Geant4 --------------
  double rc_z1_a = 0.0251, rc_z1_b = 0.00319;    ///< z1 = a + b ln(E/GeV)
  double rc_z2_a = 0.1162, rc_z2_b = -0.000381;  ///< z2 = a + b Z;  R_C = z1 + z2 tau
  double rt_k1_a = 0.659, rt_k1_b = -0.00309;    ///< k1 = a + b Z
  double rt_k2 = 0.645, rt_k3 = -2.59;
  double rt_k4_a = 0.3585, rt_k4_b = 0.0412;  ///< k4 = a + b ln(E/GeV)
  double p_p1_a = 2.632, p_p1_b = -0.00094;   ///< p1 = a + b Z
  double p_p2_a = 0.401, p_p2_b = 0.00187;    ///< p2 = a + b Z
  double p_p3_a = 1.313, p_p3_b = -0.0686;    ///< p3 = a + b ln(E/GeV)
  // Sampling corrections: R_C += c_ehat (1-e) + c_fs/F_S e^-tau, same for R_T;
  // p += (1-e)(p_ehat + p_fs/F_S e^{-(tau-1)^2}).
  double rc_sam_ehat = -0.0203, rc_sam_fs = 0.0397;
  double rt_sam_ehat = -0.14, rt_sam_fs = -0.495;
  double p_sam_ehat = 0.348, p_sam_fs = -0.642;
  double radius_min = 1e-3;  ///< floor for R_C, R_T in R_M (keeps F defined)

  // --- Response and fluctuations ---------------------------------------------
  /// Mean visible energy (CaloChallenge scale, Si energy / 0.033) per unit
  /// deposited energy.  The 1/0.033 factor of the dataset is a calibration, so 1.
  double response_scale = 1.0;
  /// Stochastic (sampling) term a in sigma/E = a/sqrt(E/GeV).  0.11 is GFlash's
  /// SamplingResolution read as 11 %/sqrt(GeV); CALICE Si-W measures 16.6 % with
  /// 2-3x thicker W on average, and the sampling term scales as sqrt(d_W): ~12 %.
  double sampling_term = 0.11;
  /// Constant term b: a shower-wide Gaussian scale factor N(1, b^2).
  double constant_term = 0.01;
  /// Mean visible energy of one spot (a hit in the active layers), MeV.  Sets the
  /// sparsity: spots per voxel are Poisson with mean E_voxel/spot_energy.  A MIP
  /// crossing one readout layer (0.6 mm Si) deposits 0.23 MeV of Si, i.e. about
  /// 7 MeV on the CaloChallenge scale.  Spot energies are Gamma(kappa) with kappa
  /// fixed by  a^2·1 GeV = spot_energy·(1 + 1/kappa),  so the spots *are* the sampling
  /// term; spot_energy must be below a^2·1 GeV.  Geant4's NSpot = 93/0.11·(E/GeV)^0.876
  /// counts energy-deposition points of a homogeneous medium, not active-layer
  /// hits, and is not used: hits scale with the charged track length, i.e. with E.
  /// The default 6 MeV (kappa = 0.98) gives 78 % zero voxels on ds2's spectrum (real: 76 %).
  double spot_energy_mev = 6.0;
  /// Voxels expecting at least this many spots draw one moment-matched Gamma
  /// (mean and variance of the compound Poisson sum) instead of counting spots:
  /// the "cap" that keeps 1 TeV showers cheap.  P(no spot) is then < e^-6.
  double dense_spot_count = 6.0;
  /// Voxels below this are set to exactly 0 (ds2: 0.5 keV in Si / sampling fraction 0.033 = 15.15 keV).
  double readout_threshold_mev = 0.01515;

  /// The layer thickness actually used for a geometry with `layers` layers.
  double layer_thickness_for(int layers) const;
  /// kappa of the spot energy distribution (see spot_energy_mev).
  double spot_shape() const;
  /// UsageError naming the first parameter out of its domain.
  void validate() const;
};

/// Adds the tunable [sim] keys: sim.x0_mm, sim.moliere_radius_mm,
/// sim.critical_energy_mev, sim.z_eff, sim.sampling_frequency, sim.e_hat,
/// sim.layer_thickness_x0, sim.calorimeter_depth_x0, sim.response_scale,
/// sim.sampling_term, sim.constant_term, sim.spot_energy_mev,
/// sim.dense_spot_count, sim.readout_threshold_mev (defaults as in GFlashParameters).
void add_sim_keys(qvae::core::ConfigSchema& schema);
/// Reads the keys of add_sim_keys; the GFlash fit constants keep their defaults.
/// UsageError if a value is out of its domain.
GFlashParameters parameters_from(const qvae::core::Config& config);

/// Regularised lower incomplete gamma P(a, x) = gamma(a, x)/Gamma(a), a > 0,
/// x >= 0 (Boost.Math gamma_p in double precision); NaN for a <= 0.
double regularized_lower_gamma(double a, double x);
/// ln Gamma(x) for x > 0 (Boost.Math lgamma in double precision).
double log_gamma(double x);
/// Gamma(shape, 1) variate by Marsaglia-Tsang (shape < 1 via the U^{1/shape} boost).
double gamma_variate(qvae::core::Philox& rng, double shape);
/// Poisson(mean) variate: inversion below 10, PTRS (Hoermann 1993) above.
std::int64_t poisson_variate(qvae::core::Philox& rng, double mean);

/// The longitudinal parameters of one shower.
struct LongitudinalProfile {
  double t_max = 0.0;  ///< T, X0
  double alpha = 0.0;
  double beta = 0.0;                                  ///< (alpha - 1)/T
  double mean_ln_alpha = 0.0;                         ///< <ln alpha> at this energy (enters tau)
  double mean_depth() const { return alpha / beta; }  ///< <t> = alpha/beta, X0
};

/// The core + tail radial profile at one depth, radii in R_M.
struct RadialProfile {
  double core_radius = 0.0;  ///< R_C
  double tail_radius = 0.0;  ///< R_T
  double core_weight = 0.0;  ///< p, clamped to [0, 1]
  /// F(r) = p r^2/(r^2 + R_C^2) + (1 - p) r^2/(r^2 + R_T^2).
  double cdf(double r) const;
};

class GFlashSimulator {
 public:
  /// Precomputes per-geometry tables (layer depths, radial edges in R_M, rings).
  /// UsageError if the parameters are invalid.
  GFlashSimulator(qvae::geometry::Geometry geometry, GFlashParameters parameters);

  /// Fills out[0 .. geometry().voxels()) with voxel energies in MeV
  /// (CaloChallenge scale, comparable to E_inc), values below the readout
  /// threshold exactly 0.  Depends only on (seed, event, e_inc_mev); allocates
  /// nothing.  UsageError for event < 0 or e_inc_mev not finite and > 0.
  void simulate(std::uint64_t seed, std::int64_t event, double e_inc_mev, double* out) const;

  const qvae::geometry::Geometry& geometry() const { return geometry_; }
  const GFlashParameters& parameters() const { return parameters_; }

  /// (T, alpha) at the mean of the longitudinal distributions (the effective-medium table).
  LongitudinalProfile mean_longitudinal_profile(double e_inc_mev) const;
  /// One shower's correlated (T, alpha) drawn from z1, z2 ~ N(0, 1).
  LongitudinalProfile longitudinal_profile(double e_inc_mev, double z1, double z2) const;
  /// The radial profile at depth t (X0) of a shower with profile `shower`.
  RadialProfile radial_profile(double e_inc_mev, const LongitudinalProfile& shower, double t_x0) const;
  /// Expected fraction of E_vis inside the voxel grid for a shower with `shower`'s
  /// profile (longitudinal × lateral containment); E_tot/E_inc averages
  /// response_scale × this over showers.
  double containment(double e_inc_mev, const LongitudinalProfile& shower) const;
  /// Depth boundaries of the layers in X0 (num_layers + 1 values).
  const std::vector<double>& layer_boundaries_x0() const { return layer_boundaries_x0_; }

 private:
  /// One ring (a layer's radial bin): its voxels are first_voxel + alpha·alpha_stride.
  struct Ring {
    int layer = 0;
    int alpha_bins = 1;
    std::int64_t first_voxel = 0;
    std::int64_t alpha_stride = 1;
    double r_inner = 0.0, r_outer = 0.0;  ///< R_M
  };

  qvae::geometry::Geometry geometry_;
  GFlashParameters parameters_;
  std::vector<double> layer_boundaries_x0_;
  std::vector<double> layer_centres_x0_;
  std::vector<Ring> rings_;
  int max_layers_ = 0;
  double spot_shape_ = 1.0;
};

/// Simulates events [first_event, first_event + count): incident energies from
/// `spectrum` into energies[count] and showers into showers[count × voxels]
/// (float32, as stored).  The one loop behind `qvae simulate` and `qvae bench simulate`.
void simulate_events(const GFlashSimulator& simulator, const EnergySpectrum& spectrum, std::uint64_t seed,
                     std::int64_t first_event, std::int64_t count, double* energies, float* showers);

}  // namespace qvae::sim
