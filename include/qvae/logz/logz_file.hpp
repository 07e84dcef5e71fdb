// Files of the logz module (docs/formats.md):
//
//  * latent codes (input of RAISE and of `qvae ll`): an HDF5 file with
//    `latents` (D, N) — or `samples` (D, N), e.g. a qvae-samples file —
//    integer 0/1 values, one row per code, columns in node order.
//  * "qvae-logz" v1 (output of `qvae logz` and `qvae ll`): configuration and
//    estimates as root attributes, the schedule, every chain's log-weight and
//    1-element series `log_z*` / `ll*` for tools/plot_report.py; written
//    collectively, each rank its block of chains.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "qvae/io/attributes.hpp"
#include "qvae/logz/logz.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/rbm/boltzmann_machine.hpp"
#include "qvae/rbm/sampler.hpp"

namespace qvae::logz {

inline constexpr const char* kLogzFormat = "qvae-logz";
inline constexpr std::int64_t kLogzFormatVersion = 1;

/// Collective: the number of codes D in a latent file, after checking that it
/// holds `latents` or `samples` of shape (D, N) with D >= 1.  Anything else is
/// a core::InputError naming file and dataset.
std::int64_t latent_rows(const std::string& path, const par::Communicator& comm, const rbm::BoltzmannMachine& machine);

/// Collective: this rank's block (par::my_block(chains)) of start states,
/// chain c holding code c mod D; values other than 0/1 are a core::InputError.
rbm::ChainBlock read_latents_for_chains(const std::string& path, const par::Communicator& comm,
                                        const rbm::BoltzmannMachine& machine, std::int64_t chains);

/// Collective: codes u of partition 0 for conditional log Z(u), every code on
/// every rank: `values` (R, n₀) — the clamp-values layout of `qvae sample` —
/// or full states `samples` / `latents` (R, N), of which partition 0's columns
/// are taken.  Other shapes or values than 0/1 are a core::InputError.
std::vector<std::vector<std::uint8_t>> read_partition0_codes(const std::string& path, const par::Communicator& comm,
                                                             const rbm::BoltzmannMachine& machine);

/// What a qvae-logz file records besides the report.
struct LogzFileInfo {
  std::string rbm_path;
  std::string latents_path;
  std::int64_t nodes = 0, couplers = 0, partitions = 0;
  /// Extra 1-element series, e.g. {"ll_trained_encoded_ais", value}; names
  /// must be valid HDF5 link names without '/'.
  std::map<std::string, double> series;
  /// Written as the 1-element dataset `epoch` when set (tools/plot_report.py's x axis).
  std::optional<std::int64_t> epoch;
};

/// Collective: writes a qvae-logz file atomically.
void write_logz_file(const std::string& path, const LogzReport& report, const LogzRequest& request,
                     const LogzFileInfo& info, const io::Provenance& provenance, const par::Communicator& comm);

}  // namespace qvae::logz
