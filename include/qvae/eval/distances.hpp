// Fréchet and kernel physics distances (FPD, KPD) exactly as JetNet defines
// them (jet-net/JetNet jetnet/evaluation/gen_metrics.py, read at commit
// 018bf952; docs/evaluation.md), with resampling driven by core::Philox
// keyed by (seed, work item) so that the result does not depend on the rank count.
//
//  * Both samples are divided by the per-feature max |reference| (0 -> 1).
//  * FPD: batch sizes N_k = int(1 / linspace(1/min, 1/max, points)); for each,
//    the mean over `resamples` Fréchet distances of resamples (with replacement)
//    of N_k rows of each sample; fit value = a + b/N with a, b >= 0 (as
//    scipy.optimize.curve_fit with bounds); report a and its standard error
//    sqrt(cov_aa), cov = (J^T J)^-1 * SSR / (points - 2).
//  * KPD: unbiased quadratic MMD^2 with k(x, y) = (x.y / d + 1)^4 (JetNet's
//    _mmd_poly_quadratic_unbiased defaults to degree 4)
//    over `batches` resamples of `batch_size` rows; report the median and half
//    the 16.275-83.725 % inter-quantile range (linear interpolation).
//
// Work items (one Fréchet distance; one tile of one MMD batch) are spread over
// ranks round-robin; each item is computed by one rank in a fixed order and the
// results are combined in item order, so 1 and K ranks give identical bits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qvae/par/communicator.hpp"

namespace qvae::eval {

/// A row-major matrix of samples x features.
struct SampleMatrix {
  std::int64_t rows = 0;
  int cols = 0;
  std::vector<double> values;
  const double* row(std::int64_t i) const { return values.data() + i * cols; }
};

/// Divides both in place by the per-column max |reference| (columns of zeros stay as they are).
void normalise_by_reference(SampleMatrix& reference, SampleMatrix& generated);

/// `count` indices drawn uniformly with replacement from [0, population), from the
/// Philox stream (seed, stream_id(domain, item)).
std::vector<std::int64_t> resample_indices(std::uint64_t seed, std::uint32_t domain, std::uint64_t item,
                                           std::int64_t count, std::int64_t population);

/// JetNet's batch sizes: (1 / numpy.linspace(1/min, 1/max, points)).astype(int32).
std::vector<std::int64_t> fpd_batch_sizes(std::int64_t min_samples, std::int64_t max_samples, int points);

struct LineFit {
  double intercept = 0, slope = 0;
  double intercept_error = 0, slope_error = 0;  ///< NaN with fewer than 3 points
};
/// Least-squares y = intercept + slope * x with intercept, slope >= 0.
LineFit fit_nonnegative_line(const std::vector<double>& x, const std::vector<double>& y);

/// numpy.percentile(values, q) with linear interpolation (q in [0, 100]).
double percentile(std::vector<double> values, double q);

/// Unbiased quadratic MMD^2 with the kernel (x.y / d + 1)^degree, serially.
double mmd2_polynomial_unbiased(const SampleMatrix& x, const SampleMatrix& y, int degree = 4);

struct FpdOptions {
  std::int64_t min_samples = 10000;  ///< evaluate.py's call: jetnet.evaluation.fpd(..., min_samples=10000)
  std::int64_t max_samples = 50000;  ///< JetNet's default
  int points = 10;                   ///< batch sizes
  int resamples = 20;                ///< Fréchet distances averaged per batch size
  std::uint64_t seed = 42;           ///< JetNet's default seed
};
struct FpdResult {
  double value = 0, error = 0;  ///< the fitted intercept and its error (not scaled by 10^3)
  double slope = 0;
  std::vector<std::int64_t> batch_sizes;
  std::vector<double> mean_distances;             ///< per batch size
  std::int64_t min_samples = 0, max_samples = 0;  ///< as used
  bool reduced = false;                           ///< the sizes were scaled down to the available samples
  std::string note;                               ///< why, when reduced
};
/// Collective when `comm` is given (work spread over its ranks; every rank gets
/// the result).  Inputs must be normalised already and identical on every rank.
/// With fewer rows than max_samples in either sample, the largest batch is the
/// smaller row count and the smallest keeps the min/max ratio (at least 2 rows).
FpdResult frechet_physics_distance(const SampleMatrix& reference, const SampleMatrix& generated,
                                   const FpdOptions& options, const par::Communicator* comm = nullptr);

struct KpdOptions {
  std::int64_t batch_size = 10000;  ///< evaluate.py's call: kpd(..., batch_size=10000)
  int batches = 10;
  int degree = 4;
  std::uint64_t seed = 42;
};
struct KpdResult {
  double value = 0, error = 0;  ///< median and half the 16.275-83.725 % IQR (not scaled)
  std::vector<double> values;   ///< MMD^2 per batch
  std::int64_t batch_size = 0;  ///< as used
  bool reduced = false;
  std::string note;
};
/// Collective when `comm` is given, like frechet_physics_distance.  With fewer rows
/// than batch_size in either sample, batches hold the smaller row count.
KpdResult kernel_physics_distance(const SampleMatrix& reference, const SampleMatrix& generated,
                                  const KpdOptions& options, const par::Communicator* comm = nullptr);

}  // namespace qvae::eval
