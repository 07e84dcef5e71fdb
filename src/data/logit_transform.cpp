// LogitTransform: voxel energies to the logit space the networks see, and back.
#include "qvae/data/transforms.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "qvae/core/config.hpp"
#include "qvae/core/error.hpp"
#include "transform_checks.hpp"

namespace qvae::data {
namespace {

using core::describe;
using core::InputError;
using core::UsageError;

std::string voxel_where(std::size_t voxel) { return "at voxel " + std::to_string(voxel); }
std::string event_voxel_where(std::size_t event, std::size_t voxel) {
  return "at event " + std::to_string(event) + ", voxel " + std::to_string(voxel);
}

// Returns the message for a voxel that cannot be transformed, or "" when it can.
std::string voxel_problem(double voxel_energy, double incident_energy, double scale) {
  if (!std::isfinite(voxel_energy)) return "voxel energy " + core::real_text(voxel_energy) + " MeV is not finite";
  const double fraction = voxel_energy / (scale * incident_energy);
  if (!(fraction >= 0.0 && fraction <= 1.0)) {
    return "voxel energy " + core::real_text(voxel_energy) + " MeV is outside [0, " +
           (scale == 1.0 ? std::string() : core::real_text(scale) + " x ") +
           "E_inc = " + core::real_text(scale * incident_energy) +
           " MeV], the range of the voxel transform (model.fraction_scale = " + core::real_text(scale) + ")";
  }
  return {};
}

}  // namespace
LogitTransform::LogitTransform(double r, double fraction_scale) : r_(r), scale_(fraction_scale) {
  if (!(r > 0.0 && r < 0.5)) {
    throw UsageError(describe("logit parameter R = " + core::real_text(r) + " is outside (0, 0.5)", "data transform",
                              "use a small positive R such as 1e-7"));
  }
  if (!std::isfinite(fraction_scale) || !(fraction_scale >= 1.0)) {
    throw UsageError(
        describe("voxel fraction scale " + core::real_text(fraction_scale) + " is not a finite number >= 1",
                 "data transform", "use 1 for showers with E_vox <= E_inc, or set model.fraction_scale = auto"));
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
  detail::check_positive_energy(incident_energy, where.row());
  for (std::size_t i = 0; i < count; ++i) {
    const std::string problem = voxel_problem(static_cast<double>(voxels[i]), incident_energy, scale);
    if (!problem.empty()) throw InputError(describe(problem, where.voxel(i), "check the showers dataset"));
  }
}

template <typename T>
void check_inverse_row(const T* reduced, std::size_t count, double incident_energy, const RowLocation& where) {
  detail::check_positive_energy(incident_energy, where.row());
  for (std::size_t i = 0; i < count; ++i) {
    if (!std::isfinite(static_cast<double>(reduced[i]))) {
      throw InputError(
          describe("reduced voxel value " + core::real_text(static_cast<double>(reduced[i])) + " is not finite",
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
  detail::check_positive_energy(incident_energy, {});
  const std::string problem = voxel_problem(voxel_energy, incident_energy, scale_);
  if (!problem.empty()) throw InputError(describe(problem, {}, "check the showers dataset"));
  return logit_of_fraction(voxel_energy / (scale_ * incident_energy), r_);
}

double LogitTransform::inverse(double u, double incident_energy) const {
  detail::check_positive_energy(incident_energy, {});
  if (!std::isfinite(u)) {
    throw InputError(
        describe("reduced voxel value " + core::real_text(u) + " is not finite", {}, "check the model output"));
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

}  // namespace qvae::data
