// The dense masked-matmul reference sampler (LibTorch; what the reference
// Python PGBS sampler does, docs/rbm.md): per partition p,
//   z_p ~ Bernoulli(σ(β_b·b_p + Σ_{q≠p} z_q · (β·W_qp ⊙ M_qp)))
// with dense float32 per-pair matrices, behind the common Sampler interface.
// Its uniforms are the sparse sampler's (gibbs_uniforms), so the two backends
// agree draw for draw up to rounding of the fields.  Part of qvae_rbm_torch;
// this header does not include torch.
//
// On a GPU (`device` "cuda:<i>") the states, the matrices and the sweeps stay
// on the device; the uniforms are still the host's Philox streams, drawn for
// a run of sweeps at a time and copied over in one transfer, so a GPU run
// draws exactly what a CPU run draws.
#pragma once

#include <memory>
#include <string>

#include "qvae/rbm/sampler.hpp"

namespace qvae::rbm {

/// On the CPU (a SamplerFactory).
std::unique_ptr<Sampler> make_torch_sampler(const BoltzmannMachine& machine, const SamplerSettings& settings);
/// On `device`, a LibTorch device string ("cpu", "cuda:0", ...).
std::unique_ptr<Sampler> make_torch_sampler_on(const std::string& device, const BoltzmannMachine& machine,
                                               const SamplerSettings& settings);

/// One rank, one core: sets LibTorch's intra-op threads and OpenBLAS's threads
/// (Debian's LibTorch calls the system BLAS, whose pthreads ignore torch's setting).
void limit_torch_threads(int threads);

}  // namespace qvae::rbm
