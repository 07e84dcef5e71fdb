// The O(n²N) part of the kernel Stein discrepancy (stein.cpp): one fused dot
// product per sample pair, run as a small GEMM.  Samples are stored in panels
// of 8 rows (value of row a, unit i at [(a/8)·N·8 + i·8 + a%8]); a 4 × 8
// register block accumulates 4 rows against a panel of 8 columns, units go in
// cache chunks of 256.  Every H_ab is summed over i in ascending order by the
// same code whichever rank computes it.  Compiled twice, portable and for
// AVX2 + FMA + POPCNT, chosen at run time.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qvae/par/partition.hpp"

namespace qvae::dwave::stein_kernels {

constexpr std::int64_t kTileRows = 16;  ///< rows of the pair matrix per work item
constexpr std::int64_t kPanel = 8;      ///< columns per register block (two AVX2 vectors)

inline std::size_t panel_index(std::int64_t row, std::int64_t unit, std::int64_t units) {
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

/// Bootstrap weights of the replicates, panel layout over replicates:
/// signs[(r/8)·padded_rows·8 + b·8 + r%8] = Σ of w_b Rademacher signs.
struct BootstrapSigns {
  const double* signs = nullptr;
  std::int64_t replicates = 0, panels = 0;
};

/// Layout of one full-row tile's results.
constexpr std::int64_t kFullStatistic = 0;                      ///< Σ_a w_a rowsum_a
constexpr std::int64_t kFullSquares = 1;                        ///< Σ_a w_a (Σ_b w_b κ_ab² − κ_aa²)
constexpr std::int64_t kFullRows = 2;                           ///< 16 values rowsum_a = Σ_b w_b κ_ab − κ_aa
constexpr std::int64_t kFullBootstrap = kFullRows + kTileRows;  ///< B partial sums Σ_a E_a (κE)_a − w_a κ_aa

/// κ sums of the upper triangle: out[t − first] for tiles [first, last) (triangle_tile).
void triangle_tiles(const PairKernel& k, std::int64_t first, std::int64_t last, double* dots, double* out);
/// Full rows of tiles [first, last): statistic, square and row sums, bootstrap partials (full_tile).
void full_tiles(const PairKernel& k, std::int64_t first, std::int64_t last, double* dots, const BootstrapSigns& boot,
                double* projected, double* out, std::int64_t stride);
/// Contiguous runs of tiles per rank with about equal numbers of pairs when
/// tile t costs (tiles − t) column panels (the upper triangle).
par::Block triangle_block(std::int64_t tiles, int rank, int ranks);

}  // namespace qvae::dwave::stein_kernels
