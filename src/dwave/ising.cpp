#include "qvae/dwave/ising.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "qvae/core/error.hpp"
#include "qvae/core/log.hpp"

namespace qvae::dwave {

IsingModel rbm_to_ising(const rbm::BoltzmannMachine& machine, double beta) {
  if (!(beta > 0) || !std::isfinite(beta))
    throw core::UsageError(core::describe("beta must be a finite number > 0 (got " + std::to_string(beta) + ")",
                                          "qvae::dwave::rbm_to_ising"));
  // J = −W/4, h = −b/2 − ¼ΣW, C = −Σb/2 − ΣW/4, all divided by β (docs/dwave.md, "What is sent to the QPU").
  const std::size_t n = static_cast<std::size_t>(machine.num_nodes());
  const std::size_t e_count = static_cast<std::size_t>(machine.num_couplers());
  IsingModel model;
  model.h.assign(n, 0.0);
  model.J.assign(e_count, 0.0);
  double offset = 0;
  for (std::size_t i = 0; i < n; ++i) {
    model.h[i] = -machine.biases()[i] / 2;
    offset -= machine.biases()[i] / 2;
  }
  for (std::size_t e = 0; e < e_count; ++e) {
    const double w = machine.weights()[e];
    const auto& [a, b] = machine.couplers()[e];
    model.J[e] = -w / 4;
    model.h[static_cast<std::size_t>(a)] -= w / 4;
    model.h[static_cast<std::size_t>(b)] -= w / 4;
    offset -= w / 4;
  }
  for (double& v : model.h) v /= beta;
  for (double& v : model.J) v /= beta;
  model.offset = offset / beta;
  return model;
}

double ising_energy(const rbm::BoltzmannMachine& machine, const IsingModel& model, const std::int8_t* spins) {
  double energy = 0;
  for (std::size_t i = 0; i < model.h.size(); ++i) energy += model.h[i] * spins[i];
  for (std::size_t e = 0; e < model.J.size(); ++e) {
    const auto& [a, b] = machine.couplers()[e];
    energy += model.J[e] * spins[a] * spins[b];
  }
  return energy;
}

double ising_energy_of_bits(const rbm::BoltzmannMachine& machine, const IsingModel& model, const std::uint8_t* bits) {
  double energy = 0;
  for (std::size_t i = 0; i < model.h.size(); ++i) energy += bits[i] ? model.h[i] : -model.h[i];
  for (std::size_t e = 0; e < model.J.size(); ++e) {
    const auto& [a, b] = machine.couplers()[e];
    energy += (bits[a] == bits[b]) ? model.J[e] : -model.J[e];
  }
  return energy;
}

ClipCount clip_to_ranges(IsingModel& model, const Ranges& ranges) {
  ClipCount count;
  for (double& v : model.h) {
    const double clipped = std::clamp(v, ranges.h_min, ranges.h_max);
    count.h += clipped != v;
    v = clipped;
  }
  for (double& v : model.J) {
    const double clipped = std::clamp(v, ranges.j_min, ranges.j_max);
    count.J += clipped != v;
    v = clipped;
  }
  return count;
}

IsingModel program_ising(const rbm::BoltzmannMachine& machine, double beta, const Ranges& ranges) {
  IsingModel model = rbm_to_ising(machine, beta);
  const ClipCount clipped = clip_to_ranges(model, ranges);
  if (clipped.h > 0 || clipped.J > 0)
    core::log::warn_root("dwave: clipped ", clipped.h, " of ", model.h.size(), " h to h_range [", ranges.h_min, ", ",
                         ranges.h_max, "] and ", clipped.J, " of ", model.J.size(), " J to j_range [", ranges.j_min,
                         ", ", ranges.j_max, "] (beta ", beta,
                         "); the device then samples another model: raise --beta or shrink the weights");
  return model;
}

void ising_to_rbm_parameters(const rbm::BoltzmannMachine& machine, const IsingModel& model, double* biases,
                             double* weights) {
  // E_I(2z−1) = Σ 2h z − Σ h + Σ J (4 z_a z_b − 2 z_a − 2 z_b + 1)
  //           = −(Σ b z + Σ W z z) + const with b = −2h + 2ΣJ, W = −4J.
  for (std::size_t i = 0; i < model.h.size(); ++i) biases[i] = -2 * model.h[i];
  for (std::size_t e = 0; e < model.J.size(); ++e) {
    const auto& [a, b] = machine.couplers()[e];
    weights[e] = -4 * model.J[e];
    biases[a] += 2 * model.J[e];
    biases[b] += 2 * model.J[e];
  }
}

namespace {
// dwave-system h_to_fluxbias defaults (docs/dwave.md, "What is sent to the QPU").
constexpr double kPlanck = 6.62607e-34;           // J/Hz
constexpr double kFluxQuantum = 2.067833848e-15;  // Wb
constexpr double kB_GHz = 1.391;
constexpr double kMafm_pH = 1.647;

double flux_per_unit_h() {
  const double ip_ampere = std::sqrt(kB_GHz * 1e9 * kPlanck / (2 * kMafm_pH * 1e-12));
  const double ip_ghz_per_phi0 = ip_ampere * kFluxQuantum / kPlanck / 1e9;  // ≈ 1650.75
  return -(kB_GHz / 2) / ip_ghz_per_phi0;                                   // ≈ −4.2132e-4
}
}  // namespace

double h_to_flux_bias(double h) { return flux_per_unit_h() * h; }
double flux_bias_to_h(double flux) { return flux / flux_per_unit_h(); }

std::vector<double> condition_flux_biases(const rbm::BoltzmannMachine& machine, std::int64_t num_qubits,
                                          const std::uint8_t* bits, double threshold) {
  const auto& qubits = machine.graph().qubits;
  if (qubits.empty())
    throw core::InputError(core::describe("the model has no hardware qubits", "flux-bias conditioning",
                                          "create it on a hardware graph (qvae rbm init)"));
  std::vector<double> flux(static_cast<std::size_t>(num_qubits), 0.0);
  const std::vector<std::int64_t>& p0 = machine.partition_nodes(0);
  for (std::size_t k = 0; k < p0.size(); ++k) {
    const std::int64_t qubit = qubits[static_cast<std::size_t>(p0[k])];
    if (qubit < 0 || qubit >= num_qubits)
      throw core::InputError(core::describe(
          "qubit " + std::to_string(qubit) + " is outside the solver's " + std::to_string(num_qubits) + " qubits",
          "flux-bias conditioning", "use a model made for this solver"));
    // gen_fb: h_eq = (2·bit − 1)·(−1)·thrsh, so bit 1 pins s = +1.
    const double h_equivalent = -(2.0 * bits[k] - 1.0) * threshold;
    flux[static_cast<std::size_t>(qubit)] = h_to_flux_bias(h_equivalent);
  }
  return flux;
}

}  // namespace qvae::dwave
