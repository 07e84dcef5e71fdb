// The Ising form of a Boltzmann machine and what is sent to a QPU
// (docs/rbm.md, docs/dwave.md).
//
// With s = 2z − 1 (0 ↦ −1, 1 ↦ +1):
//
//   J_e = −W_e/4,  h_i = −b_i/2 − ¼ Σ_{j∈N(i)} W_ij,  C = −Σ b_i/2 − Σ_e W_e/4,
//   E_RBM(z) = E_I(s) + C,  E_I(s) = Σ h_i s_i + Σ_e J_e s_i s_j  (D-Wave sign convention).
//
// The QPU samples ≈ exp(−β_eff·E_prog), so programming E_prog = E_I/β gives
// the RBM at temperature 1 when β = β_eff.  Partition 0 is
// conditioned by flux biases that pin its qubits.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "qvae/rbm/boltzmann_machine.hpp"

namespace qvae::dwave {

/// An Ising problem over the nodes and couplers of a machine: h per node
/// (node order), J per coupler (machine.couplers() order), and the constant
/// with E_RBM(z) = scale·(E_I(s) + offset) — scale 1 for the unscaled form.
struct IsingModel {
  std::vector<double> h;
  std::vector<double> J;
  double offset = 0;
};

/// The Ising form of `machine` divided by `beta` (> 0): h/β, J/β, C/β.
IsingModel rbm_to_ising(const rbm::BoltzmannMachine& machine, double beta = 1.0);

/// E_I(s) = Σ h s + Σ J s s for spins ±1 in node order (offset not added).
double ising_energy(const rbm::BoltzmannMachine& machine, const IsingModel& model, const std::int8_t* spins);
/// The same for a 0/1 state (s = 2z − 1).
double ising_energy_of_bits(const rbm::BoltzmannMachine& machine, const IsingModel& model, const std::uint8_t* bits);

/// The solver's allowed ranges (properties h_range, j_range); infinite for offline samplers.
struct Ranges {
  double h_min = -std::numeric_limits<double>::infinity();
  double h_max = std::numeric_limits<double>::infinity();
  double j_min = -std::numeric_limits<double>::infinity();
  double j_max = std::numeric_limits<double>::infinity();
};

struct ClipCount {
  std::int64_t h = 0;
  std::int64_t J = 0;
};
/// Clamps h and J into `ranges` in place and says how many terms moved.
ClipCount clip_to_ranges(IsingModel& model, const Ranges& ranges);

/// What a sampler is programmed with: rbm_to_ising(machine, beta), clipped to
/// `ranges`.  Clipped terms are reported in one warning (rank 0) naming how
/// many h and J were clipped, the ranges and what to do.
IsingModel program_ising(const rbm::BoltzmannMachine& machine, double beta, const Ranges& ranges);

/// Ising problem back to 0/1 form: b_i = −2h_i + 2Σ_j J_ij, W_e = −4J_e, so that
/// Σ b z + Σ W z z = −E_I(s) + const.  (A machine with these parameters
/// sampled at β draws exp(−β·E_I).)
void ising_to_rbm_parameters(const rbm::BoltzmannMachine& machine, const IsingModel& model, double* biases,
                             double* weights);

/// dwave-system h_to_fluxbias with its defaults (B = 1.391 GHz, M_AFM = 1.647 pH):
/// Φ = −(B/2)/I_p · h ≈ −4.2132×10⁻⁴ Φ₀ per unit h.
double h_to_flux_bias(double h);
/// The inverse: the h a flux bias Φ acts as.
double flux_bias_to_h(double flux);

/// Flux biases (length num_qubits, indexed by qubit) pinning the qubits of
/// partition 0 to `bits` (ascending node order of partition 0): bit 1 ↦
/// h_eq = −threshold (s = +1), bit 0 ↦ +threshold (s = −1).
/// The machine must carry hardware qubits below num_qubits.
std::vector<double> condition_flux_biases(const rbm::BoltzmannMachine& machine, std::int64_t num_qubits,
                                          const std::uint8_t* bits, double threshold);

}  // namespace qvae::dwave
