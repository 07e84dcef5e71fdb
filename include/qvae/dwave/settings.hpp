// Settings of the dwave module and the [dwave] config section (docs/dwave.md
// lists every key).  Structs default to the same values as the keys.
#pragma once

#include <cstdint>
#include <string>

#include "qvae/core/config.hpp"
#include "qvae/dwave/sapi_client.hpp"

namespace qvae::dwave {

/// The QPU path: SAPI client, solver, batching from rank 0, conditioning.
struct QpuSettings {
  ClientSettings client;
  std::string solver;                     ///< solver name (required for the dwave backend)
  int batch_size = 20;                    ///< problems per POST (SAPI takes ≤ 20)
  int max_in_flight = 100;                ///< submitted problems not yet answered
  std::int64_t reads_per_problem = 1000;  ///< num_reads of one problem (also capped by the solver)
  double job_timeout_s = 3600;            ///< all problems of one call answered within this
  double flux_threshold = 25;             ///< |h_eq| pinning partition 0
  std::string label = "qvae-hpc";         ///< problem labels: "<label> <tag> @<first read>" (see samplers.hpp)
  std::uint64_t run_seed = 0;             ///< the run's seed, part of every label (set by make_sampler)
};

/// Simulated annealing (Metropolis, geometric β schedule, one sweep per β).
struct AnnealSettings {
  std::int64_t sweeps = 1000;
  double beta_start = 0.1;  ///< on the programmed energy
  double beta_end = 1.0;
};

/// The Gibbs "QPU": block Gibbs at inverse temperature beta on the programmed energy.
struct GibbsQpuSettings {
  double beta = 1.0;
  std::int64_t sweeps = 200;
};

/// Effective-temperature methods of docs/dwave.md, and stein: the β whose
/// Boltzmann distribution has the smallest kernel Stein discrepancy to the
/// device samples (qvae/dwave/stein.hpp).
enum class BetaMethod { ml, linear, multiplicative, variance, pseudolikelihood, stein };
/// "ml" | "linear" | "multiplicative" | "variance" | "pseudolikelihood" | "stein"; core::UsageError otherwise.
BetaMethod parse_beta_method(const std::string& name);
const char* to_string(BetaMethod method) noexcept;

struct BetaSettings {
  BetaMethod method = BetaMethod::multiplicative;
  double beta_initial = 4.0;  ///< β₀ (peggy.yaml: 4.0)
  int max_iterations = 20;
  std::int64_t reads = 1000;       ///< QPU reads per iteration
  double stop_constant = 1.5;      ///< c of the stopping rule (peggy.yaml thrs_const)
  std::int64_t rbm_chains = 1000;  ///< classical Gibbs chains for ⟨E⟩_R
  std::int64_t rbm_sweeps = 200;   ///< their sweeps (per iteration for ml)
  double beta_min = 0.01;          ///< floor of β
  std::uint64_t seed = 0;
};

struct DwaveSettings {
  QpuSettings qpu;
  AnnealSettings anneal;
  GibbsQpuSettings gibbs;
  BetaSettings beta;
  std::string token_file;  ///< dwave.token_file ("" : DWAVE_API_TOKEN)
};

/// Adds the [dwave] keys (endpoint, solver, timeouts, batching, offline
/// backends, β estimation) to the program's schema.
void add_dwave_keys(core::ConfigSchema& schema);

/// Settings from a resolved config; keys absent from its schema keep their
/// defaults (so the module works before the CLI adds add_dwave_keys).
/// Values out of range are a core::UsageError naming the key.
DwaveSettings dwave_settings_from(const core::Config& config);

/// The SAPI token: the contents of `token_file` (trimmed) when given, else the
/// environment variable DWAVE_API_TOKEN.  A token file readable by group or
/// others is refused, as are a missing file and an empty token
/// (core::UsageError, exit 2).  The token never appears in a message.
std::string read_token(const std::string& token_file);

}  // namespace qvae::dwave
