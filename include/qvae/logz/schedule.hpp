// Annealing schedules 0 = β_0 < β_1 < … < β_K = 1 for the geometric path
// f_β(z) = exp(bᵀz + β Q(z)), Q(z) = Σ_e W_e z_i z_j (docs/logz.md).
//
//  * linear:    β_k = k/K.
//  * piecewise: Salakhutdinov & Murray (2008): uniform steps on [0, 0.5],
//               [0.5, 0.9] and [0.9, 1] in the proportions 500 : 4000 : 10000.
//  * adaptive:  equal thermodynamic length.  A pilot of P forward chains on a
//               uniform grid of G temperatures measures σ(β) = sd_β(Q); the K
//               steps are placed so that each spans the same ∫σ dβ.  In the
//               quasi-static limit Var(log w) ≈ Σ_k Δβ_k² σ²(β_k), which for a
//               fixed K is smallest when every σΔβ is equal.  The pilot runs
//               whole on every rank (seeded by derive_seed(seed,
//               adaptive_pilot)), so the schedule is the same for any rank count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qvae/rbm/boltzmann_machine.hpp"
#include "qvae/rbm/sampler.hpp"

namespace qvae::logz {

enum class ScheduleKind { linear, piecewise, adaptive };
/// "linear" | "piecewise" | "adaptive"; anything else is a core::UsageError.
ScheduleKind parse_schedule_kind(const std::string& text);
const char* to_string(ScheduleKind kind) noexcept;

/// K + 1 values from 0 to 1.  K < 1 is a core::UsageError.
std::vector<double> linear_schedule(std::int64_t steps);
/// K + 1 values; K < 3 is a core::UsageError (one step per segment at least).
std::vector<double> piecewise_schedule(std::int64_t steps);

struct PilotSettings {
  std::int64_t chains = 64;
  std::int64_t temperatures = 256;
  std::int64_t sweeps_per_temperature = 1;
  std::uint64_t seed = 0;  ///< the run's seed; the pilot derives its own
  rbm::SamplerFactory factory = rbm::make_kokkos_sampler;
};
/// K + 1 values of equal thermodynamic length (falls back to linear when Q
/// never varies, e.g. W = 0).
std::vector<double> adaptive_schedule(const rbm::BoltzmannMachine& machine, std::int64_t steps,
                                      const PilotSettings& pilot);

std::vector<double> make_schedule(ScheduleKind kind, const rbm::BoltzmannMachine& machine, std::int64_t steps,
                                  const PilotSettings& pilot);

/// Throws core::UsageError unless `betas` starts at 0, ends at 1 and increases strictly.
void check_schedule(const std::vector<double>& betas);

}  // namespace qvae::logz
