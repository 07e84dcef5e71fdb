// Kernel discrete Stein discrepancy (KDSD; Yang, Liu, Rao & Neville, ICML 2018,
// "Goodness-of-fit testing for discrete distributions via Stein discrepancy")
// between binary samples x ~ q and a Boltzmann machine at inverse temperature β,
// p_β(z) ∝ exp(−β·E(z)) (β multiplies biases and couplings alike).
//
// The difference Stein operator uses the cyclic flip ¬_i of one bit, so it
// needs only ratios p(¬_i x)/p(x) = exp(−β ΔE_i(x)) — no partition function:
//
//   s_i(x)   = 1 − exp(−β ΔE_i(x)),          ΔE_i(x) = E(¬_i x) − E(x) = (2x_i − 1)(b_i + Σ_j W_ij x_j),
//   k(x, y)  = exp(−Hamming(x, y)/N),
//   κ(x, y)  = Σ_i [ s_i(x) s_i(y) k − s_i(x) Δ*_{y,i} k − s_i(y) Δ*_{x,i} k + Δ*_{x,i} Δ*_{y,i} k ],
//              Δ*_{x,i} k = k(x, y) − k(¬_i x, y),
//
// and KDSD = E_{x,y~q} κ(x, y) ≥ 0, zero iff q = p_β.  For this kernel the
// flipped kernels are k·e^{∓1/N} (bit i equal / different), so κ of a pair costs
// one popcount Hamming distance and three length-N dot products; all N energy
// differences of a sample cost O(edges) through its local fields.
//
// Samples may carry integer weights (num_occurrences): a row of weight w stands
// for w identical samples and every statistic equals the one of the expanded
// set.  Estimates, all collective over the communicator given at construction:
//
//   statistic  the U-statistic Σ_{i≠j} κ(x_i, x_j) / (W(W−1)) over the W samples
//              (may be slightly negative when q = p_β);
//   std_error  √Var of the U-statistic, Var = [4(W−2)ζ₁ + 2ζ₂]/(W(W−1)) (Hoeffding),
//              ζ₂ = Var κ(X, Y), ζ₁ = Var_X E_Y κ(X, Y) from the row means with their
//              own sampling noise removed;
//   p_value    wild bootstrap of the degenerate U-statistic (the paper's weighted
//              bootstrap with Rademacher weights ε_i = ±1 per sample):
//              S* = Σ_{i≠j} ε_i ε_j κ(x_i, x_j)/(W(W−1)) — the U-statistic's own
//              normalisation —, p = (1 + #{S* ≥ U})/(1 + B).
//              Replicate r draws from Philox (seed, (kSteinBootstrapDomain, r)).
//
// Parallel pattern: rows of the pair matrix are split into fixed tiles of 16
// rows (work items), ranks take contiguous runs of tiles, and every tile's sums
// are gathered and added in tile order — so any rank count gives bit-identical
// results (on one CPU type; the AVX2 and portable kernels round differently).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "qvae/dwave/beta_estimation.hpp"
#include "qvae/dwave/samplers.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/rbm/boltzmann_machine.hpp"

namespace qvae::dwave {

/// Philox stream domain of the KDSD bootstrap (core::stream_id).
inline constexpr std::uint32_t kSteinBootstrapDomain = 0xD303;

/// A KDSD goodness-of-fit test of samples against p_β.
struct KdsdTest {
  double beta = 0;
  double statistic = 0;  ///< U-statistic estimate of KDSD (+∞ when some p(¬x)/p(x) > 1e12)
  double std_error = 0;  ///< its standard error
  double p_value = std::numeric_limits<double>::quiet_NaN();  ///< bootstrap p-value; NaN without bootstrap
  std::int64_t samples = 0;                                   ///< W = Σ weights
  std::int64_t bootstrap = 0;                                 ///< B
};

/// The samples of one KDSD computation with everything that does not depend
/// on β precomputed (bit-packed states, single-flip energy differences).
class SteinDiscrepancy {
 public:
  /// `samples` holds ALL samples on every rank (same rows, same order; node
  /// order; weights = occurrences, ≥ 0, summing to ≥ 2).  States other than
  /// 0/1, a width other than the machine's nodes, or ranks holding different
  /// samples are a core::InputError.  The machine is read here only.
  SteinDiscrepancy(const rbm::BoltzmannMachine& machine, const SampleSet& samples, const par::Communicator& comm);

