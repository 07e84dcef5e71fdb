// Test helper of the model suites: a small batch of GFlash showers as tensors.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "qvae/geometry/geometry.hpp"
#include "qvae/sim/gflash.hpp"

namespace qvae::testing {

/// GFlash showers (MeV) on a geometry, one per energy.
struct Showers {
  torch::Tensor showers;   // (B, V) float
  torch::Tensor energies;  // (B) double
};

inline Showers simulate(const geometry::Geometry& geometry, const std::vector<double>& energies) {
  const sim::GFlashSimulator simulator(geometry, sim::GFlashParameters{});
  torch::Tensor showers = torch::zeros({static_cast<std::int64_t>(energies.size()), geometry.voxels()}, torch::kDouble);
  for (std::size_t i = 0; i < energies.size(); ++i)
    simulator.simulate(11, static_cast<std::int64_t>(i), energies[i],
                       showers.data_ptr<double>() + static_cast<std::int64_t>(i) * geometry.voxels());
  return {showers.to(torch::kFloat), torch::tensor(energies, torch::kDouble)};
}

}  // namespace qvae::testing
