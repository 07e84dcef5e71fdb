// Transforms of calorimeter data for the QVAE (docs/model.md, "The voxel
// transform and its scale" and "Conditioning on the incident energy"):
//
//  * LogitTransform      voxel energy relative to E_inc  <->  "reduced" logit u
//  * ScaledLogEnergy     incident energy  <->  (ln E - a)/(b - a)
//  * BinaryEnergyCode    incident energy  ->  0/1 nodes of the conditioned prior partition
//  * SinusoidalEnergyEmbedding  incident energy  ->  sin/cos features of ln E
//
// Energies are in MeV.  All arithmetic is done in double, whatever the storage
// type.  Parameters are constructor arguments whose defaults are the
// documented reference values, so configs can override every one of them.
//
// Errors: a bad parameter is a core::UsageError (exit 2); a bad data value is a
// core::InputError (exit 3) naming the offending index.  Functions over arrays
// check the whole input before writing anything, so a refused call leaves the
// output untouched (input and output may be the same array).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace qvae::data {

// ---------------------------------------------------------------------------
// Reduce/logit transform of voxel energies (CaloDiffusion "reducedata").
// ---------------------------------------------------------------------------

/// Reference value of R (OLD dvaeatlas_training_peg*.yaml, NEW hard-coded).
inline constexpr double kDefaultLogitR = 1e-7;

/// Maps a voxel energy E_vox of a shower with incident energy E_inc to
///   eps = E_vox / E_inc,  x = R + (1 - 2R) eps,  u = ln( x (1 - R) / (R (1 - x)) )
/// and back with
///   E_vox = ( sigmoid(u + ln(R / (1 - R))) - R ) / (1 - 2R) * E_inc.
/// An empty voxel maps to u == 0 exactly and u == 0 maps back to exactly 0;
/// every non-empty voxel maps to u > 0 (the "hit" target is u > 0).
/// With R = 1e-7, u lies in [0, 2 ln((1-R)/R)] = [0, ~32.2].
///
/// The implementation evaluates algebraically equal forms that avoid
/// cancellation: u = log1p(eps (1-2R)/R) - log1p(-eps (1-2R)/(1-R)) (for
/// eps > 1/2 the second term is ln(R + (1-2R)(1-eps)) - log1p(-R)), and for
/// the inverse eps = R(1-R)(1-e^-u) / ((1-2R)(e^-u + R(1-e^-u))).
/// In double a round trip is exact to a few 1e-15 relative.  Stored as float, u
/// costs E_vox at most half an ulp of u times d(ln E_vox)/du = s(1-s)/(s-R)
/// (s = sigmoid(u + ln(R/(1-R)))): below 6e-7 relative for R = 1e-7 over
/// eps in [1e-8, 1].
///
/// Fraction scale s >= 1: eps = E_vox / (s E_inc) instead of E_vox / E_inc, so
/// showers whose voxels exceed E_inc (calibrated data, sampling-fraction
/// corrections) stay in range.  s = 1 is the transform above exactly.
class LogitTransform {
 public:
  /// Throws core::UsageError unless 0 < r < 0.5 and fraction_scale is finite and >= 1.
  explicit LogitTransform(double r = kDefaultLogitR, double fraction_scale = 1.0);

  double r() const { return r_; }
  double fraction_scale() const { return scale_; }
  /// u of a voxel holding the whole incident energy (eps = 1).
  double max_u() const;

  /// One voxel.  Throws core::InputError when E_inc is not finite and > 0,
  /// or E_vox is not finite or E_vox / (s E_inc) is outside [0, 1].
  double forward(double voxel_energy, double incident_energy) const;
  /// One voxel.  u <= 0 (outside the forward image below the empty point, as a
  /// decoder may produce) gives 0; u > max_u() gives slightly more than E_inc.
  /// Throws core::InputError when u is not finite or E_inc is not finite and > 0.
  double inverse(double u, double incident_energy) const;

