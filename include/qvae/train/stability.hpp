// Training-stability guard: the policy half, without LibTorch or
// MPI so it can be unit-tested alone.  The trainer (trainer.cpp) supplies the
// collective facts and applies the decisions:
//
//   * every rank flags a non-finite loss or gradient of its own micro-batches;
//     the flags travel in the step's float64 allreduce (no extra collective),
//     so every rank sees the same counts and takes the same decision;
//   * a bad batch is skipped (no optimiser step, no RBM or persistent-chain
//     update, BatchNorm statistics restored) and counted;
//   * train.max_bad_batches bad batches in a row roll training back to the
//     last good checkpoint (the initial parameters before the first one) and
//     scale the learning rate by train.rollback_lr_factor; the
//     (train.max_rollbacks + 1)-th streak ends the run (exit 4);
//   * optional clipping of the global encoder/decoder gradient norm
//     (train.clip_grad_norm), computed from the summed gradient that every
//     rank holds, so every rank applies the same scale.
//
// train.fault_injection is the test hook: "KIND@EPOCH:BATCH[#RANK],..." with
// KIND nan_loss (the rank's loss becomes NaN) or nan_grad (one element of the
// rank's gradient becomes NaN), EPOCH 1-based, BATCH 0-based within the epoch,
// RANK absent = every rank.  Each listed entry fires once, at the first visit
// of its batch; a batch replayed after a rollback meets only entries that have
// not fired yet, so listing an entry twice makes it fire on two visits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qvae::train {

/// nan_loss / nan_grad: a NaN in the rank's loss or gradient (the stability
/// guard's cases); data_error: a negative voxel in the rank's first
/// micro-batch, which the voxel transform refuses (the error-once path).
enum class FaultKind { nan_loss, nan_grad, data_error };
const char* to_string(FaultKind kind);

/// One entry of train.fault_injection.
struct Fault {
  FaultKind kind = FaultKind::nan_loss;
  int epoch = 1;           ///< 1-based
  std::int64_t batch = 0;  ///< 0-based within the epoch
  int rank = -1;           ///< -1: every rank
};

/// Parses train.fault_injection ("" = none).  UsageError (exit 2) naming the
/// first malformed entry.
std::vector<Fault> parse_fault_injection(const std::string& text);

/// What this rank injects into one batch.
struct InjectedFaults {
  bool nan_loss = false;
  bool nan_grad = false;
  bool data_error = false;
};

/// The faults of a run, each fired once.  Every rank holds the whole list and
/// consumes entries identically (also those aimed at other ranks), so all
/// ranks agree on what is left after a rollback.
class FaultSchedule {
 public:
  FaultSchedule() = default;
  FaultSchedule(std::vector<Fault> faults, int rank) : faults_(std::move(faults)), rank_(rank) {
    fired_.assign(faults_.size(), false);
  }
  /// Marks the entries of (epoch, batch) fired; returns those aimed at this rank.
  InjectedFaults take(int epoch, std::int64_t batch);
  bool empty() const { return faults_.empty(); }

 private:
  std::vector<Fault> faults_;
  std::vector<bool> fired_;
  int rank_ = 0;
};

/// The guard's limits (from TrainConfig).
struct GuardLimits {
  int max_bad_batches = 5;          ///< consecutive bad batches that trigger a rollback
  int max_rollbacks = 3;            ///< rollbacks allowed per run; one more streak fails
  double rollback_lr_factor = 0.5;  ///< learning-rate factor per rollback
};

/// The guard's state: checkpointed (dataset guard_state) so a resumed run
/// continues it exactly; a rollback keeps it (it is about the run, not the model).
struct GuardState {
  double lr_scale = 1.0;                   ///< product of the rollback factors so far
  int rollbacks = 0;                       ///< over the whole run
  int consecutive_bad = 0;                 ///< current streak of skipped batches
  std::int64_t epoch_bad_batches = 0;      ///< history columns of the current epoch:
  std::int64_t epoch_rollbacks = 0;        ///<   events as they happened (a rollback
  std::int64_t epoch_clipped_batches = 0;  ///<   does not erase them)
  double epoch_grad_norm_max = 0.0;        ///< largest pre-clip gradient norm of an applied batch

  /// Starts the counters of a new epoch (the run-wide fields stay).
  void start_epoch();
  /// The checkpoint encoding, and back (missing trailing values keep their defaults).
  std::vector<double> encode() const;
  static GuardState decode(const std::vector<double>& values);
};

enum class BatchVerdict {
  applied,   ///< the update was made
  skipped,   ///< bad batch, skipped; the streak is below the limit
  rollback,  ///< bad batch that completes a streak: roll back (lr_scale and rollbacks already updated)
  give_up,   ///< bad batch that completes a streak with no rollback left: fail
};

/// Updates `state` for one batch (identical on every rank, since its inputs
/// are collective) and says what the trainer must do.
BatchVerdict judge_batch(bool bad, bool clipped, double grad_norm, const GuardLimits& limits, GuardState& state);

/// A piece of a gradient: `count` floats from `values`.
struct GradientPiece {
  const float* values;
  std::size_t count;
};
/// Euclidean norm over the pieces, accumulated in double in piece and index
/// order (the same value on every rank holding the same gradients).
double gradient_norm(const std::vector<GradientPiece>& pieces);
/// The factor that scales a gradient of norm `norm` to at most `max_norm`
/// (PyTorch's clip_grad_norm_: max_norm / (norm + 1e-6) when that is < 1);
/// 1 when max_norm is 0 (clipping off) or the norm is within the bound.
double clip_coefficient(double norm, double max_norm);

}  // namespace qvae::train
