// Continuous relaxations of Bernoulli posterior samples (docs/model.md) and
// the reproducible uniforms they consume.
//
// Every relaxation takes logits l and uniforms rho in (0, 1) of the same shape
// and an inverse temperature beta; its samples lie in [0, 1] and tend to a
// Bernoulli(sigmoid(l)) sample as beta grows.  Arithmetic is done in double
// (e^-beta stays representable up to beta ~ 700) and returned in l's dtype.
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "qvae/model/config.hpp"

namespace qvae::model {

/// Philox stream domains of the model (top 16 bits of core::stream_id).
inline constexpr std::uint32_t kPosteriorNoiseDomain = 0x6D01;   ///< relaxation uniforms, per event
inline constexpr std::uint32_t kHitNoiseDomain = 0x6D02;         ///< hit-head noise in training, per event
inline constexpr std::uint32_t kGenerationHitDomain = 0x6D03;    ///< Bernoulli hits of generated showers
inline constexpr std::uint32_t kGenerationPriorDomain = 0x6D04;  ///< prior chains of generated showers
inline constexpr std::uint32_t kNegativePhaseDomain = 0x6D05;    ///< negative-phase chains in training
inline constexpr std::uint32_t kGenerationTotalDomain = 0x6D06;  ///< total-energy draws of generated showers

/// Uniforms in (0, 1), (events, count), dtype `dtype`: row b comes from
/// core::Philox(seed, stream_id(domain, events[b]), step << 20), so a value
/// depends on (seed, domain, event, step) only, never on the batch split or
/// the rank.  count must be <= 2^22.
torch::Tensor philox_uniform(std::uint64_t seed, std::uint32_t domain, const torch::Tensor& events, std::uint64_t step,
                             std::int64_t count, torch::Dtype dtype);

/// log rho - log(1 - rho): a standard logistic variate.
torch::Tensor logistic_noise(const torch::Tensor& uniform);

/// Gumbel (logistic) relaxation: sigmoid(beta (l + logistic(rho))).
torch::Tensor gumbel_relaxation(const torch::Tensor& logits, const torch::Tensor& uniform, double beta);
/// Spike-and-exponential: 0 if rho < 1 - q, else (1/beta) log(((rho + q - 1)/q)(e^beta - 1) + 1),
/// q = clamp(sigmoid(l), 1e-7, 1 - 1e-7).
torch::Tensor spike_exp_relaxation(const torch::Tensor& logits, const torch::Tensor& uniform, double beta);
/// Mixture of overlapping exponentials (DVAE++): -(1/beta) log((-B + sqrt(B^2 - 4C))/2) with
/// B = (rho + e^-beta (Q - rho))/(1 - Q) - 1, C = -Q e^-beta/(1 - Q), Q = clamp(sigmoid(l), 1e-5, 1 - 1e-5).
torch::Tensor mixture_exp_relaxation(const torch::Tensor& logits, const torch::Tensor& uniform, double beta);
/// Dispatch on `kind`.
torch::Tensor relax(RelaxationKind kind, const torch::Tensor& logits, const torch::Tensor& uniform, double beta);
/// The evaluation sample of every relaxation: Heaviside(l + logistic(rho)) = Bernoulli(sigmoid(l)).
torch::Tensor hard_sample(const torch::Tensor& logits, const torch::Tensor& uniform);

}  // namespace qvae::model
