// The device the `device`-labelled tests run on: QVAE_TEST_DEVICE (cpu or
// cuda; cpu when unset).  tools/gpu-check.sh sets it to cuda on a GPU machine;
// everywhere else the same tests check the CPU path.
#pragma once

#include <cstdlib>
#include <string>

#include "qvae/rbm/torch_device.hpp"

namespace qvae::testing {

inline rbm::DeviceKind test_device_kind() {
  const char* name = std::getenv("QVAE_TEST_DEVICE");
  return name != nullptr && std::string(name) == "cuda" ? rbm::DeviceKind::cuda : rbm::DeviceKind::cpu;
}

/// "cpu" or "cuda:0" (UsageError when cuda is asked of a build or machine without it).
inline std::string test_device() { return rbm::resolve_device(test_device_kind(), 0, "QVAE_TEST_DEVICE"); }

}  // namespace qvae::testing
