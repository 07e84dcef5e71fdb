// Kernel discrete Stein discrepancy and the β fit that minimises it (stein.hpp).
//
// Per pair (a, b) with Hamming distance d and α = 1 − e^{−1/N}, γ = 1 − e^{1/N}
// (Δ*k / k for an equal / a different bit), λ = γ − α, σ = 2x − 1:
//
//   κ_ab = e^{−d/N} · ( H_ab − α(S_a + S_b) − λ(P_a + P_b) + 2(α(N − d) + γd) ),
//   H_ab = Σ_i s_ai s_bi + λ s_ai σ_ai x_bi + λ x_ai s_bi σ_bi,
//   S_a = Σ_i s_ai,  P_a = Σ_i s_ai x_ai,
//
// so the O(n²N) part is one fused dot product per pair.  It runs as a small
// GEMM: samples are stored in panels of 8 rows (panel layout: value of row a,
// unit i at [(a/8)·N·8 + i·8 + a%8]), a 4 × 8 register block accumulates 4 rows
// against a panel of 8 columns, units go in cache chunks of 256.  Every H_ab is
// summed over i in ascending order by the same code whichever rank computes
// it, and the per-tile sums are added in tile order on every rank.
#include "qvae/dwave/stein.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <string>

#include "qvae/core/error.hpp"
#include "qvae/core/log.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/par/partition.hpp"

