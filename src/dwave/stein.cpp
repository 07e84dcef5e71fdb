// Kernel discrete Stein discrepancy: the statistic, its variance and the
// wild bootstrap (stein.hpp); the pair sums run in stein_kernels.cpp.
//
// Per pair (a, b) with Hamming distance d and α = 1 − e^{−1/N}, γ = 1 − e^{1/N}
// (Δ*k / k for an equal / a different bit), λ = γ − α, σ = 2x − 1:
//
//   κ_ab = e^{−d/N} · ( H_ab − α(S_a + S_b) − λ(P_a + P_b) + 2(α(N − d) + γd) ),
//   H_ab = Σ_i s_ai s_bi + λ s_ai σ_ai x_bi + λ x_ai s_bi σ_bi,
//   S_a = Σ_i s_ai,  P_a = Σ_i s_ai x_ai,
//
// so the O(n²N) part is one fused dot product per pair (stein_kernels.hpp);
// the per-tile sums are added in tile order on every rank.
#include "qvae/dwave/stein.hpp"

#include "stein_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <string>

#include "qvae/core/error.hpp"
#include "qvae/core/fnv_hash.hpp"
#include "qvae/core/log.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/par/partition.hpp"

namespace qvae::dwave {
namespace {

using namespace stein_kernels;  // the tile kernels and their layouts

/// A sample whose single flip is this much more probable than itself makes the
/// KDSD +∞: under p_β that happens with probability below rows·N/1e12 (Markov:
/// E_p[p(¬x)/p(x)] = 1), and larger ratios would drown the sums in rounding.
constexpr double kLargestRatio = 1e12;

}  // namespace

// --- precomputation ---------------------------------------------------------------------------

struct SteinDiscrepancy::BetaTerms {
  std::vector<double> s, t;           ///< panel layout
  std::vector<double> sum_s, sum_sx;  ///< per padded row
  double alpha = 0, gamma = 0, lambda = 0;
  bool overflow = false;
};

struct SteinDiscrepancy::FullPass {
  double statistic = 0;           ///< U
  double squares = 0;             ///< mean of κ² over ordered pairs of distinct samples
  std::vector<double> row_sums;   ///< per row, Σ_{j ≠ an item of a} κ
  std::vector<double> bootstrap;  ///< S* per replicate
  bool overflow = false;
};

SteinDiscrepancy::SteinDiscrepancy(const rbm::BoltzmannMachine& machine, const SampleSet& samples,
                                   const par::Communicator& comm)
    : comm_(comm), rows_(samples.rows), units_(machine.num_nodes()) {
  const std::string where = "kernel Stein discrepancy samples";
  // Checks run on every rank before the one collective below, so a rank whose
  // samples are bad cannot leave the others waiting in it.
  std::exception_ptr invalid;
  try {
    if (samples.units != units_)
      throw core::InputError(core::describe("samples of " + std::to_string(samples.units) + " units for a machine of " +
                                                std::to_string(units_) + " nodes",
                                            where, "test samples of this machine (node order)"));
    if (rows_ < 0 || samples.states.size() != static_cast<std::size_t>(rows_ * units_) ||
        (!samples.occurrences.empty() && samples.occurrences.size() != static_cast<std::size_t>(rows_)))
      throw core::InputError(core::describe("sample set sizes do not match its rows", where));
    for (std::size_t i = 0; i < samples.states.size(); ++i)
      if (samples.states[i] > 1)
        throw core::InputError(core::describe("sample " + std::to_string(i / static_cast<std::size_t>(units_)) +
                                                  " holds the value " + std::to_string(int{samples.states[i]}),
                                              where, "unit states are 0 or 1"));
    for (std::int64_t a = 0; a < rows_; ++a) {
      const std::int64_t w = samples.occurrences.empty() ? 1 : samples.occurrences[static_cast<std::size_t>(a)];
      if (w < 0) throw core::InputError(core::describe("a negative sample weight", where, "weights count occurrences"));
      sample_count_ += w;
    }
  } catch (...) {
    invalid = std::current_exception();
  }
  // Every rank must hold the same samples: the pair matrix is split by rows.
  const std::uint64_t hash = core::Fnv1a()
                                 .add(samples.states.data(), samples.states.size())
                                 .add(samples.occurrences.data(), samples.occurrences.size() * sizeof(std::int64_t))
                                 .value();
  const bool same =
      comm_.min(static_cast<unsigned long long>(hash)) == comm_.max(static_cast<unsigned long long>(hash));
  if (invalid) std::rethrow_exception(invalid);
  if (!same)
    throw core::InputError(core::describe("ranks hold different samples", where, "pass every sample on every rank"));
  if (sample_count_ < 2)
    throw core::InputError(core::describe(
        "the discrepancy needs at least 2 samples, got " + std::to_string(sample_count_), where, "pass more samples"));

  padded_rows_ = (rows_ + kTileRows - 1) / kTileRows * kTileRows;
  words_ = (units_ + 63) / 64;
  weights_.assign(static_cast<std::size_t>(padded_rows_), 0.0);
  for (std::int64_t a = 0; a < rows_; ++a)
    weights_[static_cast<std::size_t>(a)] =
        samples.occurrences.empty() ? 1.0 : static_cast<double>(samples.occurrences[static_cast<std::size_t>(a)]);
  bits_.assign(static_cast<std::size_t>(padded_rows_ * words_), 0);
  state_panels_.assign(static_cast<std::size_t>(padded_rows_ * units_), 0.0);
  flip_energy_.resize(static_cast<std::size_t>(rows_ * units_));
  std::vector<double> field(static_cast<std::size_t>(units_));
  for (std::int64_t a = 0; a < rows_; ++a) {
    const std::uint8_t* x = samples.state(a);
    // Local fields f_i = b_i + Σ_j W_ij x_j: all N flips of a sample in O(edges).
    std::copy(machine.biases(), machine.biases() + units_, field.begin());
    for (std::int64_t e = 0; e < machine.num_couplers(); ++e) {
      const auto [i, j] = machine.couplers()[static_cast<std::size_t>(e)];
      if (x[j]) field[static_cast<std::size_t>(i)] += machine.weights()[e];
      if (x[i]) field[static_cast<std::size_t>(j)] += machine.weights()[e];
    }
    for (std::int64_t i = 0; i < units_; ++i) {
      flip_energy_[static_cast<std::size_t>(a * units_ + i)] =
          x[i] ? field[static_cast<std::size_t>(i)] : -field[static_cast<std::size_t>(i)];
      state_panels_[panel_index(a, i, units_)] = x[i];
      if (x[i]) bits_[static_cast<std::size_t>(a * words_ + i / 64)] |= std::uint64_t{1} << (i % 64);
    }
  }
  kernel_of_distance_.resize(static_cast<std::size_t>(units_ + 1));
  for (std::int64_t d = 0; d <= units_; ++d)
    kernel_of_distance_[static_cast<std::size_t>(d)] = std::exp(-static_cast<double>(d) / static_cast<double>(units_));
}

SteinDiscrepancy::BetaTerms SteinDiscrepancy::beta_terms(double beta) const {
  if (!(beta > 0) || !std::isfinite(beta))
    throw core::UsageError(core::describe("the Stein discrepancy needs a finite beta > 0, got " + std::to_string(beta),
                                          "kernel Stein discrepancy"));
  BetaTerms terms;
  const double inverse_units = 1.0 / static_cast<double>(units_);
  terms.alpha = -std::expm1(-inverse_units);  // 1 − k(flip one equal bit)/k
  terms.gamma = -std::expm1(inverse_units);   // 1 − k(flip one different bit)/k
  terms.lambda = terms.gamma - terms.alpha;
  terms.s.assign(state_panels_.size(), 0.0);
  terms.t.assign(state_panels_.size(), 0.0);
  terms.sum_s.assign(static_cast<std::size_t>(padded_rows_), 0.0);
  terms.sum_sx.assign(static_cast<std::size_t>(padded_rows_), 0.0);
  double largest = 0;
  for (std::int64_t a = 0; a < rows_; ++a) {
    double sum = 0, sum_x = 0;
    for (std::int64_t i = 0; i < units_; ++i) {
      const std::size_t at = panel_index(a, i, units_);
      const double s = -std::expm1(-beta * flip_energy_[static_cast<std::size_t>(a * units_ + i)]);
      const double x = state_panels_[at];
      terms.s[at] = s;
      terms.t[at] = terms.lambda * s * (2 * x - 1);
      sum += s;
      sum_x += s * x;
      largest = std::max(largest, std::fabs(s));
    }
    terms.sum_s[static_cast<std::size_t>(a)] = sum;
    terms.sum_sx[static_cast<std::size_t>(a)] = sum_x;
  }
  terms.overflow = !(largest <= kLargestRatio);
  return terms;
}

namespace {
PairKernel make_kernel(const std::vector<double>& s, const std::vector<double>& t, const std::vector<double>& x,
                       const std::vector<double>& sum_s, const std::vector<double>& sum_sx,
                       const std::vector<std::uint64_t>& bits, const std::vector<double>& weights,
                       const std::vector<double>& kernel_of_distance, std::int64_t rows, std::int64_t padded_rows,
                       std::int64_t units, std::int64_t words, double alpha, double gamma, double lambda) {
  PairKernel k;
  k.s = s.data(), k.t = t.data(), k.x = x.data(), k.sum_s = sum_s.data(), k.sum_sx = sum_sx.data();
  k.bits = bits.data(), k.weights = weights.data(), k.kernel_of_distance = kernel_of_distance.data();
  k.rows = rows, k.padded_rows = padded_rows, k.units = units, k.words = words;
  k.alpha = alpha, k.gamma = gamma, k.lambda = lambda;
  return k;
}
}  // namespace

double SteinDiscrepancy::statistic(double beta) const {
  const BetaTerms terms = beta_terms(beta);
  if (terms.overflow) return std::numeric_limits<double>::infinity();  // same on every rank
  const PairKernel k =
      make_kernel(terms.s, terms.t, state_panels_, terms.sum_s, terms.sum_sx, bits_, weights_, kernel_of_distance_,
                  rows_, padded_rows_, units_, words_, terms.alpha, terms.gamma, terms.lambda);
  const std::int64_t tiles = padded_rows_ / kTileRows;
  const par::Block mine = triangle_block(tiles, comm_.rank(), comm_.size());
  std::vector<double> dots(static_cast<std::size_t>(kTileRows * padded_rows_));
  std::vector<double> local(static_cast<std::size_t>(mine.count));
  triangle_tiles(k, mine.offset, mine.end(), dots.data(), local.data());
  const std::vector<double> all = comm_.allgather_blocks(local);  // tile order
  double sum = 0;
  for (double v : all) sum += v;
  const double w = static_cast<double>(sample_count_);
  return sum / (w * (w - 1));
}

SteinDiscrepancy::FullPass SteinDiscrepancy::full_pass(double beta, std::int64_t bootstrap, std::uint64_t seed,
                                                       const TileProgress& on_progress) const {
  if (bootstrap < 0)
    throw core::UsageError(core::describe("a negative number of bootstrap replicates", "kernel Stein discrepancy"));
  FullPass pass;
  const BetaTerms terms = beta_terms(beta);
  if (terms.overflow) {
    pass.overflow = true;
    pass.statistic = std::numeric_limits<double>::infinity();
    return pass;
  }
  const PairKernel k =
      make_kernel(terms.s, terms.t, state_panels_, terms.sum_s, terms.sum_sx, bits_, weights_, kernel_of_distance_,
                  rows_, padded_rows_, units_, words_, terms.alpha, terms.gamma, terms.lambda);
  // Rademacher sums E_b = Σ of w_b signs = 2·popcount(w_b random bits) − w_b; every
  // rank draws all of them, replicate r from its own Philox stream, rows in order.
  BootstrapSigns boot;
  boot.replicates = bootstrap;
  boot.panels = (bootstrap + kPanel - 1) / kPanel;
  std::vector<double> signs(static_cast<std::size_t>(boot.panels * padded_rows_ * kPanel), 0.0);
  for (std::int64_t r = 0; r < bootstrap; ++r) {
    core::Philox rng(seed, core::stream_id(kSteinBootstrapDomain, static_cast<std::uint64_t>(r)));
    for (std::int64_t b = 0; b < rows_; ++b) {
      std::int64_t left = static_cast<std::int64_t>(weights_[static_cast<std::size_t>(b)]), ones = 0;
      const std::int64_t count = left;
      for (; left > 0; left -= 32) {
        const std::uint32_t word = rng.next_u32();
        ones += __builtin_popcount(left >= 32 ? word : word & ((1u << left) - 1u));
      }
      signs[static_cast<std::size_t>((r / kPanel) * padded_rows_ * kPanel + b * kPanel + r % kPanel)] =
          static_cast<double>(2 * ones - count);
    }
  }
  boot.signs = signs.data();

  const std::int64_t tiles = padded_rows_ / kTileRows;
  const par::Block mine = par::block_partition(tiles, comm_.rank(), comm_.size());
  const std::int64_t stride = kFullBootstrap + bootstrap;
  std::vector<double> dots(static_cast<std::size_t>(kTileRows * padded_rows_));
  std::vector<double> projected(static_cast<std::size_t>(kTileRows * kPanel));
  std::vector<double> local(static_cast<std::size_t>(mine.count * stride), 0.0);
  // In steps, so a long test can report progress; each tile is computed alone, so the bits do not change.
  const std::int64_t step =
      on_progress ? std::max<std::int64_t>(1, mine.count / 100) : std::max<std::int64_t>(1, mine.count);
  for (std::int64_t first = mine.offset; first < mine.end(); first += step) {
    const std::int64_t last = std::min(first + step, mine.end());
    full_tiles(k, first, last, dots.data(), boot, projected.data(), local.data() + (first - mine.offset) * stride,
               stride);
    if (on_progress) on_progress(last - mine.offset, mine.count);
  }
  const std::vector<double> all = comm_.allgather_blocks(local);  // tile order

  const double w = static_cast<double>(sample_count_);
  double statistic = 0, squares = 0;
  pass.row_sums.resize(static_cast<std::size_t>(rows_));
  pass.bootstrap.assign(static_cast<std::size_t>(bootstrap), 0.0);
  for (std::int64_t t = 0; t < tiles; ++t) {
    const double* tile = all.data() + t * stride;
    statistic += tile[kFullStatistic];
    squares += tile[kFullSquares];
    for (std::int64_t r = 0; r < kTileRows && t * kTileRows + r < rows_; ++r)
      pass.row_sums[static_cast<std::size_t>(t * kTileRows + r)] = tile[kFullRows + r];
    for (std::int64_t b = 0; b < bootstrap; ++b)
      pass.bootstrap[static_cast<std::size_t>(b)] += tile[kFullBootstrap + b];
  }
  pass.statistic = statistic / (w * (w - 1));
  pass.squares = squares / (w * (w - 1));
  // Same normalisation as the U-statistic itself, so S* and U are compared on one scale.
  for (double& s : pass.bootstrap) s /= w * (w - 1);
  return pass;
}

KdsdTest SteinDiscrepancy::test(double beta, std::int64_t bootstrap, std::uint64_t seed,
                                const TileProgress& on_progress) const {
  const FullPass pass = full_pass(beta, bootstrap, seed, on_progress);
  KdsdTest result;
  result.beta = beta;
  result.samples = sample_count_;
  result.bootstrap = bootstrap;
  result.statistic = pass.statistic;
  if (pass.overflow) {  // some p(¬x)/p(x) beyond 1e100: the samples are far from p_β
    result.std_error = std::numeric_limits<double>::infinity();
    if (bootstrap > 0) result.p_value = 1.0 / static_cast<double>(bootstrap + 1);
    return result;
  }
  const double w = static_cast<double>(sample_count_);
  // ζ₂ = Var κ(X, Y); ζ₁ from the row means h1, whose own noise (≈ (ζ₂ − ζ₁)/(W − 1)) is removed.
  const double zeta2 = std::max(pass.squares - pass.statistic * pass.statistic, 0.0);
  double spread = 0;
  for (std::int64_t a = 0; a < rows_; ++a) {
    const double h1 = pass.row_sums[static_cast<std::size_t>(a)] / (w - 1) - pass.statistic;
    spread += weights_[static_cast<std::size_t>(a)] * h1 * h1;
  }
  spread /= std::max(w - 1, 1.0);
  const double zeta1 = w > 2 ? std::max((spread - zeta2 / (w - 1)) / (1 - 1 / (w - 1)), 0.0) : spread;
  result.std_error = std::sqrt((4 * (w - 2) * zeta1 + 2 * zeta2) / (w * (w - 1)));
  if (bootstrap > 0) {
    std::int64_t exceed = 0;
    for (double s : pass.bootstrap) exceed += s >= pass.statistic;
    result.p_value = static_cast<double>(1 + exceed) / static_cast<double>(1 + bootstrap);
  }
  return result;
}

SteinDiscrepancy::Projections SteinDiscrepancy::projections(double beta) const {
  const FullPass pass = full_pass(beta, 0, 0, {});
  Projections out;
  out.statistic = pass.statistic;
  if (pass.overflow) return out;
  const double w = static_cast<double>(sample_count_);
  out.row_means.resize(pass.row_sums.size());
  for (std::size_t a = 0; a < pass.row_sums.size(); ++a) out.row_means[a] = pass.row_sums[a] / (w - 1);
  return out;
}

KdsdTest kdsd_test(const rbm::BoltzmannMachine& machine, const SampleSet& samples, double beta, std::int64_t bootstrap,
                   std::uint64_t seed, const par::Communicator& comm) {
  return SteinDiscrepancy(machine, samples, comm).test(beta, bootstrap, seed);
}

}  // namespace qvae::dwave
