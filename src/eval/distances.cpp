#include "qvae/eval/distances.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "qvae/core/cpu_dispatch.hpp"
#include "qvae/core/philox.hpp"
#include "qvae/eval/linalg.hpp"

namespace qvae::eval {
namespace {

// Philox stream domains (top 16 bits of the stream id): one per use of the seed.
constexpr std::uint32_t kFpdDomain = 0x4650;  // "FP"
constexpr std::uint32_t kKpdDomain = 0x4B50;  // "KP"

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Values of work items computed round-robin over ranks, combined exactly:
/// every entry is non-zero on at most one rank, so the sum is that value.
template <class Compute>
std::vector<double> spread_items(std::size_t items, const par::Communicator* comm, Compute&& compute) {
  std::vector<double> values(items, 0.0);
  const std::size_t rank = comm ? static_cast<std::size_t>(comm->rank()) : 0;
  const std::size_t ranks = comm ? static_cast<std::size_t>(comm->size()) : 1;
  for (std::size_t item = rank; item < items; item += ranks) values[item] = compute(item);
  if (comm && ranks > 1 && items > 0) comm->sum_in_place(values.data(), values.size());
  return values;
}

void require_same_width(const SampleMatrix& a, const SampleMatrix& b, const char* who) {
  if (a.cols != b.cols) throw std::invalid_argument(std::string(who) + ": samples with different feature counts");
  if (static_cast<std::int64_t>(a.values.size()) != a.rows * a.cols ||
      static_cast<std::int64_t>(b.values.size()) != b.rows * b.cols)
    throw std::invalid_argument(std::string(who) + ": matrix size does not match rows x cols");
}

/// Rows `indices` of `m`, transposed to feature-major (cols x padded) with zero padding
/// up to a multiple of kMicroCols samples.
std::vector<double> pack_feature_major(const SampleMatrix& m, const std::int64_t* indices, std::int64_t count,
                                       std::int64_t padded) {
  std::vector<double> packed(static_cast<std::size_t>(m.cols) * static_cast<std::size_t>(padded), 0.0);
  for (std::int64_t s = 0; s < count; ++s) {
    const double* x = m.row(indices[s]);
    for (int f = 0; f < m.cols; ++f) packed[static_cast<std::size_t>(f * padded + s)] = x[f];
  }
  return packed;
}

struct PolynomialKernel {
  double inverse_dimension;
  int degree;
  double operator()(double dot_product) const {
    const double t = dot_product * inverse_dimension + 1.0;
    if (degree == 4) {
      const double t2 = t * t;
      return t2 * t2;
    }
    double value = 1;
    for (int i = 0; i < degree; ++i) value *= t;
    return value;
  }
};

constexpr int kMicroRows = 4, kMicroCols = 8;  // 4 x 8 dot products held in registers (8 AVX2 registers)
constexpr std::int64_t kTile = 64;             // rows per strip

/// Sum of kernel(a_i . b_j) over i in [i0, i1), j in [j0, j1) (feature-major packed
/// operands of stride `padded`), skipping i == j when `skip_diagonal`.
QVAE_VECTOR_CLONES double tile_kernel_sum(const double* a, const double* b, int features, std::int64_t padded,
                                          std::int64_t i0, std::int64_t i1, std::int64_t j0, std::int64_t j1,
                                          bool skip_diagonal, const PolynomialKernel& kernel) {
  double sum = 0;
  for (std::int64_t i = i0; i < i1; i += kMicroRows) {
    for (std::int64_t j = j0; j < j1; j += kMicroCols) {
      double acc[kMicroRows][kMicroCols] = {};
      for (int f = 0; f < features; ++f) {
        const double* af = a + f * padded + i;
        const double* bf = b + f * padded + j;
        for (int ii = 0; ii < kMicroRows; ++ii)
          for (int jj = 0; jj < kMicroCols; ++jj) acc[ii][jj] += af[ii] * bf[jj];
      }
      for (int ii = 0; ii < kMicroRows && i + ii < i1; ++ii)
        for (int jj = 0; jj < kMicroCols && j + jj < j1; ++jj) {
          if (skip_diagonal && i + ii == j + jj) continue;
          sum += kernel(acc[ii][jj]);
        }
    }
  }
  return sum;
}

/// One strip of an MMD batch: rows [s*kTile, ...) of the first operand against
/// all later (symmetric) or all (cross) rows of the second.
double strip_kernel_sum(const double* a, const double* b, int features, std::int64_t n, std::int64_t padded,
                        std::int64_t strip, bool symmetric, const PolynomialKernel& kernel) {
  const std::int64_t i0 = strip * kTile, i1 = std::min(n, i0 + kTile);
  if (!symmetric) return tile_kernel_sum(a, b, features, padded, i0, i1, 0, n, false, kernel);
  // Off-diagonal tiles count twice (k(x_i, x_j) = k(x_j, x_i)); the diagonal tile skips i == j.
  double sum = tile_kernel_sum(a, a, features, padded, i0, i1, i0, i1, true, kernel);
  double off = 0;
  for (std::int64_t j0 = i1; j0 < n; j0 += kTile)
    off += tile_kernel_sum(a, a, features, padded, i0, i1, j0, std::min(n, j0 + kTile), false, kernel);
  return sum + 2.0 * off;
}

}  // namespace

void normalise_by_reference(SampleMatrix& reference, SampleMatrix& generated) {
  require_same_width(reference, generated, "normalise_by_reference");
  std::vector<double> maxima(static_cast<std::size_t>(reference.cols), 0.0);
  for (std::int64_t i = 0; i < reference.rows; ++i)
    for (int c = 0; c < reference.cols; ++c)
      maxima[static_cast<std::size_t>(c)] =
          std::max(maxima[static_cast<std::size_t>(c)], std::abs(reference.row(i)[c]));
  for (double& m : maxima)
    if (m == 0) m = 1;  // JetNet: "don't normalise in case of features which are just 0"
  for (SampleMatrix* m : {&reference, &generated})
    for (std::int64_t i = 0; i < m->rows; ++i)
      for (int c = 0; c < m->cols; ++c)
        m->values[static_cast<std::size_t>(i * m->cols + c)] /= maxima[static_cast<std::size_t>(c)];
}

std::vector<std::int64_t> resample_indices(std::uint64_t seed, std::uint32_t domain, std::uint64_t item,
                                           std::int64_t count, std::int64_t population) {
  if (population <= 0) throw std::invalid_argument("resample_indices: empty population");
  core::Philox rng(seed, core::stream_id(domain, item));
  std::vector<std::int64_t> indices(static_cast<std::size_t>(count));
  for (auto& index : indices)
    index = std::min(population - 1, static_cast<std::int64_t>(rng.uniform() * static_cast<double>(population)));
  return indices;
}

std::vector<std::int64_t> fpd_batch_sizes(std::int64_t min_samples, std::int64_t max_samples, int points) {
  if (points < 1 || min_samples < 1 || max_samples < 1)
    throw std::invalid_argument("fpd_batch_sizes: need points >= 1 and positive sizes");
  const double start = 1.0 / static_cast<double>(min_samples), stop = 1.0 / static_cast<double>(max_samples);
  std::vector<std::int64_t> sizes;
  for (int k = 0; k < points; ++k) {
    // numpy.linspace(start, stop, points): start + k * step, the last exactly stop.
    const double inverse = points == 1 ? start : (k == points - 1 ? stop : k * ((stop - start) / (points - 1)) + start);
    sizes.push_back(static_cast<std::int64_t>(static_cast<std::int32_t>(1.0 / inverse)));
  }
  return sizes;
}

LineFit fit_nonnegative_line(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size() || x.empty())
    throw std::invalid_argument("fit_nonnegative_line: need equal, non-empty x and y");
  const double n = static_cast<double>(x.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) sx += x[i], sy += y[i], sxx += x[i] * x[i], sxy += x[i] * y[i];
  const auto ssr = [&](double a, double b) {
    double s = 0;
    for (std::size_t i = 0; i < x.size(); ++i) s += (y[i] - a - b * x[i]) * (y[i] - a - b * x[i]);
    return s;
  };
  const double determinant = n * sxx - sx * sx;
  LineFit fit;
  bool interior = false;
  if (determinant > 0) {
    fit.slope = (n * sxy - sx * sy) / determinant;
    fit.intercept = (sy - fit.slope * sx) / n;
    interior = fit.slope >= 0 && fit.intercept >= 0;
  }
  if (!interior) {
    // The optimum of this convex problem lies on a bound: take the best of the
    // optima with a = 0 and with b = 0 (each clipped at 0).
    const double slope_only = sxx > 0 ? std::max(0.0, sxy / sxx) : 0.0;
    const double intercept_only = std::max(0.0, sy / n);
    if (ssr(0, slope_only) < ssr(intercept_only, 0))
      fit.intercept = 0, fit.slope = slope_only;
    else
      fit.intercept = intercept_only, fit.slope = 0;
  }
  // curve_fit's covariance: (J^T J)^-1 * SSR / (n - 2), J = [1, x].
  if (x.size() > 2 && determinant > 0) {
    const double variance = ssr(fit.intercept, fit.slope) / (n - 2);
    fit.intercept_error = std::sqrt(sxx / determinant * variance);
    fit.slope_error = std::sqrt(n / determinant * variance);
  } else {
    fit.intercept_error = fit.slope_error = kNaN;
  }
  return fit;
}

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return kNaN;
  std::sort(values.begin(), values.end());
  const double position = q / 100.0 * static_cast<double>(values.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(std::floor(position));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  const double t = position - static_cast<double>(lo), a = values[lo], b = values[hi];
  // numpy's _lerp: from the nearer end, so the result is monotone in t.
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

double mmd2_polynomial_unbiased(const SampleMatrix& x, const SampleMatrix& y, int degree) {
  require_same_width(x, y, "mmd2_polynomial_unbiased");
  if (x.rows < 2 || y.rows < 2) throw std::invalid_argument("mmd2_polynomial_unbiased: need at least 2 rows each");
  const PolynomialKernel kernel{1.0 / x.cols, degree};
  double xx = 0, yy = 0, xy = 0;
  for (std::int64_t i = 0; i < x.rows; ++i)
    for (std::int64_t j = 0; j < x.rows; ++j)
      if (i != j) xx += kernel(dot(x.row(i), x.row(j), x.cols));
  for (std::int64_t i = 0; i < y.rows; ++i)
    for (std::int64_t j = 0; j < y.rows; ++j)
      if (i != j) yy += kernel(dot(y.row(i), y.row(j), y.cols));
  for (std::int64_t i = 0; i < x.rows; ++i)
    for (std::int64_t j = 0; j < y.rows; ++j) xy += kernel(dot(x.row(i), y.row(j), x.cols));
  const double m = static_cast<double>(x.rows), n = static_cast<double>(y.rows);
  return xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2 * xy / (m * n);
}

FpdResult frechet_physics_distance(const SampleMatrix& reference, const SampleMatrix& generated,
                                   const FpdOptions& options, const par::Communicator* comm) {
  require_same_width(reference, generated, "frechet_physics_distance");
  if (options.min_samples < 2 || options.max_samples < options.min_samples || options.points < 1 ||
      options.resamples < 1)
    throw std::invalid_argument(
        "frechet_physics_distance: need 2 <= min_samples <= max_samples, points, resamples >= 1");
  const std::int64_t available = std::min(reference.rows, generated.rows);
  if (available < 2) throw std::invalid_argument("frechet_physics_distance: need at least 2 rows in each sample");
  FpdResult result;
  result.min_samples = options.min_samples;
  result.max_samples = options.max_samples;
  if (available < options.max_samples) {
    // Keep JetNet's min/max ratio below what there is, rather than resample a few
    // showers into batches larger than the sample.
    result.reduced = true;
    result.max_samples = available;
    result.min_samples = std::max<std::int64_t>(
        2, static_cast<std::int64_t>(static_cast<double>(options.min_samples) * static_cast<double>(available) /
                                     static_cast<double>(options.max_samples)));
    std::ostringstream note;
    note << "only " << available << " showers in the smaller sample (< max_samples " << options.max_samples
         << "): batch sizes " << result.min_samples << ".." << result.max_samples << " instead of "
         << options.min_samples << ".." << options.max_samples;
    result.note = note.str();
  }
  result.batch_sizes = fpd_batch_sizes(result.min_samples, result.max_samples, options.points);
  const int d = reference.cols;
  const std::size_t items = result.batch_sizes.size() * static_cast<std::size_t>(options.resamples);
  const std::vector<double> distances = spread_items(items, comm, [&](std::size_t item) {
    const std::int64_t n = result.batch_sizes[item / static_cast<std::size_t>(options.resamples)];
    // Streams of (batch size, resample): 2 item for the reference rows, 2 item + 1 for the generated.
    const std::vector<std::int64_t> rows_ref = resample_indices(options.seed, kFpdDomain, 2 * item, n, reference.rows);
    const std::vector<std::int64_t> rows_gen =
        resample_indices(options.seed, kFpdDomain, 2 * item + 1, n, generated.rows);
    std::vector<double> mean1, cov1, mean2, cov2;
    mean_and_covariance(reference.values.data(), d, rows_ref.data(), n, mean1, cov1);
    mean_and_covariance(generated.values.data(), d, rows_gen.data(), n, mean2, cov2);
    return frechet_distance(mean1, cov1, mean2, cov2, d);
  });
  std::vector<double> inverse_sizes;
  for (std::size_t p = 0; p < result.batch_sizes.size(); ++p) {
    double sum = 0;
    for (int r = 0; r < options.resamples; ++r)
      sum += distances[p * static_cast<std::size_t>(options.resamples) + static_cast<std::size_t>(r)];
    result.mean_distances.push_back(sum / options.resamples);
    inverse_sizes.push_back(1.0 / static_cast<double>(result.batch_sizes[p]));
  }
  const LineFit fit = fit_nonnegative_line(inverse_sizes, result.mean_distances);
  result.value = fit.intercept;
  result.error = fit.intercept_error;
  result.slope = fit.slope;
  return result;
}

KpdResult kernel_physics_distance(const SampleMatrix& reference, const SampleMatrix& generated,
                                  const KpdOptions& options, const par::Communicator* comm) {
  require_same_width(reference, generated, "kernel_physics_distance");
  if (options.batch_size < 2 || options.batches < 1 || options.degree < 1)
    throw std::invalid_argument("kernel_physics_distance: need batch_size >= 2, batches >= 1, degree >= 1");
  const std::int64_t available = std::min(reference.rows, generated.rows);
  if (available < 2) throw std::invalid_argument("kernel_physics_distance: need at least 2 rows in each sample");
  KpdResult result;
  result.batch_size = std::min(options.batch_size, available);
  if (result.batch_size < options.batch_size) {
    result.reduced = true;
    std::ostringstream note;
    note << "only " << available << " showers in the smaller sample: batches of " << result.batch_size << " instead of "
         << options.batch_size;
    result.note = note.str();
  }
  const std::int64_t n = result.batch_size;
  const std::int64_t padded = (n + kMicroCols - 1) / kMicroCols * kMicroCols;
  const std::int64_t strips = (n + kTile - 1) / kTile;
  const PolynomialKernel kernel{1.0 / reference.cols, options.degree};
  // Items per batch: the XX, YY and XY strips.  Each rank packs a batch only when
  // one of its items needs it.
  const std::size_t per_batch = static_cast<std::size_t>(3 * strips);
  const std::size_t items = per_batch * static_cast<std::size_t>(options.batches);
  std::int64_t packed_batch = -1;
  std::vector<double> packed_x, packed_y;
  const std::vector<double> sums = spread_items(items, comm, [&](std::size_t item) {
    const std::int64_t batch = static_cast<std::int64_t>(item / per_batch);
    if (batch != packed_batch) {
      const std::uint64_t stream = 2 * static_cast<std::uint64_t>(batch);
      const std::vector<std::int64_t> rows_ref = resample_indices(options.seed, kKpdDomain, stream, n, reference.rows);
      const std::vector<std::int64_t> rows_gen =
          resample_indices(options.seed, kKpdDomain, stream + 1, n, generated.rows);
      packed_x = pack_feature_major(reference, rows_ref.data(), n, padded);
      packed_y = pack_feature_major(generated, rows_gen.data(), n, padded);
      packed_batch = batch;
    }
    const std::int64_t local = static_cast<std::int64_t>(item % per_batch);
    const std::int64_t strip = local % strips;
    switch (local / strips) {
      case 0:
        return strip_kernel_sum(packed_x.data(), nullptr, reference.cols, n, padded, strip, true, kernel);
      case 1:
        return strip_kernel_sum(packed_y.data(), nullptr, reference.cols, n, padded, strip, true, kernel);
      default:
        return strip_kernel_sum(packed_x.data(), packed_y.data(), reference.cols, n, padded, strip, false, kernel);
    }
  });
  const double m = static_cast<double>(n);
  for (int batch = 0; batch < options.batches; ++batch) {
    double xx = 0, yy = 0, xy = 0;
    const std::size_t base = static_cast<std::size_t>(batch) * per_batch;
    for (std::int64_t s = 0; s < strips; ++s) {
      xx += sums[base + static_cast<std::size_t>(s)];
      yy += sums[base + static_cast<std::size_t>(strips + s)];
      xy += sums[base + static_cast<std::size_t>(2 * strips + s)];
    }
    result.values.push_back(xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2 * xy / (m * m));
  }
  std::vector<double> sorted = result.values;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t count = sorted.size();
  result.value = count % 2 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2;
  result.error = (percentile(result.values, 83.725) - percentile(result.values, 16.275)) / 2;
  return result;
}

}  // namespace qvae::eval