  /// A row of `count` voxels of one shower with incident energy E_inc:
  /// reduced[i] = forward(voxels[i], E_inc).  The error names the voxel index.
  void forward_row(const float* voxels, std::size_t count, double incident_energy, float* reduced) const;
  void forward_row(const double* voxels, std::size_t count, double incident_energy, double* reduced) const;
  /// voxels[i] = inverse(reduced[i], E_inc).
  void inverse_row(const float* reduced, std::size_t count, double incident_energy, float* voxels) const;
  void inverse_row(const double* reduced, std::size_t count, double incident_energy, double* voxels) const;

  /// `rows` showers of `voxels_per_row` voxels each, row-major, with one
  /// incident energy per row.  The error names the event (row) and voxel.
  void forward_rows(const float* showers, std::size_t rows, std::size_t voxels_per_row, const float* incident_energies,
                    float* reduced) const;
  void forward_rows(const double* showers, std::size_t rows, std::size_t voxels_per_row,
                    const double* incident_energies, double* reduced) const;
  void inverse_rows(const float* reduced, std::size_t rows, std::size_t voxels_per_row, const float* incident_energies,
                    float* showers) const;
  void inverse_rows(const double* reduced, std::size_t rows, std::size_t voxels_per_row,
                    const double* incident_energies, double* showers) const;

 private:
  double r_;
  double scale_;
};

// ---------------------------------------------------------------------------
// Scaled log energy (trans_energy), the conditioning channel of encoder/decoder.
// ---------------------------------------------------------------------------

/// s = (ln E - a) / (b - a); inverse E = exp(a + s (b - a)).
/// Defaults a = 6, b = 14 are the ds2 values (ln 1 GeV = 6.9, ln 1 TeV = 13.8);
/// ATLAS-like data use a = 5, b = 16.
class ScaledLogEnergy {
 public:
  /// Throws core::UsageError unless a and b are finite and a < b.
  explicit ScaledLogEnergy(double log_min = 6.0, double log_max = 14.0);

  double log_min() const { return log_min_; }
  double log_max() const { return log_max_; }

  /// Throws core::InputError unless E is finite and > 0.
  double forward(double energy) const;
  /// Throws core::InputError unless s is finite.
  double inverse(double scaled) const;

  /// Arrays: out[i] = forward(energies[i]); the error names index i.
  void forward(const double* energies, std::size_t count, double* scaled) const;
  void forward(const float* energies, std::size_t count, float* scaled) const;
  void inverse(const double* scaled, std::size_t count, double* energies) const;
  void inverse(const float* scaled, std::size_t count, float* energies) const;

 private:
  double log_min_, log_max_;
};

// ---------------------------------------------------------------------------
// Binary energy code clamped on the conditioned prior partition (binary_energy).
// ---------------------------------------------------------------------------

/// The three integers the code is made of, for an energy E in MeV (computed in
/// double): floor(E), floor(sqrt(10 E)), floor(e^10 ln E).
struct EnergyCodeFeatures {
  std::uint64_t linear = 0;  ///< floor(E)
  std::uint64_t sqrt = 0;    ///< floor(sqrt(10 E))
  std::uint64_t log = 0;     ///< floor(e^10 * ln E)
  bool operator==(const EnergyCodeFeatures& other) const {
    return linear == other.linear && sqrt == other.sqrt && log == other.log;
  }
  bool operator!=(const EnergyCodeFeatures& other) const { return !(*this == other); }
};

/// Bits given to each feature in one copy of the code.
struct EnergyCodeWidths {
  int linear = 0;
  int sqrt = 0;
  int log = 0;
  int total() const { return linear + sqrt + log; }
};