namespace qvae::dwave {
namespace {

constexpr std::int64_t kTileRows = 16;  ///< rows of the pair matrix per work item
constexpr std::int64_t kPanel = 8;      ///< columns per register block (two AVX2 vectors)
constexpr std::int64_t kGroup = 4;      ///< rows per register block
constexpr std::int64_t kChunk = 256;    ///< units per cache block
/// A sample whose single flip is this much more probable than itself makes the
/// KDSD +∞: under p_β that happens with probability below rows·N/1e12 (Markov:
/// E_p[p(¬x)/p(x)] = 1), and larger ratios would drown the sums in rounding.
constexpr double kLargestRatio = 1e12;

std::size_t panel_index(std::int64_t row, std::int64_t unit, std::int64_t units) {
  return static_cast<std::size_t>((row / kPanel) * units * kPanel + unit * kPanel + row % kPanel);
}

/// Everything a tile kernel reads for one β.
struct PairKernel {
  const double* s = nullptr;  ///< s_ai, panel layout
  const double* t = nullptr;  ///< λ s_ai σ_ai, panel layout
  const double* x = nullptr;  ///< x_ai as 0/1, panel layout
  const double* sum_s = nullptr;
  const double* sum_sx = nullptr;
  const std::uint64_t* bits = nullptr;
  const double* weights = nullptr;
  const double* kernel_of_distance = nullptr;
  std::int64_t rows = 0, padded_rows = 0, units = 0, words = 0;
  double alpha = 0, gamma = 0, lambda = 0;
};

/// out[r·stride + c] += Σ_k (row r, column c) terms of H for `count` units, r < 4, c < 8.
[[gnu::always_inline]] inline void dot_block(const double* sr, const double* tr, const double* xr, const double* sc,
                                             const double* tc, const double* xc, std::int64_t count, double* out,
                                             std::int64_t stride) {
  double acc[kGroup][kPanel];
  for (int r = 0; r < kGroup; ++r)
    for (int c = 0; c < kPanel; ++c) acc[r][c] = out[r * stride + c];
  for (std::int64_t k = 0; k < count; ++k) {
    const double* s8 = sc + k * kPanel;
    const double* t8 = tc + k * kPanel;
    const double* x8 = xc + k * kPanel;
#pragma GCC unroll 4
    for (int r = 0; r < kGroup; ++r) {
      const double sa = sr[k * kPanel + r], ta = tr[k * kPanel + r], xa = xr[k * kPanel + r];
#pragma GCC unroll 8
      for (int c = 0; c < kPanel; ++c) acc[r][c] += sa * s8[c] + ta * x8[c] + xa * t8[c];
    }
  }
  for (int r = 0; r < kGroup; ++r)
    for (int c = 0; c < kPanel; ++c) out[r * stride + c] = acc[r][c];
}

/// H of rows [first_row, first_row + 16) against columns [first_column, padded_rows)
/// into dots (16 × padded_rows, absolute column index), which must start at zero.
[[gnu::always_inline]] inline void dot_tile(const PairKernel& k, std::int64_t first_row, std::int64_t first_column,
                                            double* dots) {
  const std::int64_t n = k.units;
  for (std::int64_t i0 = 0; i0 < n; i0 += kChunk) {
    const std::int64_t count = std::min(kChunk, n - i0);
    for (std::int64_t column = first_column; column < k.padded_rows; column += kPanel) {
      const std::size_t c = static_cast<std::size_t>((column / kPanel) * n * kPanel + i0 * kPanel);
      for (std::int64_t g = 0; g < kTileRows; g += kGroup) {
        const std::size_t r = panel_index(first_row + g, i0, n);
        dot_block(k.s + r, k.t + r, k.x + r, k.s + c, k.t + c, k.x + c, count, dots + g * k.padded_rows + column,
                  k.padded_rows);
      }
    }
  }
}

[[gnu::always_inline]] inline std::int64_t hamming(const PairKernel& k, std::int64_t a, std::int64_t b) {
  const std::uint64_t* x = k.bits + a * k.words;
  const std::uint64_t* y = k.bits + b * k.words;
  std::int64_t d = 0;
  for (std::int64_t w = 0; w < k.words; ++w) d += __builtin_popcountll(x[w] ^ y[w]);
  return d;
}

[[gnu::always_inline]] inline double stein_kernel(const PairKernel& k, double dot, std::int64_t a, std::int64_t b) {
  const std::int64_t d = hamming(k, a, b);
  const double flips = k.alpha * static_cast<double>(k.units - d) + k.gamma * static_cast<double>(d);
  return k.kernel_of_distance[d] *
         (dot - k.alpha * (k.sum_s[a] + k.sum_s[b]) - k.lambda * (k.sum_sx[a] + k.sum_sx[b]) + 2 * flips);
}

/// Σ over the tile's rows a of w_a (2 Σ_{b>a} w_b κ_ab + (w_a − 1) κ_aa).
[[gnu::always_inline]] inline double triangle_tile(const PairKernel& k, std::int64_t tile, double* dots) {
  const std::int64_t first = tile * kTileRows;
  for (std::int64_t r = 0; r < kTileRows; ++r)
    std::fill(dots + r * k.padded_rows + first, dots + (r + 1) * k.padded_rows, 0.0);
  dot_tile(k, first, first, dots);
  double sum = 0;
  for (std::int64_t r = 0; r < kTileRows && first + r < k.rows; ++r) {
    const std::int64_t a = first + r;
    const double* row = dots + r * k.padded_rows;
    double pairs = 0;
    for (std::int64_t b = a + 1; b < k.rows; ++b) pairs += k.weights[b] * stein_kernel(k, row[b], a, b);
    const double self = stein_kernel(k, row[a], a, a);
    sum += k.weights[a] * (2 * pairs + (k.weights[a] - 1) * self);
  }
  return sum;
}

/// Bootstrap weights of the replicates, panel layout over replicates:
/// signs[(r/8)·padded_rows·8 + b·8 + r%8] = Σ of w_b Rademacher signs.
struct BootstrapSigns {
  const double* signs = nullptr;
  std::int64_t replicates = 0, panels = 0;
};

/// out[r·stride + c] += Σ_b κ(row r, b) · signs(b, c) over all columns, r < 4, c < 8.
[[gnu::always_inline]] inline void bootstrap_block(const double* kappa, std::int64_t kappa_stride, const double* signs,
                                                   std::int64_t columns, double* out, std::int64_t stride) {
  double acc[kGroup][kPanel] = {};
  for (std::int64_t b = 0; b < columns; ++b) {
    const double* e8 = signs + b * kPanel;
#pragma GCC unroll 4
    for (int r = 0; r < kGroup; ++r) {
      const double kr = kappa[r * kappa_stride + b];
#pragma GCC unroll 8
      for (int c = 0; c < kPanel; ++c) acc[r][c] += kr * e8[c];
    }
  }
  for (int r = 0; r < kGroup; ++r)
    for (int c = 0; c < kPanel; ++c) out[r * stride + c] = acc[r][c];
}

/// Layout of one full-row tile's results.
constexpr std::int64_t kFullStatistic = 0;  ///< Σ_a w_a rowsum_a
constexpr std::int64_t kFullSquares = 1;    ///< Σ_a w_a (Σ_b w_b κ_ab² − κ_aa²)
constexpr std::int64_t kFullRows = 2;       ///< 16 values rowsum_a = Σ_b w_b κ_ab − κ_aa
constexpr std::int64_t kFullBootstrap = kFullRows + kTileRows;  ///< B partial sums Σ_a E_a (κE)_a − w_a κ_aa

/// Full rows of the tile: statistic and square sums, row sums, bootstrap partials into out.
[[gnu::always_inline]] inline void full_tile(const PairKernel& k, std::int64_t tile, double* dots,
                                             const BootstrapSigns& boot, double* projected, double* out) {
  const std::int64_t first = tile * kTileRows;
  std::fill(dots, dots + kTileRows * k.padded_rows, 0.0);
  dot_tile(k, first, 0, dots);
  double self[kTileRows] = {};
  for (std::int64_t r = 0; r < kTileRows; ++r) {
    const std::int64_t a = first + r;
    double* row = dots + r * k.padded_rows;
    if (a >= k.rows) {  // padding: κ = 0, so it adds nothing to the bootstrap either
      std::fill(row, row + k.padded_rows, 0.0);
      out[kFullRows + r] = 0;
      continue;
    }
    double weighted = 0, squares = 0;
    for (std::int64_t b = 0; b < k.rows; ++b) {
      const double kappa = stein_kernel(k, row[b], a, b);
      row[b] = kappa;
      weighted += k.weights[b] * kappa;
      squares += k.weights[b] * kappa * kappa;
    }
    std::fill(row + k.rows, row + k.padded_rows, 0.0);
    self[r] = row[a];
    out[kFullRows + r] = weighted - self[r];
    out[kFullStatistic] += k.weights[a] * (weighted - self[r]);
    out[kFullSquares] += k.weights[a] * (squares - self[r] * self[r]);
  }
  for (std::int64_t panel = 0; panel < boot.panels; ++panel) {
    const double* signs = boot.signs + panel * k.padded_rows * kPanel;
    for (std::int64_t g = 0; g < kTileRows; g += kGroup)
      bootstrap_block(dots + g * k.padded_rows, k.padded_rows, signs, k.padded_rows, projected + g * kPanel, kPanel);
    for (std::int64_t c = 0; c < kPanel && panel * kPanel + c < boot.replicates; ++c) {
      double sum = 0;
      for (std::int64_t r = 0; r < kTileRows && first + r < k.rows; ++r) {
        const std::int64_t a = first + r;
        sum += signs[a * kPanel + c] * projected[r * kPanel + c] - k.weights[a] * self[r];
      }
      out[kFullBootstrap + panel * kPanel + c] = sum;
    }
  }
}

void triangle_tiles_portable(const PairKernel& k, std::int64_t first, std::int64_t last, double* dots, double* out) {
  for (std::int64_t t = first; t < last; ++t) out[t - first] = triangle_tile(k, t, dots);
}
void full_tiles_portable(const PairKernel& k, std::int64_t first, std::int64_t last, double* dots,
                         const BootstrapSigns& boot, double* projected, double* out, std::int64_t stride) {
  for (std::int64_t t = first; t < last; ++t) full_tile(k, t, dots, boot, projected, out + (t - first) * stride);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QVAE_STEIN_X86_DISPATCH 1
// The same kernels compiled for AVX2 + FMA + POPCNT, chosen at run time.
__attribute__((target("avx2,fma,popcnt"))) void triangle_tiles_avx2(const PairKernel& k, std::int64_t first,
                                                                     std::int64_t last, double* dots, double* out) {
  for (std::int64_t t = first; t < last; ++t) out[t - first] = triangle_tile(k, t, dots);
}
__attribute__((target("avx2,fma,popcnt"))) void full_tiles_avx2(const PairKernel& k, std::int64_t first,
                                                                 std::int64_t last, double* dots,
                                                                 const BootstrapSigns& boot, double* projected,
                                                                 double* out, std::int64_t stride) {
  for (std::int64_t t = first; t < last; ++t) full_tile(k, t, dots, boot, projected, out + (t - first) * stride);
}
bool use_avx2() {
  static const bool supported = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("popcnt");
  }();
  return supported;
}
#else
#define QVAE_STEIN_X86_DISPATCH 0
#endif

void triangle_tiles(const PairKernel& k, std::int64_t first, std::int64_t last, double* dots, double* out) {
#if QVAE_STEIN_X86_DISPATCH
  if (use_avx2()) return triangle_tiles_avx2(k, first, last, dots, out);
#endif
  triangle_tiles_portable(k, first, last, dots, out);
}
void full_tiles(const PairKernel& k, std::int64_t first, std::int64_t last, double* dots, const BootstrapSigns& boot,
                double* projected, double* out, std::int64_t stride) {
#if QVAE_STEIN_X86_DISPATCH
  if (use_avx2()) return full_tiles_avx2(k, first, last, dots, boot, projected, out, stride);
#endif
  full_tiles_portable(k, first, last, dots, boot, projected, out, stride);
}

/// Contiguous runs of tiles per rank with about equal numbers of pairs when
/// tile t costs (tiles − t) column panels (the upper triangle).
par::Block triangle_block(std::int64_t tiles, int rank, int ranks) {
  const double total = 0.5 * static_cast<double>(tiles) * static_cast<double>(tiles + 1);
  auto start = [&](int r) {
    std::int64_t t = 0;
    double done = 0;
    while (t < tiles && done < total * r / ranks) done += static_cast<double>(tiles - t++);
    return t;
  };
  const std::int64_t first = start(rank), last = rank + 1 == ranks ? tiles : start(rank + 1);
  return par::Block{first, last - first};
}

std::uint64_t fnv1a(std::uint64_t hash, const void* data, std::size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < bytes; ++i) hash = (hash ^ p[i]) * 0x100000001B3ULL;
  return hash;
}

}  // namespace

