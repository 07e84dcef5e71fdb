// ScaledLogEnergy: incident energies to (ln E - a)/(b - a) and back.
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

using core::describe;
using core::InputError;
using core::UsageError;
using detail::check_positive_energy;
using detail::index_where;

ScaledLogEnergy::ScaledLogEnergy(double log_min, double log_max) : log_min_(log_min), log_max_(log_max) {
  if (!std::isfinite(log_min) || !std::isfinite(log_max) || !(log_min < log_max)) {
    throw UsageError(describe("scaled log energy bounds a = " + core::real_text(log_min) +
                                  ", b = " + core::real_text(log_max) + " are not finite with a < b",
                              "data transform", "use e.g. a = 6, b = 14 (ds2)"));
  }
}

double ScaledLogEnergy::forward(double energy) const {
  check_positive_energy(energy, {});
  return (std::log(energy) - log_min_) / (log_max_ - log_min_);
}

double ScaledLogEnergy::inverse(double scaled) const {
  if (!std::isfinite(scaled)) {
    throw InputError(
        describe("scaled log energy " + core::real_text(scaled) + " is not finite", {}, "check the input"));
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
      throw InputError(
          describe("scaled log energy " + core::real_text(static_cast<double>(scaled[i])) + " is not finite",
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

}  // namespace qvae::data