  std::int64_t rows() const { return rows_; }
  std::int64_t units() const { return units_; }
  /// W: the number of samples the weighted rows stand for.
  std::int64_t sample_count() const { return sample_count_; }

  /// Collective: the U-statistic at β from each unordered pair once (what a
  /// search over β needs).  +∞ when some ratio p(¬_i x)/p(x) = exp(−βΔE) exceeds
  /// 1e12 — itself evidence against p_β, which gives such a sample with
  /// probability below rows·N·1e-12 — and would drown the sums in rounding.
  double statistic(double beta) const;

  /// Told (tiles done, tiles) of this rank's share as the pair sums advance.
  using TileProgress = std::function<void(std::int64_t, std::int64_t)>;

  /// Collective: statistic, standard error and — with bootstrap > 0 — the
  /// wild-bootstrap p-value at β.
  KdsdTest test(double beta, std::int64_t bootstrap, std::uint64_t seed, const TileProgress& on_progress = {}) const;

  /// Collective: the U-statistic from all ordered pairs and the first-order
  /// projection of every row, h1(x_a) = Σ_{j ≠ an item of a} κ(x_a, x_j)/(W − 1)
  /// (their weighted mean is the statistic); used for uncertainties.
  struct Projections {
    double statistic = 0;
    std::vector<double> row_means;
  };
  Projections projections(double beta) const;

  const std::vector<double>& weights() const { return weights_; }

 private:
  struct BetaTerms;
  struct FullPass;
  BetaTerms beta_terms(double beta) const;
  FullPass full_pass(double beta, std::int64_t bootstrap, std::uint64_t seed, const TileProgress& on_progress) const;

  par::Communicator comm_;
  std::int64_t rows_ = 0, units_ = 0, padded_rows_ = 0, words_ = 0, sample_count_ = 0;
  std::vector<double> weights_;             ///< per padded row (0 for padding)
  std::vector<std::uint64_t> bits_;         ///< padded rows × words_, bit i of row a = x_ai
  std::vector<double> flip_energy_;         ///< rows × units: ΔE_i(x_a)
  std::vector<double> state_panels_;        ///< x_ai as 0/1 in panel layout (see stein.cpp)
  std::vector<double> kernel_of_distance_;  ///< exp(−d/N), d = 0..N
};

/// Collective: one KDSD test of `samples` against `machine` at β (convenience).
KdsdTest kdsd_test(const rbm::BoltzmannMachine& machine, const SampleSet& samples, double beta, std::int64_t bootstrap,
                   std::uint64_t seed, const par::Communicator& comm);

/// Collective: β_eff = argmin_β KDSD(samples, p_β) without sampling the model.
/// A geometric grid of 9 points over [β₀/8, 8β₀] (β₀ = settings.beta_initial;
/// extended while the minimum sits on its edge, down to settings.beta_min and
/// up to 1e4) brackets the minimum; Brent's method in log β refines it until
/// the bracket is below 0.1% of β or settings.max_iterations steps were taken.
/// uncertainty: delta method, √(4 Var(ĝ)/W) / D''(β̂) with D the KDSD, ĝ the
/// row projections of D' (finite differences at β̂(1 ± 1%)).  One history entry
/// per KDSD evaluation: beta, statistic = KDSD(beta), threshold = bracket width
/// in log β after the step, next_beta = the β evaluated next.  The fit is marked
/// not converged (with a warning and an infinite uncertainty) when the KDSD at
/// β̂ is significantly negative, its two summation orders disagree, or it is not
/// convex and finite around β̂: typically a few samples with very large
/// p(¬x)/p(x) then dominate (the difference score is heavy-tailed at low
/// temperature), and β̂ is unreliable.
BetaEstimate fit_stein_beta(const SteinDiscrepancy& discrepancy, const BetaSettings& settings);

}  // namespace qvae::dwave
