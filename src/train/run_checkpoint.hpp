// A run's checkpoint files: what `qvae train` writes every epoch and resumes
// from (the model, the optimisers, the run's position, history and stability
// guard; docs/formats.md "Checkpoints").  Internal to the train module.
#pragma once

#include <torch/torch.h>

#include <array>
#include <limits>
#include <string>

#include "data_parallel_model.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/train/checkpoint.hpp"
#include "qvae/train/history.hpp"
#include "qvae/train/stability.hpp"

namespace qvae::train {

/// History columns of the stability guard, in row order (history v2).
constexpr std::array<const char*, 4> kGuardColumns = {"bad_batches", "rollbacks", "clipped_batches", "grad_norm_max"};
/// History columns of the prior's log-likelihood (NaN in epochs without it).
constexpr std::array<const char*, 5> kLogLikelihoodColumns = {"val_prior_energy", "val_ll", "log_z", "log_z_err",
                                                              "ll_s"};

/// What a checkpoint holds besides the model (see checkpoint.hpp).
struct RunState {
  GuardState guard;  ///< the stability guard (lr scale, rollbacks, the epoch's counters)
  CheckpointPosition position;
  History history;
  TermSums partial_sums{};  ///< of an interrupted epoch
  double partial_events = 0.0;
  double partial_seconds = 0.0;
  double best_metric = std::numeric_limits<double>::infinity();
  int best_epoch = 0;
  double elapsed_s = 0.0;
};

struct CheckpointContext {
  std::string geometry, data_file, best_rule;
  std::int64_t train_events = 0;
  io::Provenance provenance;
};

/// Collective: every rank serialises what it must, rank 0 writes `path` atomically.
void write_checkpoint(const std::string& path, DataParallelModel& trainer, const RunState& state,
                      const CheckpointContext& context, const par::Communicator& comm);

/// Every rank reads the checkpoint it resumes from (persistent chains are the
/// same on every rank, so rank 0's model archive holds them).
void load_checkpoint(const std::string& path, DataParallelModel& trainer, RunState& state);

}  // namespace qvae::train
