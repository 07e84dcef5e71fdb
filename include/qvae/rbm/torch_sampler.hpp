// The dense masked-matmul reference sampler (LibTorch; what the reference
// Python PGBS sampler does, docs/rbm.md): per partition p,
//   z_p ~ Bernoulli(σ(β_b·b_p + Σ_{q≠p} z_q · (β·W_qp ⊙ M_qp)))
// with dense float32 per-pair matrices, behind the common Sampler interface.
// Its uniforms are the sparse sampler's (gibbs_uniforms), so the two backends
// agree draw for draw up to rounding of the fields.  Part of qvae_rbm_torch;
// this header does not include torch.
#pragma once

#include <memory>

#include "qvae/rbm/sampler.hpp"

namespace qvae::rbm {

std::unique_ptr<Sampler> make_torch_sampler(const BoltzmannMachine& machine, const SamplerSettings& settings);

/// One rank, one core: sets LibTorch's intra-op threads and OpenBLAS's threads
/// (Debian's LibTorch calls the system BLAS, whose pthreads ignore torch's setting).
void limit_torch_threads(int threads);

}  // namespace qvae::rbm
