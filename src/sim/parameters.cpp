// Parameters of the GFlash generator, their [sim] config keys, and the
// incident-energy spectrum.
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <string>

#include "qvae/core/config_binder.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/sim/gflash.hpp"

namespace qvae::sim {

namespace {

std::string format_real(double value) {
  std::ostringstream os;
  os << std::setprecision(15) << value;
  return os.str();
}

void require(bool ok, const std::string& what, const std::string& remedy) {
  if (!ok) throw core::UsageError(core::describe(what, "in the [sim] parameters", remedy));
}

/// The [sim] keys, each bound to its GFlashParameters member (whose default it takes).
const core::ConfigBinder<GFlashParameters>& sim_keys() {
  static const core::ConfigBinder<GFlashParameters> keys = [] {
    core::ConfigBinder<GFlashParameters> k;
    k.value("sim.x0_mm", "effective radiation length X0,eff of the W/Si medium, mm", &GFlashParameters::x0_mm)
        .value("sim.moliere_radius_mm", "effective Moliere radius R_M,eff, mm", &GFlashParameters::moliere_radius_mm)
        .value("sim.critical_energy_mev", "effective critical energy E_c,eff, MeV",
               &GFlashParameters::critical_energy_mev)
        .value("sim.z_eff", "effective atomic number Z_eff", &GFlashParameters::z_eff)
        .value("sim.sampling_frequency", "sampling frequency F_S = X0,eff/(d_W + d_Si)",
               &GFlashParameters::sampling_frequency)
        .value("sim.e_hat", "e-hat = 1/(1 + 0.007 (Z_active - Z_passive))", &GFlashParameters::e_hat)
        .value("sim.layer_thickness_x0",
               "readout layer thickness in X0,eff (ds2: 0.806); 0 = calorimeter_depth_x0 / number of layers",
               &GFlashParameters::layer_thickness_x0)
        .value("sim.calorimeter_depth_x0", "total depth in X0,eff used when layer_thickness_x0 = 0 (ds2: 45 x 0.806)",
               &GFlashParameters::calorimeter_depth_x0)
        .value("sim.response_scale", "mean visible energy (CaloChallenge scale) per deposited MeV",
               &GFlashParameters::response_scale)
        .value("sim.sampling_term", "stochastic term a of sigma/E = a/sqrt(E/GeV)", &GFlashParameters::sampling_term)
        .value("sim.constant_term", "constant term b of the energy resolution", &GFlashParameters::constant_term)
        .value("sim.spot_energy_mev",
               "mean visible energy of one spot (hit), MeV; below sampling_term^2 x 1000 MeV; sets the sparsity",
               &GFlashParameters::spot_energy_mev)
        .value("sim.dense_spot_count",
               "expected spots per voxel above which one moment-matched Gamma replaces spot counting",
               &GFlashParameters::dense_spot_count)
        .value("sim.readout_threshold_mev", "voxel energies below this are set to 0, MeV (CaloChallenge: 0.01515)",
               &GFlashParameters::readout_threshold_mev);
    return k;
  }();
  return keys;
}

}  // namespace

// --- EnergySpectrum ------------------------------------------------------------

double EnergySpectrum::draw(std::uint64_t seed, std::int64_t event) const {
  if (event < 0)
    throw core::UsageError(core::describe("negative event index " + std::to_string(event), "in EnergySpectrum::draw",
                                          "events count from 0"));
  core::Philox rng(seed, core::stream_id(kEnergyStreamDomain, static_cast<std::uint64_t>(event)));
  const double u = rng.uniform();
  if (kind == Kind::discrete) {
    if (values.empty())
      throw core::UsageError(
          core::describe("discrete energy spectrum with no values", "", "list at least one incident energy"));
    const auto n = static_cast<double>(values.size());
    const auto index = static_cast<std::size_t>(std::min(std::floor(u * n), n - 1.0));
    return values[index];
  }
  if (!(e_min > 0.0) || !(e_max >= e_min) || !std::isfinite(e_max))
    throw core::UsageError(core::describe(
        "log-uniform energy spectrum with bounds [" + format_real(e_min) + ", " + format_real(e_max) + "] MeV", "",
        "use 0 < e_min <= e_max"));
  // Log-uniform: ln E uniform in [ln e_min, ln e_max].
  const double log_min = std::log(e_min), log_max = std::log(e_max);
  return std::exp(log_min + u * (log_max - log_min));
}

EnergySpectrum EnergySpectrum::ds1_discrete() {
  EnergySpectrum spectrum;
  spectrum.kind = Kind::discrete;
  for (int power = 8; power <= 22; ++power) spectrum.values.push_back(std::ldexp(1.0, power));
  return spectrum;
}

// --- GFlashParameters ------------------------------------------------------------

double GFlashParameters::layer_thickness_for(int layers) const {
  if (layer_thickness_x0 > 0.0) return layer_thickness_x0;
  return calorimeter_depth_x0 / std::max(1, layers);
}

double GFlashParameters::spot_shape() const {
  // Compound Poisson: Var(E)/E = spot_energy (1 + 1/kappa) must equal a^2 · 1 GeV.
  const double variance_per_mev = sampling_term * sampling_term * 1000.0;
  return 1.0 / (variance_per_mev / spot_energy_mev - 1.0);
}

void GFlashParameters::validate() const {
  const auto positive = [](double v) { return std::isfinite(v) && v > 0.0; };
  require(positive(x0_mm), "sim.x0_mm = " + format_real(x0_mm) + " is not positive", "use X0,eff in mm (ds2: 4.219)");
  require(positive(moliere_radius_mm), "sim.moliere_radius_mm = " + format_real(moliere_radius_mm) + " is not positive",
          "use R_M,eff in mm (ds2: 9.48)");
  require(positive(critical_energy_mev) && critical_energy_mev < 1e3,
          "sim.critical_energy_mev = " + format_real(critical_energy_mev) + " is outside (0, 1000)",
          "use E_c,eff in MeV (ds2: 9.44)");
  require(positive(z_eff), "sim.z_eff = " + format_real(z_eff) + " is not positive", "ds2: 72.5");
  require(positive(sampling_frequency),
          "sim.sampling_frequency = " + format_real(sampling_frequency) + " is not positive", "ds2: 2.482");
  require(positive(e_hat), "sim.e_hat = " + format_real(e_hat) + " is not positive", "ds2: 0.704");
  require(std::isfinite(layer_thickness_x0) && layer_thickness_x0 >= 0.0,
          "sim.layer_thickness_x0 = " + format_real(layer_thickness_x0) + " is negative",
          "use 0 (auto) or a thickness in X0 (ds2: 0.806)");
  require(positive(calorimeter_depth_x0),
          "sim.calorimeter_depth_x0 = " + format_real(calorimeter_depth_x0) + " is not positive", "ds2: 36.27");
  require(positive(response_scale), "sim.response_scale = " + format_real(response_scale) + " is not positive",
          "use 1");
  require(positive(sampling_term), "sim.sampling_term = " + format_real(sampling_term) + " is not positive",
          "use about 0.11-0.2");
  require(std::isfinite(constant_term) && constant_term >= 0.0 && constant_term < 1.0,
          "sim.constant_term = " + format_real(constant_term) + " is outside [0, 1)", "use about 0.01");
  require(positive(spot_energy_mev) && spot_energy_mev < sampling_term * sampling_term * 1000.0,
          "sim.spot_energy_mev = " + format_real(spot_energy_mev) + " is not in (0, sampling_term^2 x 1000 MeV = " +
              format_real(sampling_term * sampling_term * 1000.0) + ")",
          "lower it or raise sim.sampling_term: spots carry the whole sampling variance");
  require(std::isfinite(dense_spot_count) && dense_spot_count >= 1.0,
          "sim.dense_spot_count = " + format_real(dense_spot_count) + " is below 1", "use about 6");
  require(std::isfinite(readout_threshold_mev) && readout_threshold_mev >= 0.0,
          "sim.readout_threshold_mev = " + format_real(readout_threshold_mev) + " is negative",
          "CaloChallenge ds2/ds3 use 0.01515");
}

void add_sim_keys(core::ConfigSchema& schema) { sim_keys().add_keys(schema); }

GFlashParameters parameters_from(const core::Config& config) {
  const GFlashParameters parameters = sim_keys().read(config);
  parameters.validate();
  return parameters;
}

}  // namespace qvae::sim
