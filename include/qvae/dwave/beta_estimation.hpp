// Effective inverse temperature β_eff of a sampler of the programmed Ising
// problem (docs/dwave.md).  Energies compared are Ising energies E_I with
// unscaled h, J (they differ from E_RBM by a constant), weighted by
// num_occurrences.
//
//  ml               A. forward moment matching: program E_I once; Newton steps
//                   β ← β + (⟨E⟩_β − ⟨E⟩_Q)/Var_β(E) on classical Gibbs at β.
//  linear           B. reverse: program E_I/β; β ← β − lr(⟨E⟩_Q − ⟨E⟩_R) with the
//                   Newton step lr = β/Var(E_Q).
//  multiplicative   C. β ← β·(⟨E⟩_Q/⟨E⟩_R)^δ, δ = |⟨E⟩_Q|/Var(E_Q) (repo rule);
//                   a linear step where the ratio is not positive.
//  variance         D. β ← β − (Var_Q − Var_R)·β/κ₃(E_R) (Newton on the variance;
//                   a 10% step in the usual direction where κ₃ is not significant).
//  pseudolikelihood E. maximum pseudo-likelihood fit β̂ of the QPU samples on the
//                   programmed problem E_I/β; β ← β̂ iterated to a fixed point.
//  stein            the QPU once at scale 1 (≥ 100 reads); β̂ = argmin_β KDSD(samples, p_β)
//                   by a grid centred on the pseudo-likelihood β of the same reads and
//                   Brent's method in log β (qvae/dwave/stein.hpp); no classical
//                   sampling at all; delta-method uncertainty.  A fit that cannot give
//                   β (edge of the range, unresolved or flat) is a core::RuntimeError.
//
// The loop stops when |⟨E⟩_Q − ⟨E⟩_R| < c·2σ_Qσ_R/(√N(σ_Q + σ_R)) (for
// variance and pseudolikelihood the analogous rule on their own statistic) or
// after max_iterations.  Collective: QPU requests go through sample_collective,
// classical chains are spread over ranks; results do not depend on the rank count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qvae/dwave/samplers.hpp"
#include "qvae/dwave/settings.hpp"

namespace qvae::dwave {

/// Weighted moments of a sample of energies.
struct EnergyMoments {
  double weight = 0;  ///< Σ w (number of reads)
  double mean = 0;
  double variance = 0;  ///< central second moment
  double third = 0;     ///< central third moment κ₃
  double fourth = 0;    ///< central fourth moment
  double std() const;
};
/// Two-pass weighted moments, summed in the given order.
EnergyMoments weighted_moments(const std::vector<double>& values, const std::vector<double>& weights);

struct BetaIteration {
  int iteration = 0;
  double beta = 0;  ///< β used in this iteration (programming scale or classical β)
  double qpu_mean = 0, qpu_std = 0;
  double rbm_mean = 0, rbm_std = 0;
  double statistic = 0;  ///< the matched difference (or β̂ for pseudolikelihood)
  double threshold = 0;  ///< the stopping threshold it was compared with
  double next_beta = 0;
  std::string note;  ///< e.g. "converged", "linear step: ratio not positive"
};

struct BetaEstimate {
  BetaMethod method = BetaMethod::multiplicative;
  double beta_eff = 0;
  double uncertainty = 0;  ///< one standard error (delta method / sandwich)
  bool converged = false;
  std::vector<BetaIteration> history;
};

/// Collective: estimates β_eff of `qpu` for `machine`.  Newton steps are
/// limited to [−β/2, +β] per iteration.
BetaEstimate estimate_beta(const rbm::BoltzmannMachine& machine, IsingSampler& qpu, const BetaSettings& settings,
                           const par::Communicator& comm);

/// Maximum pseudo-likelihood inverse temperature of weighted spin samples of
/// an Ising problem (dwave-system maximum_pseudolikelihood_temperature):
/// the root b of Σ_s w(s) Σ_i f_i σ(b f_i) = 0, f_i = 2 s_i (h_i + Σ J_ij s_j).
/// Returns +∞ when no f_i is positive (only local minima); `standard_error`
/// gets the sandwich estimate.
double pseudolikelihood_beta(const rbm::BoltzmannMachine& machine, const IsingModel& model,
                             const std::vector<SampleSet>& samples, double* standard_error = nullptr);

}  // namespace qvae::dwave
