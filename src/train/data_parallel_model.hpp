// The model, its optimisers and the collectives of one data-parallel step:
// what `qvae train` and `qvae bench train` drive (docs/training.md "How a step
// is distributed").  Internal to the train module.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gradient_buckets.hpp"
#include "qvae/data/shower_stream.hpp"
#include "qvae/geometry/geometry.hpp"
#include "qvae/model/config.hpp"
#include "qvae/model/prior.hpp"
#include "qvae/model/qvae.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/par/partition.hpp"
#include "qvae/train/config.hpp"
#include "qvae/train/stability.hpp"
#include "sharded_adam.hpp"

namespace qvae::train {

/// Loss terms in history order (the history column names, docs/training.md "History").
constexpr std::array<const char*, 8> kTermNames = {"ae_loss",    "hit_loss", "entropy",    "pos_energy",
                                                   "neg_energy", "kl_loss",  "layer_loss", "loss"};
constexpr std::size_t kTerms = kTermNames.size();
constexpr std::size_t kLayerTerm = 6;  ///< index of layer_loss (added after the first checkpoint format)
using TermSums = std::array<double, kTerms>;

/// This rank's rows of a global batch: what the step asks for, all at once.
using FetchRows = std::function<data::ShowerBlock()>;

/// The reader's counters over a run (max over streams of the rows held; summed waits).
struct StreamStats {
  std::int64_t peak_rows = 0;
  double wait_seconds = 0.0;
  void add(const data::ShowerStream& stream) {
    peak_rows = std::max(peak_rows, stream.peak_rows());
    wait_seconds += stream.wait_seconds();
  }
};

/// What one global step reports (summed over all ranks, so the same on every rank).
struct StepReport {
  TermSums sums{};  ///< events x term
  double events = 0.0;
  bool stop_requested = false;
  int ranks_with_bad_loss = 0;
  int ranks_with_bad_gradient = 0;
  double grad_norm = 0.0;  ///< global encoder/decoder gradient norm before clipping (0: networks not trained)
  bool clipped = false;
  /// The stability guard's verdict on the batch: it was not applied.
  bool skipped() const { return ranks_with_bad_loss + ranks_with_bad_gradient > 0; }
};

struct ValidationReport {
  TermSums means{};
  double mean_prior_energy = 0.0;  ///< E(z) of the encoded (binary) codes, partition 0 included
  double val_loss = 0.0;  ///< ae + hit + kl (the OLD validation loss, docs/model.md "Loss terms and the RBM update")
  double chi2 = 0.0;      ///< E_tot/E_inc histograms, data vs reconstruction
  std::int64_t events = 0;
};

/// Where one rank's step time went, in seconds summed over the steps since
/// reset_step_times(); LibTorch runs synchronously on the CPU, and on a GPU
/// each lap waits for the device, so each lap is the work itself.
struct StepTimes {
  double setup = 0.0;    ///< zeroing gradients, saving BatchNorm buffers, the voxel transform
  double fetch = 0.0;    ///< waiting for this rank's rows (reads the prefetch did not hide)
  double forward = 0.0;  ///< encoder, decoder and loss
  double gibbs = 0.0;    ///< the negative phase's Gibbs chains
  double backward = 0.0;
  double statistics = 0.0;  ///< each micro-batch's loss sums, RBM sufficient statistics and BatchNorm buffers
  double agree = 0.0;       ///< the agreed-failure check: waiting for the slowest rank's local work
  double pack = 0.0;        ///< persistent chains shared; gradient sums started after backward (no overlap)
  double exchange = 0.0;    ///< waiting for the gradient sums, the statistics allreduce
  double update = 0.0;      ///< clipping, Adam on this rank's block, the parameters' allgather, the RBM update
  int steps = 0;
  /// Gradient buckets whose sum started while backward was still running.
  std::int64_t buckets_started_in_backward = 0;
  /// Every phase, named, in step order: the one list the total and the reports use.
  std::vector<std::pair<std::string, double>> phases() const {
    return {{"setup", setup},       {"fetch", fetch},           {"forward", forward}, {"gibbs", gibbs},
            {"backward", backward}, {"statistics", statistics}, {"agree", agree},     {"pack", pack},
            {"exchange", exchange}, {"update", update}};
  }
  double total() const {
    double sum = 0.0;
    for (const auto& phase : phases()) sum += phase.second;
    return sum;
  }
};

/// The model, its optimisers and the collectives of one data-parallel step.
class DataParallelModel {
 public:
  DataParallelModel(const model::ModelConfig& model_config, const geometry::Geometry& geometry,
                    const TrainConfig& train_config, std::uint64_t seed, const par::Communicator& comm);

