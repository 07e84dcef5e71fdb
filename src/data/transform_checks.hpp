// Internal to the data module: the input checks the transforms share, so
// every transform words a bad incident energy the same way.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>

#include "qvae/core/config.hpp"
#include "qvae/core/error.hpp"

namespace qvae::data::detail {

/// "at index I": where a bad value of a batch sits.
inline std::string index_where(std::size_t index) { return "at index " + std::to_string(index); }

/// InputError unless `energy` (MeV) is finite and positive.
inline void check_positive_energy(double energy, const std::string& where) {
  if (!std::isfinite(energy) || !(energy > 0.0))
    throw core::InputError(
        core::describe("incident energy " + core::real_text(energy) + " MeV is not a finite positive number", where,
                       "check the incident_energies dataset"));
}

}  // namespace qvae::data::detail
