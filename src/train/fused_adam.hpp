// torch::optim::Adam's update of one run of float32 parameters, fused into one
// pass (what ShardedAdam applies to its block).  No LibTorch here: the kernel
// is compiled with its own floating-point flags (CMakeLists.txt).  Internal to
// the train module.
#pragma once

#include <cstdint>

namespace qvae::train {

/// Adam's per-step constants, rounded to float once, as LibTorch does with
/// the scalars of its float tensor operations.
struct AdamCoefficients {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, sqrt_correction2, eps, minus_step_size;
};

/// One Adam step over n elements, in one pass instead of eight tensor
/// operations and two temporaries:
///   m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2,
///   p += -(lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
/// Element-wise with no reductions, and built without fused multiply-adds,
/// so an element's result depends neither on where a run starts nor on which
/// clone (AVX2 or baseline) the CPU runs: the same bits on any rank count and
/// any x86-64 node.  `copy` (may be null) receives the new parameters.
void fused_adam_update(std::int64_t n, float* p, const float* g, float* m, float* v, float* copy,
                       const AdamCoefficients& coefficients);

}  // namespace qvae::train