// --- precomputation ---------------------------------------------------------------------------

struct SteinDiscrepancy::BetaTerms {
  std::vector<double> s, t;            ///< panel layout
  std::vector<double> sum_s, sum_sx;   ///< per padded row
  double alpha = 0, gamma = 0, lambda = 0;
  bool overflow = false;
};

struct SteinDiscrepancy::FullPass {
  double statistic = 0;   ///< U
  double squares = 0;     ///< mean of κ² over ordered pairs of distinct samples
  std::vector<double> row_sums;  ///< per row, Σ_{j ≠ an item of a} κ
  std::vector<double> bootstrap; ///< S* per replicate
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
      throw core::InputError(core::describe("samples of " + std::to_string(samples.units) +
                                                " units for a machine of " + std::to_string(units_) + " nodes",
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
  std::uint64_t hash = fnv1a(0xCBF29CE484222325ULL, samples.states.data(), samples.states.size());
  hash = fnv1a(hash, samples.occurrences.data(), samples.occurrences.size() * sizeof(std::int64_t));
  const bool same = comm_.min(static_cast<unsigned long long>(hash)) == comm_.max(static_cast<unsigned long long>(hash));
  if (invalid) std::rethrow_exception(invalid);
  if (!same)
    throw core::InputError(core::describe("ranks hold different samples", where, "pass every sample on every rank"));
  if (sample_count_ < 2)
    throw core::InputError(core::describe("the discrepancy needs at least 2 samples, got " +
                                              std::to_string(sample_count_),
                                          where, "pass more samples"));

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
      flip_energy_[static_cast<std::size_t>(a * units_ + i)] = x[i] ? field[static_cast<std::size_t>(i)]
                                                                    : -field[static_cast<std::size_t>(i)];
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
  const PairKernel k = make_kernel(terms.s, terms.t, state_panels_, terms.sum_s, terms.sum_sx, bits_, weights_,
                                   kernel_of_distance_, rows_, padded_rows_, units_, words_, terms.alpha, terms.gamma,
                                   terms.lambda);
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

SteinDiscrepancy::FullPass SteinDiscrepancy::full_pass(double beta, std::int64_t bootstrap, std::uint64_t seed) const {
  if (bootstrap < 0)
    throw core::UsageError(core::describe("a negative number of bootstrap replicates", "kernel Stein discrepancy"));
  FullPass pass;
  const BetaTerms terms = beta_terms(beta);
  if (terms.overflow) {
    pass.overflow = true;
    pass.statistic = std::numeric_limits<double>::infinity();
    return pass;
  }
  const PairKernel k = make_kernel(terms.s, terms.t, state_panels_, terms.sum_s, terms.sum_sx, bits_, weights_,
                                   kernel_of_distance_, rows_, padded_rows_, units_, words_, terms.alpha, terms.gamma,
                                   terms.lambda);
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
  full_tiles(k, mine.offset, mine.end(), dots.data(), boot, projected.data(), local.data(), stride);
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
    for (std::int64_t b = 0; b < bootstrap; ++b) pass.bootstrap[static_cast<std::size_t>(b)] += tile[kFullBootstrap + b];
  }
  pass.statistic = statistic / (w * (w - 1));
  pass.squares = squares / (w * (w - 1));
  // Same normalisation as the U-statistic itself, so S* and U are compared on one scale.
  for (double& s : pass.bootstrap) s /= w * (w - 1);
  return pass;
}

KdsdTest SteinDiscrepancy::test(double beta, std::int64_t bootstrap, std::uint64_t seed) const {
  const FullPass pass = full_pass(beta, bootstrap, seed);
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
  const FullPass pass = full_pass(beta, 0, 0);
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

// --- β_eff = argmin KDSD ------------------------------------------------------------------------

namespace {

constexpr int kGridPoints = 9;           ///< first grid over [β₀/8, 8β₀]
constexpr double kGridSpan = 8.0;
constexpr int kMostGridPoints = 40;      ///< extensions stop here
constexpr double kLargestBeta = 1e4;
constexpr double kLogTolerance = 2.5e-4; ///< Brent's tol1 in log β: final bracket ≈ 4·tol1 = 0.1%
constexpr double kGoldenSection = 0.3819660112501051;
constexpr double kDerivativeStep = 0.01; ///< relative step of the finite differences at β̂

class SteinSearch {
 public:
  SteinSearch(const SteinDiscrepancy& discrepancy, const BetaSettings& settings)
      : discrepancy_(discrepancy), settings_(settings) {
    estimate_.method = BetaMethod::stein;
  }

  BetaEstimate run() {
    if (!(settings_.beta_initial > 0) || !std::isfinite(settings_.beta_initial) || settings_.max_iterations < 1)
      throw core::UsageError(core::describe("the Stein fit needs a finite beta_initial > 0 and iterations >= 1",
                                            "[dwave] beta_initial, beta_iterations"));
    // Grid in log β; extended one spacing at a time while the minimum sits on an edge.
    const double floor = std::log(std::max(settings_.beta_min, 1e-300));
    const double spacing = 2 * std::log(kGridSpan) / (kGridPoints - 1);
    const double first = std::max(std::log(settings_.beta_initial / kGridSpan), floor);
    std::vector<double> grid, values;
    for (int g = 0; g < kGridPoints; ++g) {
      grid.push_back(first + g * spacing);
      values.push_back(evaluate(grid.back(), "grid", grid.back() - grid.front()));
    }
    std::size_t best = lowest(values);
    while (static_cast<int>(grid.size()) < kMostGridPoints && values[best] < kInfinity) {
      if (best == 0 && grid.front() - spacing >= floor - 1e-12) {
        grid.insert(grid.begin(), grid.front() - spacing);
        values.insert(values.begin(), evaluate(grid.front(), "grid (extended down)", grid.back() - grid.front()));
      } else if (best + 1 == grid.size() && grid.back() + spacing <= std::log(kLargestBeta)) {
        grid.push_back(grid.back() + spacing);
        values.push_back(evaluate(grid.back(), "grid (extended up)", grid.back() - grid.front()));
      } else {
        break;
      }
      best = lowest(values);
    }
    if (!(values[best] < kInfinity))
      throw core::RuntimeError(core::describe("exp(-beta dE) overflows at every beta of the grid",
                                              "qvae dwave beta --method stein",
                                              "check that the samples belong to this model, or lower --beta0"));
    if (best == 0 || best + 1 == grid.size()) {
      // The minimum is on the edge of the allowed range: report it, unconverged.
      estimate_.beta_eff = std::exp(grid[best]);
      estimate_.uncertainty = kInfinity;
      finish("minimum on the edge of the search range");
      return estimate_;
    }
    brent(grid[best - 1], grid[best], grid[best + 1], values[best], values[best - 1], values[best + 1]);
    uncertainty();
    return estimate_;
  }

 private:
  static constexpr double kInfinity = std::numeric_limits<double>::infinity();

  static std::size_t lowest(const std::vector<double>& values) {
    return static_cast<std::size_t>(std::min_element(values.begin(), values.end()) - values.begin());
  }

  double evaluate(double log_beta, const std::string& note, double width) {
    const double beta = std::exp(log_beta);
    if (!estimate_.history.empty()) estimate_.history.back().next_beta = beta;
    const double value = discrepancy_.statistic(beta);
    BetaIteration step;
    step.iteration = static_cast<int>(estimate_.history.size());
    step.beta = beta;
    step.statistic = value;
    step.threshold = width;
    step.note = note;
    estimate_.history.push_back(step);
    core::log::info_root("dwave: stein beta ", beta, ": KDSD ", value, " (", note, ")");
    return value;
  }

  /// Brent's minimisation in x = log β on the bracket a < x < b (Numerical Recipes' brent).
  void brent(double a, double x, double b, double fx, double fa, double fb) {
    // The bracket's ends start as the two remembered points, so the first step may be parabolic.
    double w = fa <= fb ? a : b, v = fa <= fb ? b : a;
    double fw = std::min(fa, fb), fv = std::max(fa, fb);
    double d = 0, e = b - a;
    bool converged = false;
    for (int it = 0;; ++it) {
      const double middle = 0.5 * (a + b), tol1 = kLogTolerance, tol2 = 2 * tol1;
      if (std::fabs(x - middle) <= tol2 - 0.5 * (b - a)) {
        converged = true;
        break;
      }
      if (it >= settings_.max_iterations) break;
      bool golden = true;
      if (std::fabs(e) > tol1 && std::isfinite(fx) && std::isfinite(fw) && std::isfinite(fv)) {
        const double r = (x - w) * (fx - fv);
        double q = (x - v) * (fx - fw);
        double p = (x - v) * q - (x - w) * r;
        q = 2 * (q - r);
        if (q > 0) p = -p;
        q = std::fabs(q);
        const double previous = e;
        e = d;
        if (!(std::fabs(p) >= std::fabs(0.5 * q * previous) || p <= q * (a - x) || p >= q * (b - x))) {
          d = p / q;
          const double u = x + d;
          if (u - a < tol2 || b - u < tol2) d = std::copysign(tol1, middle - x);
          golden = false;
        }
      }
      if (golden) {
        e = x >= middle ? a - x : b - x;
        d = kGoldenSection * e;
      }
      const double u = std::fabs(d) >= tol1 ? x + d : x + std::copysign(tol1, d);
      const double fu = evaluate(u, golden ? "golden section" : "parabolic step", b - a);
      if (fu <= fx) {
        (u >= x ? a : b) = x;
        v = w, fv = fw, w = x, fw = fx, x = u, fx = fu;
      } else {
        (u < x ? a : b) = u;
        if (fu <= fw || w == x) {
          v = w, fv = fw, w = u, fw = fu;
        } else if (fu <= fv || v == x || v == w) {
          v = u, fv = fu;
        }
      }
      estimate_.history.back().threshold = b - a;
    }
    estimate_.beta_eff = std::exp(x);
    estimate_.converged = converged;
  }

  /// Delta method: β̂ solves D'(β) = 0, so Var β̂ ≈ Var D̂'(β̂) / D''(β̂)², with
  /// Var D̂' ≈ 4 Var(g)/W from the row projections g of D' (a U-statistic).
  void uncertainty() {
    const double beta = estimate_.beta_eff, h = kDerivativeStep * beta;
    const KdsdTest centre = discrepancy_.test(beta, 0, 0);
    const SteinDiscrepancy::Projections up = discrepancy_.projections(beta + h);
    const SteinDiscrepancy::Projections down = discrepancy_.projections(beta - h);
    const double curvature = (up.statistic - 2 * centre.statistic + down.statistic) / (h * h);
    // The lowest triangle-pass value is the same U summed in another order: if the two
    // differ by more than a thousandth of the standard error, rounding dominates.
    const double searched = std::min_element(estimate_.history.begin(), estimate_.history.end(),
                                             [](const BetaIteration& a, const BetaIteration& b) {
                                               return a.statistic < b.statistic;
                                             })->statistic;
    std::string trouble;
    if (!(std::fabs(searched - centre.statistic) <= 1e-3 * centre.std_error))
      trouble = "KDSD at beta_eff is dominated by rounding (terms with huge p(-x)/p(x))";
    else if (centre.statistic < -3 * centre.std_error)
      trouble = "KDSD significantly negative at beta_eff: a few samples with large p(-x)/p(x) dominate";
    else if (!(curvature > 0 && std::isfinite(curvature)) || up.row_means.empty() || down.row_means.empty())
      trouble = "no resolved minimum at beta_eff (KDSD not convex or not finite next to it)";
    if (!trouble.empty()) estimate_.converged = false;
    const std::vector<double>& weights = discrepancy_.weights();
    const double w = static_cast<double>(discrepancy_.sample_count());
    double mean = 0, spread = 0;
    if (up.row_means.size() == down.row_means.size()) {
      for (std::size_t a = 0; a < up.row_means.size(); ++a)
        mean += weights[a] * (up.row_means[a] - down.row_means[a]) / (2 * h);
      mean /= w;
      for (std::size_t a = 0; a < up.row_means.size(); ++a) {
        const double g = (up.row_means[a] - down.row_means[a]) / (2 * h) - mean;
        spread += weights[a] * g * g;
      }
      spread /= std::max(w - 1, 1.0);
    }
    estimate_.uncertainty = trouble.empty() && std::isfinite(spread) ? std::sqrt(4 * spread / w) / curvature : kInfinity;
    finish("KDSD at beta_eff " + std::to_string(centre.statistic) + " +- " + std::to_string(centre.std_error) +
           (trouble.empty() ? "" : "; " + trouble));
    if (!trouble.empty())
      core::log::warn_root("dwave: stein: ", trouble, "; beta_eff ", estimate_.beta_eff,
                           " is unreliable: use more reads or a moment-matching method");
  }

  void finish(const std::string& note) {
    BetaIteration& last = estimate_.history.back();
    last.next_beta = estimate_.beta_eff;
    last.note += "; " + note + (estimate_.converged ? "; converged" : "");
  }

  const SteinDiscrepancy& discrepancy_;
  BetaSettings settings_;
  BetaEstimate estimate_;
};

}  // namespace

BetaEstimate fit_stein_beta(const SteinDiscrepancy& discrepancy, const BetaSettings& settings) {
  return SteinSearch(discrepancy, settings).run();
}

}  // namespace qvae::dwave
