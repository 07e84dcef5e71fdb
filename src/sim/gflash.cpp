// The GFlash shower generator.  See gflash.hpp for the model; the comments
// here say which part of it each formula implements.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "qvae/core/error.hpp"
#include "qvae/sim/gflash.hpp"

namespace qvae::sim {

namespace {

/// sigma = 1/(c1 + c2 ln y), capped at sigma_max; the cap also covers a
/// non-positive denominator (energies within a few E_c), as Geant4's min() would
/// for the positive branch.
double capped_sigma(double c1, double c2, double ln_y, double sigma_max) {
  const double denominator = c1 + c2 * ln_y;
  return denominator > 1.0 / sigma_max ? 1.0 / denominator : sigma_max;
}

}  // namespace

double RadialProfile::cdf(double r) const {
  // Radial profile: F(r) = p r^2/(r^2 + R_C^2) + (1 - p) r^2/(r^2 + R_T^2).
  const double r2 = r * r;
  return core_weight * r2 / (r2 + core_radius * core_radius) +
         (1.0 - core_weight) * r2 / (r2 + tail_radius * tail_radius);
}

GFlashSimulator::GFlashSimulator(geometry::Geometry geometry, GFlashParameters parameters)
    : geometry_(std::move(geometry)), parameters_(parameters) {
  parameters_.validate();
  const int layers = geometry_.num_layers();
  if (layers == 0 || geometry_.voxels() == 0)
    throw core::UsageError(core::describe("geometry '" + geometry_.name() + "' has no voxels", "in GFlashSimulator",
                                          "use a geometry with at least one radial bin"));
  // Layer i spans [i·d, (i+1)·d] X0 (t_k = 0.806 k for ds2).
  const double thickness = parameters_.layer_thickness_for(layers);
  layer_boundaries_x0_.resize(static_cast<std::size_t>(layers) + 1);
  layer_centres_x0_.resize(static_cast<std::size_t>(layers));
  for (int i = 0; i <= layers; ++i) layer_boundaries_x0_[static_cast<std::size_t>(i)] = thickness * i;
  for (int i = 0; i < layers; ++i) layer_centres_x0_[static_cast<std::size_t>(i)] = thickness * (i + 0.5);

  // Rings in (layer, r) order; radial edges in units of R_M,eff.
  for (int i = 0; i < layers; ++i) {
    const geometry::Layer& layer = geometry_.layers()[static_cast<std::size_t>(i)];
    for (int j = 0; j < layer.r_bins(); ++j) {
      Ring ring;
      ring.layer = i;
      ring.alpha_bins = layer.alpha_bins;
      ring.first_voxel = geometry_.index(i, 0, j);
      ring.alpha_stride = layer.alpha_bins > 1 ? geometry_.index(i, 1, j) - ring.first_voxel : 1;
      ring.r_inner = layer.r_edges[static_cast<std::size_t>(j)] / parameters_.moliere_radius_mm;
      ring.r_outer = layer.r_edges[static_cast<std::size_t>(j) + 1] / parameters_.moliere_radius_mm;
      rings_.push_back(ring);
    }
  }
  spot_shape_ = parameters_.spot_shape();
}

LongitudinalProfile GFlashSimulator::mean_longitudinal_profile(double e_inc_mev) const {
  return longitudinal_profile(e_inc_mev, 0.0, 0.0);
}

LongitudinalProfile GFlashSimulator::longitudinal_profile(double e_inc_mev, double z1, double z2) const {
  const GFlashParameters& p = parameters_;
  const double ln_y = std::log(e_inc_mev / p.critical_energy_mev);  // y = E/E_c,eff
  // Homogeneous means (Geant4 GFlash tuning), then the sampling shifts; log arguments >= 0.1 (Geant4 clamp).
  const double t_hom = ln_y + p.t_hom_offset;
  const double alpha_hom = p.alpha_hom_a1 + (p.alpha_hom_a2 + p.alpha_hom_a3 / p.z_eff) * ln_y;
  const double t_sam =
      std::max(p.log_argument_min, t_hom + p.t_sam_fs / p.sampling_frequency + p.t_sam_ehat * (1.0 - p.e_hat));
  const double alpha_sam = std::max(p.log_argument_min, alpha_hom + p.alpha_sam_fs / p.sampling_frequency);
  const double mean_ln_t = std::log(t_sam), mean_ln_alpha = std::log(alpha_sam);
  // Sampling-calorimeter widths and correlation, sigma <= 0.5.
  const double sigma_ln_t = capped_sigma(p.sigma_ln_t_c1, p.sigma_ln_t_c2, ln_y, p.sigma_max);
  const double sigma_ln_alpha = capped_sigma(p.sigma_ln_alpha_c1, p.sigma_ln_alpha_c2, ln_y, p.sigma_max);
  const double rho = std::clamp(p.rho_c1 + p.rho_c2 * ln_y, -1.0, 1.0);
  // Correlated draw: common part z1, opposite-sign part z2.
  const double common = std::sqrt(0.5 * (1.0 + rho)) * z1, opposite = std::sqrt(0.5 * (1.0 - rho)) * z2;
  LongitudinalProfile profile;
  profile.t_max = std::max(p.t_min, std::exp(mean_ln_t + sigma_ln_t * (common + opposite)));
  profile.alpha = std::max(p.alpha_min, std::exp(mean_ln_alpha + sigma_ln_alpha * (common - opposite)));
  profile.beta = (profile.alpha - 1.0) / profile.t_max;
  profile.mean_ln_alpha = mean_ln_alpha;
  return profile;
}

RadialProfile GFlashSimulator::radial_profile(double e_inc_mev, const LongitudinalProfile& shower, double t_x0) const {
  const GFlashParameters& p = parameters_;
  // tau = t/T rescaled as Geant4's ComputeTau: (alpha-1)/alpha · e^<ln a>/(e^<ln a> - 1).
  const double mean_alpha = std::max(p.alpha_min, std::exp(shower.mean_ln_alpha));
  const double tau = t_x0 / shower.t_max * (shower.alpha - 1.0) / shower.alpha * mean_alpha / (mean_alpha - 1.0);
  const double ln_e_gev = std::log(e_inc_mev / 1000.0);
  const double one_minus_e_hat = 1.0 - p.e_hat;
  const double e_minus_tau_over_fs = std::exp(-tau) / p.sampling_frequency;
  // Core radius (homogeneous tuning + sampling correction).
  const double z1 = p.rc_z1_a + p.rc_z1_b * ln_e_gev;
  const double z2 = p.rc_z2_a + p.rc_z2_b * p.z_eff;
  const double core = z1 + z2 * tau + p.rc_sam_ehat * one_minus_e_hat + p.rc_sam_fs * e_minus_tau_over_fs;
  // Tail radius.
  const double k1 = p.rt_k1_a + p.rt_k1_b * p.z_eff;
  const double k4 = p.rt_k4_a + p.rt_k4_b * ln_e_gev;
  const double tail = k1 * (std::exp(p.rt_k3 * (tau - p.rt_k2)) + std::exp(k4 * (tau - p.rt_k2))) +
                      p.rt_sam_ehat * one_minus_e_hat + p.rt_sam_fs * e_minus_tau_over_fs;
  // Core weight.
  const double p1 = p.p_p1_a + p.p_p1_b * p.z_eff;
  const double p2 = p.p_p2_a + p.p_p2_b * p.z_eff;
  const double p3 = p.p_p3_a + p.p_p3_b * ln_e_gev;
  const double x = (p2 - tau) / p3;
  const double weight =
      p1 * std::exp(x - std::exp(x)) +
      one_minus_e_hat * (p.p_sam_ehat + p.p_sam_fs / p.sampling_frequency * std::exp(-(tau - 1.0) * (tau - 1.0)));
  RadialProfile profile;
  profile.core_radius = std::max(p.radius_min, core);
  profile.tail_radius = std::max(p.radius_min, tail);
  profile.core_weight = std::clamp(weight, 0.0, 1.0);  // a probability in Geant4's GenerateRadius
  return profile;
}

double GFlashSimulator::containment(double e_inc_mev, const LongitudinalProfile& shower) const {
  double contained = 0.0, p_lower = 0.0;
  std::size_t ring = 0;
  for (int i = 0; i < geometry_.num_layers(); ++i) {
    const auto layer = static_cast<std::size_t>(i);
    const double p_upper = regularized_lower_gamma(shower.alpha, shower.beta * layer_boundaries_x0_[layer + 1]);
    const RadialProfile radial = radial_profile(e_inc_mev, shower, layer_centres_x0_[layer]);
    double r_outer = 0.0;
    for (; ring < rings_.size() && rings_[ring].layer == i; ++ring) r_outer = rings_[ring].r_outer;
    contained += (p_upper - p_lower) * radial.cdf(r_outer);
    p_lower = p_upper;
  }
  return contained;
}

void GFlashSimulator::simulate(std::uint64_t seed, std::int64_t event, double e_inc_mev, double* out) const {
  if (event < 0)
    throw core::UsageError(core::describe("negative event index " + std::to_string(event),
                                          "in GFlashSimulator::simulate", "events count from 0"));
  if (!std::isfinite(e_inc_mev) || !(e_inc_mev > 0.0))
    throw core::UsageError(core::describe("incident energy " + std::to_string(e_inc_mev) + " MeV",
                                          "in GFlashSimulator::simulate", "use a finite energy > 0"));
  const GFlashParameters& p = parameters_;
  std::fill(out, out + geometry_.voxels(), 0.0);
  core::Philox rng(seed, core::stream_id(kShowerStreamDomain, static_cast<std::uint64_t>(event)));

  // Shower-wide draws: correlated (T, alpha) and the constant term.
  const double z1 = rng.normal(), z2 = rng.normal(), z_constant = rng.normal();
  const LongitudinalProfile shower = longitudinal_profile(e_inc_mev, z1, z2);
  const double visible_energy = e_inc_mev * p.response_scale * std::max(0.0, 1.0 + p.constant_term * z_constant);

  // Spots: count ~ Poisson(E_voxel/spot_energy), energies Gamma(kappa, spot_energy/kappa).
  // Their sum has variance spot_energy (1 + 1/kappa) E = a^2 · 1 GeV · E: the sampling term.
  const double kappa = spot_shape_;
  const double spot_scale = p.spot_energy_mev / kappa;
  // Dense voxels: one Gamma with the compound sum's mean and variance:
  // shape = lambda kappa/(1 + kappa), scale = spot_energy (1 + 1/kappa).
  const double dense_shape_per_spot = kappa / (1.0 + kappa);
  const double dense_scale = p.spot_energy_mev * (1.0 + 1.0 / kappa);
  const double spots_per_mev = 1.0 / p.spot_energy_mev;

  double p_lower = 0.0;
  std::size_t ring_index = 0;
  for (int i = 0; i < geometry_.num_layers(); ++i) {
    const auto layer = static_cast<std::size_t>(i);
    // Layer energy: E_vis [P(alpha, beta t_{k+1}) - P(alpha, beta t_k)].
    const double p_upper = regularized_lower_gamma(shower.alpha, shower.beta * layer_boundaries_x0_[layer + 1]);
    const double layer_energy = visible_energy * (p_upper - p_lower);
    p_lower = p_upper;
    // Radial fractions F(r_{j+1}) - F(r_j) at the layer centre's tau.
    const RadialProfile radial = radial_profile(e_inc_mev, shower, layer_centres_x0_[layer]);
    double cdf_inner = -1.0;
    for (; ring_index < rings_.size() && rings_[ring_index].layer == i; ++ring_index) {
      const Ring& ring = rings_[ring_index];
      if (cdf_inner < 0.0) cdf_inner = radial.cdf(ring.r_inner);
      const double cdf_outer = radial.cdf(ring.r_outer);
      const double ring_fraction = std::max(0.0, cdf_outer - cdf_inner);
      cdf_inner = cdf_outer;
      // The angle is uniform (f(phi) = 1/2pi): every alpha bin expects the same.
      const double spots_per_voxel = layer_energy * ring_fraction / ring.alpha_bins * spots_per_mev;
      double* const first = out + ring.first_voxel;
      if (spots_per_voxel >= p.dense_spot_count) {
        for (int a = 0; a < ring.alpha_bins; ++a)
          first[a * ring.alpha_stride] = dense_scale * gamma_variate(rng, spots_per_voxel * dense_shape_per_spot);
        continue;
      }
      // Sparse ring: Poisson(n_alpha lambda) spots placed uniformly in alpha is the same
      // law as independent Poisson(lambda) per voxel, for one draw per ring.
      const std::int64_t spots = poisson_variate(rng, spots_per_voxel * ring.alpha_bins);
      if (spots == 0) continue;
      for (std::int64_t s = 0; s < spots; ++s) {
        const auto a = static_cast<std::int64_t>(
            (static_cast<std::uint64_t>(rng.next_u32()) * static_cast<std::uint64_t>(ring.alpha_bins)) >> 32);
        first[a * ring.alpha_stride] += 1.0;  // count spots in place
      }
      for (int a = 0; a < ring.alpha_bins; ++a) {
        double& voxel = first[a * ring.alpha_stride];
        if (voxel > 0.0) voxel = spot_scale * gamma_variate(rng, voxel * kappa);  // sum of n Gamma(kappa)
      }
    }
  }
  // Readout threshold: below it, exactly 0.
  const std::int64_t voxels = geometry_.voxels();
  for (std::int64_t v = 0; v < voxels; ++v)
    if (out[v] < p.readout_threshold_mev) out[v] = 0.0;
}

void simulate_events(const GFlashSimulator& simulator, const EnergySpectrum& spectrum, std::uint64_t seed,
                     std::int64_t first_event, std::int64_t count, double* energies, float* showers) {
  const std::int64_t voxels = simulator.geometry().voxels();
  std::vector<double> shower(static_cast<std::size_t>(voxels));
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t event = first_event + i;
    energies[i] = spectrum.draw(seed, event);
    simulator.simulate(seed, event, energies[i], shower.data());
    std::copy(shower.begin(), shower.end(), showers + i * voxels);
  }
}

}  // namespace qvae::sim
