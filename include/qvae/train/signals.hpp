// Graceful stop on Slurm pre-emption (docs/training.md "Checkpoints, resume,
// pre-emption"): the first SIGTERM or SIGUSR1 asks the trainer to finish the
// current batch, checkpoint and exit 0; a second one exits at once with
// 128 + signal (checkpoints are written atomically, so the last complete one
// stays intact).
#pragma once

namespace qvae::train {

/// RAII: installs the handlers for SIGTERM and SIGUSR1 and restores the
/// previous ones on destruction.  One instance at a time per process.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  /// True once a first signal arrived (async-signal-safe flag).
  bool requested() const;
  /// The signal that asked to stop (0: none).
  int signal_number() const;
};

}  // namespace qvae::train
