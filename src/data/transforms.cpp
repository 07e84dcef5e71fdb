#include "qvae/data/transforms.hpp"

#include <cmath>
#include <sstream>
#include <string>

#include "qvae/core/error.hpp"

namespace qvae::data {
namespace {

using core::describe;
using core::InputError;
using core::UsageError;

std::string number(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

std::string voxel_where(std::size_t voxel) { return "at voxel " + std::to_string(voxel); }
std::string event_voxel_where(std::size_t event, std::size_t voxel) {
  return "at event " + std::to_string(event) + ", voxel " + std::to_string(voxel);
}

void check_incident_energy(double incident_energy, const std::string& where) {
  if (!std::isfinite(incident_energy) || !(incident_energy > 0.0)) {
    throw InputError(describe("incident energy " + number(incident_energy) + " MeV is not a finite positive number",
                              where, "check the incident_energies dataset"));
  }
}

// Returns the message for a voxel that cannot be transformed, or "" when it can.
std::string voxel_problem(double voxel_energy, double incident_energy, double scale) {
  if (!std::isfinite(voxel_energy)) return "voxel energy " + number(voxel_energy) + " MeV is not finite";
  const double fraction = voxel_energy / (scale * incident_energy);
  if (!(fraction >= 0.0 && fraction <= 1.0)) {
    return "voxel energy " + number(voxel_energy) + " MeV is outside [0, " +
           (scale == 1.0 ? std::string() : number(scale) + " x ") + "E_inc = " + number(scale * incident_energy) +
           " MeV], the range of the voxel transform (model.fraction_scale = " + number(scale) + ")";
  }
  return {};
}

}  // namespace

// ---------------------------------------------------------------------------
// LogitTransform

LogitTransform::LogitTransform(double r, double fraction_scale) : r_(r), scale_(fraction_scale) {
  if (!(r > 0.0 && r < 0.5)) {
    throw UsageError(describe("logit parameter R = " + number(r) + " is outside (0, 0.5)", "data transform",
                              "use a small positive R such as 1e-7"));
  }
  if (!std::isfinite(fraction_scale) || !(fraction_scale >= 1.0)) {
    throw UsageError(describe("voxel fraction scale " + number(fraction_scale) + " is not a finite number >= 1",
                              "data transform",
                              "use 1 for showers with E_vox <= E_inc, or set model.fraction_scale = auto"));
  }
}

double LogitTransform::max_u() const { return 2.0 * std::log((1.0 - r_) / r_); }

namespace {

// u = ln(x/R) - ln((1-x)/(1-R)) with x = R + (1-2R) eps.  The second term is
// written with log1p for eps <= 1/2 (small fractions keep their precision) and
// through 1-x = R + (1-2R)(1-eps) above (1-eps is exact there, and 1-x may be
// as small as R).  eps == 0 gives exactly 0.
double logit_of_fraction(double fraction, double r) {
  if (fraction == 0.0) return 0.0;
  const double scaled = (1.0 - 2.0 * r) * fraction;
  const double log_x_over_r = std::log1p(scaled / r);
  if (fraction <= 0.5) return log_x_over_r - std::log1p(-scaled / (1.0 - r));
  const double one_minus_x = r + (1.0 - 2.0 * r) * (1.0 - fraction);
  return log_x_over_r - (std::log(one_minus_x) - std::log1p(-r));
}

// The inverse of logit_of_fraction for u > 0, in a form without overflow or
// cancellation: eps = R(1-R)(1-e^-u) / ((1-2R)(e^-u + R(1-e^-u))).
double fraction_of_logit(double u, double r) {
  if (!(u > 0.0)) return 0.0;
  const double one_minus_decay = -std::expm1(-u);
  const double decay = std::exp(-u);
  return r * (1.0 - r) * one_minus_decay / ((1.0 - 2.0 * r) * (decay + r * one_minus_decay));
}

// Where a voxel sits: "at voxel i" for a single row, "at event e, voxel i" for rows.
struct RowLocation {
  bool in_batch = false;
  std::size_t event = 0;
  std::string row() const { return in_batch ? "at event " + std::to_string(event) : std::string(); }
  std::string voxel(std::size_t index) const { return in_batch ? event_voxel_where(event, index) : voxel_where(index); }
};

template <typename T>
void check_forward_row(double scale, const T* voxels, std::size_t count, double incident_energy,
                       const RowLocation& where) {
  check_incident_energy(incident_energy, where.row());
  for (std::size_t i = 0; i < count; ++i) {
    const std::string problem = voxel_problem(static_cast<double>(voxels[i]), incident_energy, scale);
    if (!problem.empty()) throw InputError(describe(problem, where.voxel(i), "check the showers dataset"));
  }
}

template <typename T>
void check_inverse_row(const T* reduced, std::size_t count, double incident_energy, const RowLocation& where) {
  check_incident_energy(incident_energy, where.row());
  for (std::size_t i = 0; i < count; ++i) {
    if (!std::isfinite(static_cast<double>(reduced[i]))) {
      throw InputError(describe("reduced voxel value " + number(static_cast<double>(reduced[i])) + " is not finite",
                                where.voxel(i), "check the model output"));
    }
  }
}

// The transform sees fractions of the energy scale s E_inc (s = fraction scale).
template <typename T>
void apply_forward_row(double r, double scale, const T* voxels, std::size_t count, double incident_energy, T* reduced) {
  const double full = scale * incident_energy;
  for (std::size_t i = 0; i < count; ++i) {
    reduced[i] = static_cast<T>(logit_of_fraction(static_cast<double>(voxels[i]) / full, r));
  }
}

template <typename T>
void apply_inverse_row(double r, double scale, const T* reduced, std::size_t count, double incident_energy, T* voxels) {
  const double full = scale * incident_energy;
  for (std::size_t i = 0; i < count; ++i) {
    voxels[i] = static_cast<T>(fraction_of_logit(static_cast<double>(reduced[i]), r) * full);
  }
}

template <typename T>
void forward_row_impl(double r, double scale, const T* voxels, std::size_t count, double incident_energy, T* reduced) {
  check_forward_row(scale, voxels, count, incident_energy, RowLocation{});
  apply_forward_row(r, scale, voxels, count, incident_energy, reduced);
}

template <typename T>
void inverse_row_impl(double r, double scale, const T* reduced, std::size_t count, double incident_energy, T* voxels) {
  check_inverse_row(reduced, count, incident_energy, RowLocation{});
  apply_inverse_row(r, scale, reduced, count, incident_energy, voxels);
}

// Every row is checked before any is written, so a refused call leaves `out` untouched.
template <typename T, class Check, class Apply>
void transform_rows(const T* in, std::size_t rows, std::size_t voxels_per_row, const T* incident_energies, T* out,
                    Check check, Apply apply) {
  for (std::size_t row = 0; row < rows; ++row)
    check(in + row * voxels_per_row, voxels_per_row, static_cast<double>(incident_energies[row]),
          RowLocation{true, row});
  for (std::size_t row = 0; row < rows; ++row)
    apply(in + row * voxels_per_row, voxels_per_row, static_cast<double>(incident_energies[row]),
          out + row * voxels_per_row);
}

template <typename T>
void forward_rows_impl(double r, double scale, const T* showers, std::size_t rows, std::size_t voxels_per_row,
                       const T* incident_energies, T* reduced) {
  transform_rows(
      showers, rows, voxels_per_row, incident_energies, reduced,
      [scale](const T* in, std::size_t n, double e, const RowLocation& where) {
        check_forward_row(scale, in, n, e, where);
      },
      [r, scale](const T* in, std::size_t n, double e, T* out) { apply_forward_row(r, scale, in, n, e, out); });
}

template <typename T>
void inverse_rows_impl(double r, double scale, const T* reduced, std::size_t rows, std::size_t voxels_per_row,
                       const T* incident_energies, T* showers) {
  transform_rows(
      reduced, rows, voxels_per_row, incident_energies, showers, check_inverse_row<T>,
      [r, scale](const T* in, std::size_t n, double e, T* out) { apply_inverse_row(r, scale, in, n, e, out); });
}

}  // namespace

double LogitTransform::forward(double voxel_energy, double incident_energy) const {
  check_incident_energy(incident_energy, {});
  const std::string problem = voxel_problem(voxel_energy, incident_energy, scale_);
  if (!problem.empty()) throw InputError(describe(problem, {}, "check the showers dataset"));
  return logit_of_fraction(voxel_energy / (scale_ * incident_energy), r_);
}

double LogitTransform::inverse(double u, double incident_energy) const {
  check_incident_energy(incident_energy, {});
  if (!std::isfinite(u)) {
    throw InputError(describe("reduced voxel value " + number(u) + " is not finite", {}, "check the model output"));
  }
  return fraction_of_logit(u, r_) * scale_ * incident_energy;
}

void LogitTransform::forward_row(const float* voxels, std::size_t count, double incident_energy, float* reduced) const {
  forward_row_impl(r_, scale_, voxels, count, incident_energy, reduced);
}
void LogitTransform::forward_row(const double* voxels, std::size_t count, double incident_energy,
                                 double* reduced) const {
  forward_row_impl(r_, scale_, voxels, count, incident_energy, reduced);
}
void LogitTransform::inverse_row(const float* reduced, std::size_t count, double incident_energy, float* voxels) const {
  inverse_row_impl(r_, scale_, reduced, count, incident_energy, voxels);
}
void LogitTransform::inverse_row(const double* reduced, std::size_t count, double incident_energy,
                                 double* voxels) const {
  inverse_row_impl(r_, scale_, reduced, count, incident_energy, voxels);
}

void LogitTransform::forward_rows(const float* showers, std::size_t rows, std::size_t voxels_per_row,
                                  const float* incident_energies, float* reduced) const {
  forward_rows_impl(r_, scale_, showers, rows, voxels_per_row, incident_energies, reduced);
}
void LogitTransform::forward_rows(const double* showers, std::size_t rows, std::size_t voxels_per_row,
                                  const double* incident_energies, double* reduced) const {
  forward_rows_impl(r_, scale_, showers, rows, voxels_per_row, incident_energies, reduced);
}
void LogitTransform::inverse_rows(const float* reduced, std::size_t rows, std::size_t voxels_per_row,
                                  const float* incident_energies, float* showers) const {
  inverse_rows_impl(r_, scale_, reduced, rows, voxels_per_row, incident_energies, showers);
}
void LogitTransform::inverse_rows(const double* reduced, std::size_t rows, std::size_t voxels_per_row,
                                  const double* incident_energies, double* showers) const {
  inverse_rows_impl(r_, scale_, reduced, rows, voxels_per_row, incident_energies, showers);
}

// ---------------------------------------------------------------------------
// ScaledLogEnergy

ScaledLogEnergy::ScaledLogEnergy(double log_min, double log_max) : log_min_(log_min), log_max_(log_max) {
  if (!std::isfinite(log_min) || !std::isfinite(log_max) || !(log_min < log_max)) {
    throw UsageError(describe(
        "scaled log energy bounds a = " + number(log_min) + ", b = " + number(log_max) + " are not finite with a < b",
        "data transform", "use e.g. a = 6, b = 14 (ds2)"));
  }
}

namespace {

void check_positive_energy(double energy, const std::string& where) {
  if (!std::isfinite(energy) || !(energy > 0.0)) {
    throw InputError(describe("incident energy " + number(energy) + " MeV is not a finite positive number", where,
                              "check the incident_energies dataset"));
  }
}

std::string index_where(std::size_t index) { return "at index " + std::to_string(index); }

}  // namespace

double ScaledLogEnergy::forward(double energy) const {
  check_positive_energy(energy, {});
  return (std::log(energy) - log_min_) / (log_max_ - log_min_);
}

double ScaledLogEnergy::inverse(double scaled) const {
  if (!std::isfinite(scaled)) {
    throw InputError(describe("scaled log energy " + number(scaled) + " is not finite", {}, "check the input"));
  }
  return std::exp(log_min_ + scaled * (log_max_ - log_min_));
}

namespace {

template <typename T>
void scaled_forward_impl(const ScaledLogEnergy& transform, const T* energies, std::size_t count, T* scaled) {
  for (std::size_t i = 0; i < count; ++i) check_positive_energy(static_cast<double>(energies[i]), index_where(i));
  for (std::size_t i = 0; i < count; ++i)
    scaled[i] = static_cast<T>(transform.forward(static_cast<double>(energies[i])));
}

template <typename T>
void scaled_inverse_impl(const ScaledLogEnergy& transform, const T* scaled, std::size_t count, T* energies) {
  for (std::size_t i = 0; i < count; ++i) {
    if (!std::isfinite(static_cast<double>(scaled[i]))) {
      throw InputError(describe("scaled log energy " + number(static_cast<double>(scaled[i])) + " is not finite",
                                index_where(i), "check the input"));
    }
  }
  for (std::size_t i = 0; i < count; ++i)
    energies[i] = static_cast<T>(transform.inverse(static_cast<double>(scaled[i])));
}

}  // namespace

void ScaledLogEnergy::forward(const double* energies, std::size_t count, double* scaled) const {
  scaled_forward_impl(*this, energies, count, scaled);
}
void ScaledLogEnergy::forward(const float* energies, std::size_t count, float* scaled) const {
  scaled_forward_impl(*this, energies, count, scaled);
}
void ScaledLogEnergy::inverse(const double* scaled, std::size_t count, double* energies) const {
  scaled_inverse_impl(*this, scaled, count, energies);
}
void ScaledLogEnergy::inverse(const float* scaled, std::size_t count, float* energies) const {
  scaled_inverse_impl(*this, scaled, count, energies);
}

// ---------------------------------------------------------------------------
// BinaryEnergyCode

namespace {

constexpr int kMaxFieldWidth = 63;
// Energies from 2^63 MeV on do not fit the integer features at all.
constexpr double kEnergyFeatureLimit = 9223372036854775808.0;

int bits_needed(std::uint64_t value) {
  int bits = 1;  // a field of zero still takes one node
  while (bits < 64 && (value >> bits) != 0) ++bits;
  return bits;
}

bool fits(std::uint64_t value, int width) { return width >= 64 || (value >> width) == 0; }

void check_partition(const EnergyCodeWidths& widths, int partition_size) {
  for (int width : {widths.linear, widths.sqrt, widths.log}) {
    if (width < 1 || width > kMaxFieldWidth) {
      throw UsageError(describe("binary energy code field width " + std::to_string(width) + " is outside [1, 63]",
                                "conditioned prior partition", "choose widths from the data's energy range"));
    }
  }
  if (partition_size < widths.total()) {
    throw UsageError(describe("conditioned partition of " + std::to_string(partition_size) +
                                  " nodes cannot hold one binary energy code of " + std::to_string(widths.total()) +
                                  " bits (" + std::to_string(widths.linear) + "+" + std::to_string(widths.sqrt) + "+" +
                                  std::to_string(widths.log) + ")",
                              "conditioned prior partition", "use a larger partition or a smaller energy range"));
  }
}

template <typename Node>
void write_code(const EnergyCodeFeatures& features, const EnergyCodeWidths& widths, int partition_size, Node* nodes) {
  const int copy_length = widths.total();
  const int copies = partition_size / copy_length;
  int node = 0;
  for (int copy = 0; copy < copies; ++copy) {
    for (const auto& field : {std::make_pair(features.linear, widths.linear),
                              std::make_pair(features.sqrt, widths.sqrt), std::make_pair(features.log, widths.log)}) {
      for (int bit = 0; bit < field.second; ++bit) nodes[node++] = static_cast<Node>((field.first >> bit) & 1u);
    }
  }
  for (; node < partition_size; ++node) nodes[node] = static_cast<Node>(0);
}

template <typename Node>
EnergyCodeFeatures read_code(const Node* nodes, const EnergyCodeWidths& widths, int partition_size) {
  for (int node = 0; node < partition_size; ++node) {
    if (!(nodes[node] == static_cast<Node>(0) || nodes[node] == static_cast<Node>(1))) {
      throw InputError(describe("binary energy code node is neither 0 nor 1", "at node " + std::to_string(node),
                                "pass the clamped partition unchanged"));
    }
  }
  const int copy_length = widths.total();
  const int copies = partition_size / copy_length;
  for (int copy = 1; copy < copies; ++copy) {
    for (int bit = 0; bit < copy_length; ++bit) {
      const int node = copy * copy_length + bit;
      if (nodes[node] != nodes[bit]) {
        throw InputError(describe("binary energy code copy " + std::to_string(copy) + " differs from copy 0",
                                  "at node " + std::to_string(node), "pass the clamped partition unchanged"));
      }
    }
  }
  for (int node = copies * copy_length; node < partition_size; ++node) {
    if (nodes[node] != static_cast<Node>(0)) {
      throw InputError(describe("binary energy code padding node is not 0", "at node " + std::to_string(node),
                                "pass the clamped partition unchanged"));
    }
  }
  EnergyCodeFeatures features;
  int node = 0;
  for (auto field : {std::make_pair(&features.linear, widths.linear), std::make_pair(&features.sqrt, widths.sqrt),
                     std::make_pair(&features.log, widths.log)}) {
    for (int bit = 0; bit < field.second; ++bit, ++node) {
      if (nodes[node] == static_cast<Node>(1)) *field.first |= std::uint64_t{1} << bit;
    }
  }
  return features;
}

}  // namespace

namespace {

const char* const kCodeWhere = "binary energy code";

EnergyCodeFeatures features_at(double energy, const std::string& where) {
  if (!std::isfinite(energy) || !(energy > 1.0)) {
    throw InputError(describe("incident energy " + number(energy) + " MeV is not above 1 MeV", where,
                              "the code needs ln E > 0; check the incident energies"));
  }
  if (!(energy < kEnergyFeatureLimit)) {
    throw InputError(describe("incident energy " + number(energy) + " MeV is too large for a binary energy code", where,
                              "check the incident energies"));
  }
  EnergyCodeFeatures result;
  result.linear = static_cast<std::uint64_t>(std::floor(energy));
  result.sqrt = static_cast<std::uint64_t>(std::floor(std::sqrt(10.0 * energy)));
  result.log = static_cast<std::uint64_t>(std::floor(std::exp(10.0) * std::log(energy)));
  return result;
}

EnergyCodeFeatures checked_features_at(const EnergyCodeWidths& widths, double energy, const std::string& where) {
  const EnergyCodeFeatures code = features_at(energy, where);
  const char* field = nullptr;
  std::uint64_t value = 0;
  int width = 0;
  if (!fits(code.linear, widths.linear)) {
    field = "floor(E)", value = code.linear, width = widths.linear;
  } else if (!fits(code.sqrt, widths.sqrt)) {
    field = "floor(sqrt(10 E))", value = code.sqrt, width = widths.sqrt;
  } else if (!fits(code.log, widths.log)) {
    field = "floor(e^10 ln E)", value = code.log, width = widths.log;
  }
  if (field != nullptr) {
    throw InputError(describe("incident energy " + number(energy) + " MeV gives " + field + " = " +
                                  std::to_string(value) + ", which does not fit its " + std::to_string(width) +
                                  " bits (it would wrap)",
                              where, "build the code from the data's largest energy"));
  }
  return code;
}

}  // namespace

EnergyCodeFeatures BinaryEnergyCode::features(double energy) { return features_at(energy, kCodeWhere); }

EnergyCodeWidths BinaryEnergyCode::minimal_widths(double energy) {
  const EnergyCodeFeatures top = features(energy);
  return EnergyCodeWidths{bits_needed(top.linear), bits_needed(top.sqrt), bits_needed(top.log)};
}

BinaryEnergyCode::BinaryEnergyCode(double max_energy, int partition_size)
    : widths_(minimal_widths(max_energy)), partition_size_(partition_size) {
  check_partition(widths_, partition_size_);
}

BinaryEnergyCode::BinaryEnergyCode(EnergyCodeWidths widths, int partition_size)
    : widths_(widths), partition_size_(partition_size) {
  check_partition(widths_, partition_size_);
}

EnergyCodeFeatures BinaryEnergyCode::checked_features(double energy) const {
  return checked_features_at(widths_, energy, kCodeWhere);
}

void BinaryEnergyCode::encode(double energy, std::uint8_t* nodes) const {
  write_code(checked_features(energy), widths_, partition_size_, nodes);
}

void BinaryEnergyCode::encode(double energy, float* nodes) const {
  write_code(checked_features(energy), widths_, partition_size_, nodes);
}

std::vector<std::uint8_t> BinaryEnergyCode::encode(double energy) const {
  std::vector<std::uint8_t> nodes(static_cast<std::size_t>(partition_size_));
  encode(energy, nodes.data());
  return nodes;
}

namespace {

// Every energy is checked before any row is written.
template <typename T>
void encode_rows_impl(const BinaryEnergyCode& code, const T* energies, std::size_t count, float* nodes) {
  std::vector<EnergyCodeFeatures> all(count);
  for (std::size_t i = 0; i < count; ++i) {
    all[i] = checked_features_at(code.widths(), static_cast<double>(energies[i]),
                                 "binary energy code of event " + std::to_string(i));
  }
  const std::size_t row_length = static_cast<std::size_t>(code.partition_size());
  for (std::size_t i = 0; i < count; ++i) {
    write_code(all[i], code.widths(), code.partition_size(), nodes + i * row_length);
  }
}

}  // namespace

void BinaryEnergyCode::encode_rows(const double* energies, std::size_t count, float* nodes) const {
  encode_rows_impl(*this, energies, count, nodes);
}
void BinaryEnergyCode::encode_rows(const float* energies, std::size_t count, float* nodes) const {
  encode_rows_impl(*this, energies, count, nodes);
}

EnergyCodeFeatures BinaryEnergyCode::decode(const std::uint8_t* nodes) const {
  return read_code(nodes, widths_, partition_size_);
}
EnergyCodeFeatures BinaryEnergyCode::decode(const float* nodes) const {
  return read_code(nodes, widths_, partition_size_);
}

// ---------------------------------------------------------------------------
// SinusoidalEnergyEmbedding

SinusoidalEnergyEmbedding::SinusoidalEnergyEmbedding(int dim, double base) : dim_(dim), base_(base) {
  if (dim < 2 || dim % 2 != 0) {
    throw UsageError(describe("sinusoidal embedding dimension " + std::to_string(dim) + " is not even and >= 2",
                              "energy embedding", "use an even dimension"));
  }
  if (!std::isfinite(base) || !(base > 1.0)) {
    throw UsageError(describe("sinusoidal embedding base " + number(base) + " is not finite and > 1",
                              "energy embedding", "use the default 10000"));
  }
  frequencies_.resize(static_cast<std::size_t>(dim / 2));
  for (int i = 0; i < dim / 2; ++i) {
    frequencies_[static_cast<std::size_t>(i)] = std::pow(base, -2.0 * i / dim);
  }
}

namespace {

template <typename T>
void embed_impl(const std::vector<double>& frequencies, double energy, T* out) {
  const double log_energy = std::log(energy);
  for (std::size_t i = 0; i < frequencies.size(); ++i) {
    const double angle = log_energy * frequencies[i];
    out[2 * i] = static_cast<T>(std::sin(angle));
    out[2 * i + 1] = static_cast<T>(std::cos(angle));
  }
}

}  // namespace

void SinusoidalEnergyEmbedding::embed(double energy, double* out) const {
  check_positive_energy(energy, {});
  embed_impl(frequencies_, energy, out);
}
void SinusoidalEnergyEmbedding::embed(double energy, float* out) const {
  check_positive_energy(energy, {});
  embed_impl(frequencies_, energy, out);
}
std::vector<double> SinusoidalEnergyEmbedding::embed(double energy) const {
  std::vector<double> out(static_cast<std::size_t>(dim_));
  embed(energy, out.data());
  return out;
}

namespace {

template <typename T>
void embed_rows_impl(const SinusoidalEnergyEmbedding& embedding, const std::vector<double>& frequencies,
                     const T* energies, std::size_t count, float* out) {
  for (std::size_t i = 0; i < count; ++i) check_positive_energy(static_cast<double>(energies[i]), index_where(i));
  const std::size_t row_length = static_cast<std::size_t>(embedding.dim());
  for (std::size_t i = 0; i < count; ++i) {
    embed_impl(frequencies, static_cast<double>(energies[i]), out + i * row_length);
  }
}

}  // namespace

void SinusoidalEnergyEmbedding::embed_rows(const double* energies, std::size_t count, float* out) const {
  embed_rows_impl(*this, frequencies_, energies, count, out);
}
void SinusoidalEnergyEmbedding::embed_rows(const float* energies, std::size_t count, float* out) const {
  embed_rows_impl(*this, frequencies_, energies, count, out);
}

}  // namespace qvae::data