  model::Qvae& model() { return model_; }
  /// Where the networks live (train.device, resolved for this rank).
  torch::Device device() const { return device_; }
  /// The encoder/decoder optimiser (its state sharded over ranks).
  ShardedAdam& optimizer() { return *optimizer_; }
  torch::optim::Optimizer* prior_optimizer() { return prior_optimizer_.get(); }
  std::int64_t parameter_count() const;

  void set_lr(double lr) { optimizer_->set_lr(lr); }

  /// Rank 0's parameters, buffers and prior on every rank (docs/training.md "How a step is distributed").
  void broadcast_from_root();

  /// One global step on `batch` (B global event indices): this rank's
  /// micro-batches (their rows from `fetch`, positions my_rows() of the
  /// batch), then the fixed sequence of collectives, then the updates
  /// unless some rank's loss or gradient is non-finite (the stability guard:
  /// then nothing changes but the BatchNorm buffers, which are restored, and,
  /// with persistent chains, the chains, which the caller restores).
  StepReport step(const std::int64_t* batch, std::int64_t batch_size, const FetchRows& fetch, int epoch,
                  std::int64_t batch_index, std::int64_t batches_per_epoch, std::int64_t total_steps, Stage stage,
                  bool stop_requested, const InjectedFaults& inject = {});

  /// Persistent chains belong to rows of the global batch: each rank advanced
  /// the rows of its micro-batches, which are contiguous and in rank order,
  /// so one allgather gives every rank the same (B, nodes) chains.
  void share_persistent_chains(std::int64_t batch_size);

  /// Validation in eval mode over `events` (positions spread over ranks); noise
  /// keyed by (seed, event) and fixed across epochs.  The rows stream from
  /// `data_file` in chunks, `depth` chunks read ahead.
  ValidationReport validate(const std::vector<std::int64_t>& events, const std::string& data_file, std::int64_t voxels,
                            int depth, std::int64_t chunk, double ratio_max, StreamStats& stats);

  /// FNV-1a over the bytes of the tensors broadcast at the start (parameters,
  /// buffers, prior), and whether they are all finite: equal on every rank as
  /// long as the ranks made the same updates.
  std::pair<std::uint64_t, bool> parameter_digest();

  /// The schedules at the epoch's last batch, as the history records them; set
  /// here too because an epoch resumed after its last batch runs no step.
  void set_schedules_at_epoch_end(int epoch, std::int64_t batches_per_epoch, std::int64_t total_steps);
  double last_beta() const { return last_beta_; }
  double last_slope() const { return last_slope_; }
  double last_kl_weight() const { return last_kl_weight_; }

  std::int64_t micro_batch_count(std::int64_t batch_size) const;

  const StepTimes& step_times() const { return times_; }
  std::size_t gradient_buckets() const { return buckets_->bucket_count(); }
  void reset_step_times() { times_ = StepTimes{}; }

  /// This rank's micro-batches of a global batch: block_partition(M, rank, P).
  par::Block my_micro_batches(std::int64_t batch_size) const {
    return par::block_partition(micro_batch_count(batch_size), comm_.rank(), comm_.size());
  }

  /// Positions [offset, end) of the global batch that this rank's
  /// micro-batches cover: they are contiguous, so their rows are too.
  par::Block my_rows(std::int64_t batch_size) const;

 private:
  static bool ends_with(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
  }

  void restore(const std::vector<torch::Tensor>& saved) {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < running_stats_.size(); ++i) running_stats_[i].copy_(saved[i]);
  }

  void add_running_stats(double* out);

  /// Sums of z and of z_i z_j over the couplers, data (posterior) then model (negative).
  void add_sufficient_statistics(const torch::Tensor& posterior, const torch::Tensor& negative, double* out,
                                 std::int64_t nodes, std::int64_t couplers) const;

  /// The centred gradient of model::Prior::centred_gradient from global sums
  /// (docs/model.md "Loss terms and the RBM update"; covariances with the N - 1 normalisation).
  model::PriorGradient centred_gradient(const double* sums, double events, std::int64_t nodes,
                                        std::int64_t couplers) const;

  model::ModelConfig config_;
  TrainConfig train_;
  std::uint64_t seed_;
  par::Communicator comm_;
  torch::Device device_{torch::kCPU};
  model::Qvae model_{nullptr};
  std::shared_ptr<model::Prior> prior_ptr_;
  std::unique_ptr<torch::optim::Optimizer> prior_optimizer_;
  std::vector<torch::Tensor> running_stats_, batch_counters_;
  torch::Tensor latent_of_node_;
  double last_beta_ = 0.0, last_slope_ = 0.0, last_kl_weight_ = 0.0;
  StepTimes times_;
  /// The encoder/decoder gradients and their exchange (declared last: its
  /// hooks go before the model does).
  std::unique_ptr<GradientBuckets> buckets_;
  /// Reads and writes the buckets (declared after them: it goes first).
  std::unique_ptr<ShardedAdam> optimizer_;
};

}  // namespace qvae::train
