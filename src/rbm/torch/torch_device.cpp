#include "qvae/rbm/torch_device.hpp"

#include <torch/torch.h>

#include "qvae/core/error.hpp"

namespace qvae::rbm {

const char* to_string(DeviceKind kind) { return kind == DeviceKind::cuda ? "cuda" : "cpu"; }

std::string resolve_device(DeviceKind kind, int node_rank, const std::string& key) {
  if (kind == DeviceKind::cpu) return "cpu";
  if (!torch::cuda::is_available()) {
    const bool built_with_cuda = torch::cuda::device_count() > 0 || at::hasCUDA();
    throw core::UsageError(core::describe(
        key + " = cuda, but " +
            (built_with_cuda ? std::string("no CUDA device is visible to this process")
                             : std::string("this build's LibTorch has no CUDA support")),
        "",
        built_with_cuda
            ? "check CUDA_VISIBLE_DEVICES and the GPU driver"
            : "rebuild qvae against a CUDA LibTorch (-DCMAKE_PREFIX_PATH=<libtorch>), or set " + key + " = cpu"));
  }
  const int devices = static_cast<int>(torch::cuda::device_count());
  return "cuda:" + std::to_string(node_rank % devices);
}

}  // namespace qvae::rbm
