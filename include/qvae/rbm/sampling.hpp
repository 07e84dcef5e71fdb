// Distributed sampling runs (what `qvae sample` does), kept in the library so
// tests can run them under MPI: chains spread over ranks in contiguous blocks,
// each rank samples its block, outputs are written collectively.  Every
// chain's trajectory depends only on (seed, chain index, its sweep counter),
// so files are identical for any rank count and a resumed run continues
// bit-exactly.
//
// Sample files (docs/formats.md, "qvae-samples v1"): root attributes format =
// "qvae-samples", format_version = 1, provenance, rbm, backend, beta,
// beta_scope, burn_in, sweeps, clamped_partitions (only when some were);
// datasets samples (C×N,
// uint8), energies (C, float64, E(z) at β = 1), chain_sweeps (C, int64) and
// root attribute chain_seed, so a sample file can be resumed like stored chains.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "qvae/io/attributes.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/rbm/rbm_file.hpp"
#include "qvae/rbm/sampler.hpp"

namespace qvae::rbm {

inline constexpr const char* kSamplesFormat = "qvae-samples";
inline constexpr std::int64_t kSamplesFormatVersion = 1;

struct SampleJob {
  std::int64_t chains = 0;  ///< over all ranks; ignored when resuming (the stored count is used)
  std::int64_t burn_in = 0;
  std::int64_t sweeps = 0;  ///< every chain runs burn_in + sweeps sweeps; samples are the final states
  SamplerSettings settings;
  std::optional<Clamp> clamp;          ///< this rank's rows (see read_clamp_values)
  std::optional<StoredChains> resume;  ///< this rank's block of stored chains
  /// Called on every rank with the sweeps done so far (for progress display).
  std::function<void(std::int64_t)> on_progress;
};

struct SampleResult {
  StoredChains chains;           ///< this rank's final chains; seed = the job's seed
  std::vector<double> energies;  ///< E(z) of this rank's final chains
  double seconds = 0;            ///< sampling time of the slowest rank
  std::string backend;
};

/// Mean energy of a set of states spread over ranks in blocks; the sums run
/// over all states in their global order, so any rank count gives the same numbers.
struct EnergySummary {
  std::int64_t count = 0;
  double mean = 0;
  double std_error = 0;  ///< sd / sqrt(count)
};
/// Collective.
EnergySummary summarise_energies(const std::vector<double>& local_energies, const par::Communicator& comm);

/// Collective: runs `job` on this rank's block of chains with a sampler from `factory`.
SampleResult run_sample_job(const BoltzmannMachine& machine, const SampleJob& job, const par::Communicator& comm,
                            const SamplerFactory& factory);

/// What a sample file records besides the chains.
struct SampleFileInfo {
  std::string rbm_path;
  std::int64_t burn_in = 0, sweeps = 0;
  double beta = 1.0;
  BetaScope beta_scope = BetaScope::couplings;
  std::vector<int> clamped_partitions;
};

/// Collective: writes a qvae-samples file atomically.  Returns true when HDF5
/// did every row transfer collectively (always false for one process' files).
bool write_samples(const std::string& path, const par::Communicator& comm, const SampleResult& result,
                   const SampleFileInfo& info, const io::Provenance& provenance);

/// Collective: the clamp for this rank's block of `total_chains` chains, read
/// from an HDF5 file holding either `values` — (1, M) or (total_chains, M),
/// M = the units of `partitions` in ascending node order — or `samples`
/// (rows 1 or total_chains, N columns: the clamped columns are taken).  Any
/// other shape, or values other than 0/1, is a core::InputError naming file
/// and dataset.
Clamp read_clamp_values(const std::string& path, const par::Communicator& comm, const BoltzmannMachine& machine,
                        const std::vector<int>& partitions, std::int64_t total_chains);

}  // namespace qvae::rbm
