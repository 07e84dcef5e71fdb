#include "qvae/core/cpu_dispatch.hpp"

namespace qvae::core {

bool cpu_supports(std::initializer_list<CpuFeature> features) noexcept {
#if QVAE_X86_DISPATCH
  __builtin_cpu_init();
  for (CpuFeature feature : features) {
    // __builtin_cpu_supports takes a literal, hence one call per feature.
    bool has = false;
    switch (feature) {
      case CpuFeature::avx2:
        has = __builtin_cpu_supports("avx2");
        break;
      case CpuFeature::fma:
        has = __builtin_cpu_supports("fma");
        break;
      case CpuFeature::popcnt:
        has = __builtin_cpu_supports("popcnt");
        break;
    }
    if (!has) return false;
  }
  return true;
#else
  (void)features;
  return false;
#endif
}

}  // namespace qvae::core
