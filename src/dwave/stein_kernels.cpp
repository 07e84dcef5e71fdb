// Tile kernels of the kernel Stein discrepancy (stein_kernels.hpp).
#include "stein_kernels.hpp"

#include <algorithm>

#include "qvae/core/cpu_dispatch.hpp"

namespace qvae::dwave::stein_kernels {
namespace {

constexpr std::int64_t kGroup = 4;    ///< rows per register block
constexpr std::int64_t kChunk = 256;  ///< units per cache block

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

using TriangleTiles = void (*)(const PairKernel&, std::int64_t, std::int64_t, double*, double*);
using FullTiles = void (*)(const PairKernel&, std::int64_t, std::int64_t, double*, const BootstrapSigns&, double*,
                           double*, std::int64_t);

#if QVAE_X86_DISPATCH
// The same kernels compiled for AVX2 + FMA + POPCNT, chosen at run time.
QVAE_TARGET("avx2,fma,popcnt")
void triangle_tiles_avx2(const PairKernel& k, std::int64_t first, std::int64_t last, double* dots, double* out) {
  for (std::int64_t t = first; t < last; ++t) out[t - first] = triangle_tile(k, t, dots);
}
QVAE_TARGET("avx2,fma,popcnt")
void full_tiles_avx2(const PairKernel& k, std::int64_t first, std::int64_t last, double* dots,
                     const BootstrapSigns& boot, double* projected, double* out, std::int64_t stride) {
  for (std::int64_t t = first; t < last; ++t) full_tile(k, t, dots, boot, projected, out + (t - first) * stride);
}
#endif

}  // namespace

void triangle_tiles(const PairKernel& k, std::int64_t first, std::int64_t last, double* dots, double* out) {
#if QVAE_X86_DISPATCH
  static const core::DispatchedKernel<TriangleTiles> kernel(
      triangle_tiles_avx2, triangle_tiles_portable,
      {core::CpuFeature::avx2, core::CpuFeature::fma, core::CpuFeature::popcnt});
#else
  static const core::DispatchedKernel<TriangleTiles> kernel(triangle_tiles_portable);
#endif
  kernel.get()(k, first, last, dots, out);
}
void full_tiles(const PairKernel& k, std::int64_t first, std::int64_t last, double* dots, const BootstrapSigns& boot,
                double* projected, double* out, std::int64_t stride) {
#if QVAE_X86_DISPATCH
  static const core::DispatchedKernel<FullTiles> kernel(
      full_tiles_avx2, full_tiles_portable, {core::CpuFeature::avx2, core::CpuFeature::fma, core::CpuFeature::popcnt});
#else
  static const core::DispatchedKernel<FullTiles> kernel(full_tiles_portable);
#endif
  kernel.get()(k, first, last, dots, boot, projected, out, stride);
}

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

}  // namespace qvae::dwave::stein_kernels
