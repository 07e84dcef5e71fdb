// SinusoidalEnergyEmbedding: sin/cos features of ln E for additive and FiLM conditioning.
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

SinusoidalEnergyEmbedding::SinusoidalEnergyEmbedding(int dim, double base) : dim_(dim), base_(base) {
  if (dim < 2 || dim % 2 != 0) {
    throw UsageError(describe("sinusoidal embedding dimension " + std::to_string(dim) + " is not even and >= 2",
                              "energy embedding", "use an even dimension"));
  }
  if (!std::isfinite(base) || !(base > 1.0)) {
    throw UsageError(describe("sinusoidal embedding base " + core::real_text(base) + " is not finite and > 1",
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
