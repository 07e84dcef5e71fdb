// Histograms with CaloChallenge's binnings and the separation power between two
// of them (docs/evaluation.md).
//
// Counts are integers, so histograms filled on any number of ranks and summed
// are identical; the binning must be decided first, from global reductions.
// Edges are built exactly as numpy.linspace / numpy.logspace build them and
// values are binned with numpy.histogram's rule ([e_i, e_i+1), the last bin
// closed; values outside the edges or NaN are not counted).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qvae/io/file.hpp"
#include "qvae/par/communicator.hpp"

namespace qvae::eval {

struct Binning {
  std::vector<double> edges;  ///< ascending, bins() + 1 values
  bool log_scale = false;     ///< drawn on a log axis (edges spaced in log10)

  int bins() const { return edges.empty() ? 0 : static_cast<int>(edges.size()) - 1; }
  /// The bin holding `value`, or -1 when outside [edges.front(), edges.back()] or NaN.
  int find(double value) const;

  /// numpy.linspace(lo, hi, bins + 1).
  static Binning linear(double lo, double hi, int bins);
  /// `bins` equal bins over the finite values of both `a` and `b` (so their
  /// histograms compare bin by bin); a single value x is widened by
  /// widen·|x| + 0.5 on each side, and no finite value at all gives [0, 1].
  static Binning linear_over(const std::vector<double>& a, const std::vector<double>& b, int bins, double widen);
  /// numpy.logspace(log10(lo), log10(hi), edge_count): edge_count - 1 bins, as
  /// evaluate.py's `np.logspace(np.log10(min_energy), np.log10(max), 40)` (39 bins).
  static Binning log_edges(double lo, double hi, int edge_count);
  /// numpy.logspace(start, stop, edge_count): 10 ** numpy.linspace(start, stop, edge_count).
  /// evaluate.py passes np.log10 of a float32 maximum, i.e. a float32 exponent.
  static Binning logspace(double start, double stop, int edge_count);
};

/// Counts per bin.
struct Histogram {
  Binning binning;
  std::vector<std::int64_t> counts;
  std::int64_t outside = 0;  ///< values not counted (outside the edges, or NaN)

  explicit Histogram(Binning b = {}) : binning(std::move(b)), counts(static_cast<std::size_t>(binning.bins()), 0) {}
  void fill(double value);
  std::int64_t entries() const;  ///< counted values
  /// Collective: sums counts and `outside` over ranks in place (exact: integers).
  void sum_over(const par::Communicator& comm);
};

/// Separation power (triangular discrimination, eq. 15 of arXiv:2009.03796, as
/// evaluate.py's _separation_power) of two histograms normalised to unit sum:
///   S = 1/2 sum_i (p_i - q_i)^2 / (p_i + q_i + 1e-16),  0 <= S <= 1.
/// `floor` is the value S takes on average for two finite samples of one
/// distribution: n_occupied * (1/N_a + 1/N_b) / 4, i.e. n_occupied / (2N) for equal N
/// (n_occupied = bins non-empty in either histogram).  S near its floor
/// means "indistinguishable with these statistics".
struct SeparationPower {
  double value = 0;  ///< NaN when either histogram is empty
  double floor = 0;  ///< NaN when either histogram is empty
  int occupied_bins = 0;
  std::int64_t entries_a = 0, entries_b = 0;
};
SeparationPower separation_power(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b);

/// Histogram-intersection overlap sum_i min(p_i, q_i) of the two unit-sum histograms
/// (1 = identical shapes, 0 = disjoint); NaN when either is empty.
double overlap(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b);

/// The original study's chi^2 distance between two histograms of raw counts
/// (its utils/plots.py): sum over bins with P + Q > 0 of
/// (P - Q)^2 / (P + Q).  It grows with the sample size; `per_bin` divides it
/// by the occupied bins (the form of the trainer's recon_chi2 rule).
struct ChiSquared {
  double value = 0;
  int occupied_bins = 0;
  double per_bin() const;  ///< value / occupied_bins; NaN when no bin is occupied
};
ChiSquared chi_squared(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b);

/// Count, mean and population standard deviation (NaN when empty).
struct SampleMoments {
  std::int64_t count = 0;
  double mean;
  double deviation;
};
/// Two passes over the values in their given (global) order: the mean, then the
/// squared deviations from it.  No E[x²] − E[x]² cancellation (energies are
/// large and close together), and the same order gives the same bits.
SampleMoments sample_moments(const std::vector<double>& values);

/// Two histograms of one binning as group `group` of a histograms file:
/// `edges`, `<first_name>` and `<second_name>` counts and a `label` attribute.
void write_histogram_pair(io::File& file, const std::string& group, const std::string& label,
                          const std::string& first_name, const Histogram& first, const std::string& second_name,
                          const Histogram& second);

}  // namespace qvae::eval