/// Layout of the partition of P nodes:
///   copy = [bits of linear | bits of sqrt | bits of log], each least
///          significant bit first (node k of a field = bit k of the integer);
///   nodes = copy repeated floor(P / copy_length) times, then zeros to P.
/// The reference code (OLD 20/20/20, NEW 15/15/15 bits) silently wraps large
/// values modulo 2^bits; here the widths are chosen so no code wraps over the
/// data's energy range, and encoding a value that would wrap is refused.
class BinaryEnergyCode {
 public:
  /// Minimal widths covering floor(E_max), floor(sqrt(10 E_max)) and
  /// floor(e^10 ln E_max); every feature is non-decreasing in E, so no energy in
  /// (1, E_max] wraps.  Throws core::InputError unless E_max is finite and
  /// > 1 MeV, core::UsageError when the partition cannot hold one copy.
  BinaryEnergyCode(double max_energy, int partition_size);
  /// Explicit widths (e.g. 20/20/20 to reproduce the reference layout).
  /// Throws core::UsageError for a width outside [1, 63] or a partition that
  /// cannot hold one copy.
  BinaryEnergyCode(EnergyCodeWidths widths, int partition_size);

  const EnergyCodeWidths& widths() const { return widths_; }
  int partition_size() const { return partition_size_; }
  int copy_length() const { return widths_.total(); }
  int copies() const { return partition_size_ / widths_.total(); }
  /// Zero nodes after the last copy.
  int padding() const { return partition_size_ - copies() * widths_.total(); }

  /// The integer features of E.  Throws core::InputError unless E is finite and
  /// > 1 MeV (so ln E > 0).
  static EnergyCodeFeatures features(double energy);
  /// Minimal widths holding the features of E (each at least 1 bit).
  static EnergyCodeWidths minimal_widths(double energy);
  /// features(E), refusing (core::InputError) a feature that needs more bits
  /// than its width, i.e. that would wrap.
  EnergyCodeFeatures checked_features(double energy) const;

  /// Writes the partition_size() nodes (0 or 1) for E.  Throws core::InputError
  /// when E <= 1 MeV or a feature needs more bits than its width (would wrap).
  void encode(double energy, std::uint8_t* nodes) const;
  void encode(double energy, float* nodes) const;
  std::vector<std::uint8_t> encode(double energy) const;
  /// `count` energies -> `count` rows of partition_size() nodes, row-major.
  /// Checks every energy first; the error names the event index.
  void encode_rows(const double* energies, std::size_t count, float* nodes) const;
  void encode_rows(const float* energies, std::size_t count, float* nodes) const;

  /// Reads the features back from a field of partition_size() nodes.  Throws
  /// core::InputError when a node is not exactly 0 or 1, the copies disagree or
  /// a padding node is not 0 (naming the node index).
  EnergyCodeFeatures decode(const std::uint8_t* nodes) const;
  EnergyCodeFeatures decode(const float* nodes) const;

 private:
  EnergyCodeWidths widths_;
  int partition_size_;
};

// ---------------------------------------------------------------------------
// Sinusoidal embedding of ln E.
// ---------------------------------------------------------------------------

/// For dimension d (even) and i = 0 .. d/2 - 1:
///   emb[2i]     = sin( ln E * base^(-2i/d) )
///   emb[2i + 1] = cos( ln E * base^(-2i/d) )
/// with base = 10000 by default (the transformer positional encoding with the
/// position replaced by ln E, E in MeV).
class SinusoidalEnergyEmbedding {
 public:
  /// Throws core::UsageError unless dim is even and >= 2 and base is finite and > 1.
  explicit SinusoidalEnergyEmbedding(int dim, double base = 10000.0);

  int dim() const { return dim_; }
  double base() const { return base_; }

  /// Writes dim() values.  Throws core::InputError unless E is finite and > 0.
  void embed(double energy, double* out) const;
  void embed(double energy, float* out) const;
  std::vector<double> embed(double energy) const;
  /// `count` energies -> `count` rows of dim() values, row-major.
  void embed_rows(const double* energies, std::size_t count, float* out) const;
  void embed_rows(const float* energies, std::size_t count, float* out) const;

 private:
  int dim_;
  double base_;
  std::vector<double> frequencies_;  ///< base^(-2i/d), i = 0 .. d/2 - 1
};

}  // namespace qvae::data
