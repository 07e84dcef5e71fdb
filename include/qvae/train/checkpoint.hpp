// Checkpoint files of `qvae train` (docs/training.md "Checkpoints, resume,
// pre-emption").  Format "qvae-checkpoint" v2, documented in docs/formats.md
// (v2 added guard_state and the guard's history columns; v1 files still load):
//
//   root attributes  format, format_version, qvae_version, created_by, seed,
//                    config (the resolved INI), geometry, data_file,
//                    train_events, epochs_done, batches_done (of the next
//                    epoch; > 0 only for a checkpoint taken on a signal),
//                    global_step, ranks, best_metric, best_epoch, best_rule,
//                    elapsed_s
//   model_state      uint8: torch::save of the Qvae (networks, BatchNorm
//                    buffers, RBM parameters, RBM Adam moments, PCD chains)
//   optimizer_state  uint8: torch::save of the encoder/decoder Adam
//   prior_optimizer_state  uint8 (rbm.update = autograd only)
//   rank_model_states, rank_model_offsets  uint8 / int64 (rbm.negative_chains
//                    = pcd only): every rank's model archive, for its own chains
//   partial_sums     float64: the interrupted epoch's running train sums
//   rbm_biases, rbm_weights, rbm_couplers  the prior in the machine's order
//                    (float64 (N), float64 (E), int64 (E, 2)) for h5py users
//   guard_state      float64: the stability guard (GuardState::encode: lr
//                    scale, rollbacks, current streak, the epoch's counters)
//   history/<column> float64 (epochs_done): the history up to this checkpoint
//
// Files in the run directory: checkpoint-EEEE.h5 after epoch EEEE,
// checkpoint-EEEE-BBBBBB.h5 when stopped by a signal after BBBBBB batches of
// epoch EEEE+1, best.h5 (a hard link to, or else a copy of, the best epoch's
// checkpoint), history.csv, history.h5.  Every file appears atomically.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qvae/core/config.hpp"

namespace qvae::train {

inline constexpr const char* kCheckpointFormat = "qvae-checkpoint";
inline constexpr std::int64_t kCheckpointFormatVersion = 3;

/// Where a checkpoint stands in training.
struct CheckpointPosition {
  int epochs_done = 0;
  std::int64_t batches_done = 0;  ///< of epoch epochs_done + 1
  bool operator<(const CheckpointPosition& other) const {
    return epochs_done != other.epochs_done ? epochs_done < other.epochs_done : batches_done < other.batches_done;
  }
};

/// "checkpoint-0003.h5" or "checkpoint-0003-000012.h5".
std::string checkpoint_name(const CheckpointPosition& position);
/// The position a checkpoint file name encodes; nullopt for other names.
std::optional<CheckpointPosition> parse_checkpoint_name(const std::string& file_name);

struct CheckpointEntry {
  std::string path;
  CheckpointPosition position;
};
/// The checkpoint files of a run directory, oldest first (empty if none or no directory).
std::vector<CheckpointEntry> list_checkpoints(const std::string& directory);
/// Removes all but the newest `keep` checkpoints (best.h5 is a separate link and stays).
void prune_checkpoints(const std::string& directory, int keep);
/// Removes the temporary files ("NAME.tmp-PID") a killed run left in its run
/// directory; a run directory belongs to one run at a time.  Returns how many.
int remove_stale_temporaries(const std::string& directory);
/// Makes `link_path` name the same file as `target`, atomically (hard link,
/// else a copy, into a temporary name, then rename).
void replace_with_link(const std::string& target, const std::string& link_path);

/// The configuration a resumed run uses: the checkpoint's stored one.  Keys the
/// new command line sets explicitly (source not "default") must have the stored
/// value, except train.epochs, train.keep_last, train.threads, train.device, train.data,
/// train.out, run.* (logging, progress) and the stability-guard keys
/// (train.max_bad_batches, train.max_rollbacks, train.rollback_lr_factor,
/// train.clip_grad_norm, train.fault_injection), which may change.  UsageError
/// naming the first other key that differs.
core::Config resume_config(const core::ConfigSchema& schema, const core::Config& given, const std::string& stored_ini);

}  // namespace qvae::train
