// Data-parallel QVAE training (docs/training.md).
//
// Every rank runs the same loop.  An epoch's order is the training split
// shuffled by (run.seed, epoch) (data::shuffle_events); global batch b is
// positions [bB, (b+1)B) of that order, cut into micro-batches
// (train.micro_batch_size, default B / ranks) spread over ranks in contiguous
// blocks.  A rank reads only the rows of its own micro-batches, streamed from
// the file by a background reader train.prefetch_batches batches ahead
// (data::ShowerStream; docs/training.md "Training data: streamed").  Each rank back-propagates its micro-batches' loss
// weighted by events / B, then one fixed sequence of collectives per step sums
//   1. the encoder/decoder gradients, packed in parameters() order into flat
//      float32 buckets of train.bucket_mb (25 MB, PyTorch DDP's default), and
//   2. one float64 buffer: loss sums, event count, the stop flag, the counts
//      of ranks with a non-finite loss / gradient (the stability guard,
//      stability.hpp), the RBM's sufficient statistics (sums of z and of
//      z_i z_j over the couplers, data and model), autograd RBM gradients and
//      BatchNorm running statistics.
// So every rank makes identical updates, batch counts are equal by
// construction (no rank can hang on a missing collective), and with a fixed
// micro-batch size the result does not depend on the rank count (to
// floating-point summation order).  Noise is keyed by (seed, global step,
// event) and Gibbs chains by the row in the global batch (model NoiseKeys).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "qvae/core/config.hpp"
#include "qvae/data/calo_file.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/train/config.hpp"

namespace qvae::train {

struct TrainRequest {
  const core::ConfigSchema* schema = nullptr;  ///< the CLI's schema (resume merges configs with it)
  core::Config config;                         ///< resolved from --config files and overrides
  std::string data;                            ///< --data (empty: train.data, or the checkpoint's on resume)
  std::string out;                             ///< --out (empty: train.out)
  bool resume = false;                         ///< continue from the newest checkpoint in the output directory
  std::string command_line;                    ///< provenance
};

struct TrainResult {
  std::string out_dir;
  int epochs_done = 0;
  int epochs_planned = 0;
  bool interrupted = false;  ///< stopped by SIGTERM/SIGUSR1 with a resumable checkpoint
  std::string checkpoint;    ///< the newest checkpoint written
  std::string best;          ///< DIR/best.h5 (empty before the first epoch)
  int best_epoch = 0;
  double best_metric = 0.0;
  std::string history_csv, history_h5;
  std::map<std::string, double> last_epoch;  ///< the final history row
  double seconds = 0.0;
  double peak_rss_mb = 0.0;  ///< max over ranks
  /// The most shower rows a rank's background reader held at once (read
  /// ahead, not yet used), max over ranks: bounded by train.prefetch_batches
  /// x the rank's rows per batch (or per validation chunk), whatever the file.
  std::int64_t peak_stream_rows = 0;
  /// Seconds the slowest rank waited for rows in training steps and validation
  /// (reads not hidden behind compute).
  double io_wait_s = 0.0;
  int ranks = 1;
  /// This rank's final model: FNV-1a over the parameters, buffers and RBM,
  /// and whether they are all finite.  Equal on every rank unless the ranks
  /// diverged (tests compare them).
  std::uint64_t parameter_digest = 0;
  bool parameters_finite = true;
  /// The gradient exchange: buckets per step, and how many bucket sums over
  /// the run started while backward was still running (train.overlap_exchange).
  std::int64_t gradient_buckets = 0;
  std::int64_t buckets_started_in_backward = 0;
};

/// Collective over `comm`: trains, checkpoints every epoch, writes the history.
/// Errors are agreed (one message, the same exit code on every rank).
TrainResult run_training(const TrainRequest& request, const par::Communicator& comm);

/// `qvae bench train`: timed training steps of the configured model on the
/// given showers (every rank passes the same block), after one warm-up step.
struct BenchTrainRequest {
  core::Config config;           ///< [model] [rbm] [loss] (and train.bucket_mb)
  std::int64_t batch_size = 32;  ///< global
  int batches = 3;               ///< timed steps
  int threads = 1;               ///< torch threads per rank
};
struct BenchTrainResult {
  double seconds = 0.0;  ///< slowest rank's wall time of the timed steps
  double showers_per_s = 0.0;
  double step_seconds = 0.0;  ///< per step
  /// Slowest rank's process CPU time per step: the wall time per step on
  /// dedicated cores (MPI waits busy-poll, so they count), robust on a loaded machine.
  double cpu_step_seconds = 0.0;
  double peak_rss_mb = 0.0;  ///< max over ranks
  std::int64_t parameters = 0;
  std::string device;  ///< rank 0's train.device, resolved ("cpu", "cuda:0")
  /// Seconds per step by phase, the mean over ranks, in step order:
  /// setup, fetch, forward, gibbs, backward, statistics, agree (waiting for
  /// the slowest rank), pack, exchange (the allreduces), update.
  std::vector<std::pair<std::string, double>> step_breakdown;
  std::int64_t gradient_buckets = 0;
  /// Per timed step, on rank 0: bucket sums started while backward ran.
  double buckets_started_in_backward = 0.0;
};
BenchTrainResult benchmark_training(const BenchTrainRequest& request, const data::ShowerBlock& showers,
                                    const geometry::Geometry& geometry, const par::Communicator& comm);

}  // namespace qvae::train
