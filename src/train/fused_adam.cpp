#include "fused_adam.hpp"

#include <cmath>
#include <cstddef>
#include <cstring>

#include "qvae/core/cpu_dispatch.hpp"

namespace qvae::train {

QVAE_VECTOR_CLONES void fused_adam_update(std::int64_t n, float* __restrict p, const float* __restrict g,
                                          float* __restrict m, float* __restrict v, float* __restrict copy,
                                          const AdamCoefficients& coefficients) {
  const AdamCoefficients c = coefficients;  // locals: nothing the loop writes can change them
  for (std::int64_t i = 0; i < n; ++i) {
    const float grad = g[i];
    const float first = m[i] * c.beta1 + c.one_minus_beta1 * grad;
    const float second = v[i] * c.beta2 + c.one_minus_beta2 * grad * grad;
    const float denominator = std::sqrt(second) / c.sqrt_correction2 + c.eps;
    m[i] = first;
    v[i] = second;
    p[i] = p[i] + c.minus_step_size * (first / denominator);
  }
  if (copy != nullptr) std::memcpy(copy, p, static_cast<std::size_t>(n) * sizeof(float));
}

}  // namespace qvae::train
