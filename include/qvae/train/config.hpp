// Configuration of data-parallel training (docs/training.md): the
// [train] config keys and the schedules they define.  No LibTorch include, so
// the CLI can register the keys cheaply.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qvae/rbm/torch_device.hpp"
#include "qvae/train/stability.hpp"

namespace qvae::core {
class Config;
class ConfigSchema;
}  // namespace qvae::core

namespace qvae::train {

/// Learning-rate schedule of the encoder/decoder Adam (per epoch).
enum class LrSchedule { constant, step, exponential, cosine };
/// Which validation quantity picks DIR/best.h5 (docs/training.md "Best model").
enum class BestRule { val_loss, recon_chi2, ll };
/// How the events of the data file are split (docs/training.md, train.split).
enum class SplitKind { shuffled, contiguous, stratified };

const char* to_string(LrSchedule kind);
const char* to_string(BestRule kind);
const char* to_string(SplitKind kind);
/// Precision of the gradient sums over ranks: exact float32, or bfloat16 (half the bytes, rounded).
enum class ExchangePrecision { fp32, bf16 };
const char* to_string(ExchangePrecision precision);

/// What one epoch trains (docs/training.md "Schedules", train.autoencoder_epochs).
enum class Stage {
  joint,        ///< encoder, decoder and prior together (the reference)
  autoencoder,  ///< two-stage, stage 1: encoder + decoder on ae + hit only; prior untouched
  prior,        ///< two-stage, stage 2: networks frozen (eval mode), RBM trained on their posterior
};
const char* to_string(Stage stage);

struct TrainConfig {
  std::string data;         ///< training file (--data overrides)
  std::string out = "run";  ///< output directory (--out overrides)
  int epochs = 10;
  std::int64_t batch_size = 128;           ///< global batch B: the same for any rank count
  std::int64_t micro_batch_size = 0;       ///< 0: one micro-batch per rank (B / ranks)
  std::int64_t max_batches_per_epoch = 0;  ///< 0: all full batches
  double lr = 1e-4;
  LrSchedule lr_schedule = LrSchedule::constant;
  int lr_warmup_epochs = 0;
  int lr_step_epochs = 50;
  double lr_gamma = 0.5;
  double lr_min = 0.0;
  double kl_warmup_ratio = 0.0;  ///< 0: gamma = loss.kl_weight from the first batch
  int autoencoder_epochs = 0;    ///< > 0: two-stage training
  BestRule best = BestRule::val_loss;
  int ll_every = 5;
  std::int64_t ll_chains = 256;         ///< train.best = ll: AIS and reverse-AIS chains
  std::int64_t ll_temperatures = 1000;  ///< train.best = ll: temperatures of each ladder
  int keep_last = 3;
  SplitKind split = SplitKind::shuffled;
  double val_fraction = 0.1;
  double test_fraction = 0.1;
  std::int64_t val_max_events = 0;  ///< 0: the whole validation split
  double bucket_mb = 25.0;          ///< gradient allreduce bucket (PyTorch DDP's bucket_cap_mb)
  bool overlap_exchange = true;     ///< start each bucket's sum during backward, as soon as it is final
  ExchangePrecision exchange_precision = ExchangePrecision::fp32;
  bool shard_optimizer = true;  ///< each rank keeps the Adam moments of, and updates, 1/ranks of the parameters
  int prefetch_batches = 2;     ///< batches of rows read ahead in the background (the memory window)
  int threads = 0;              ///< torch intra-op threads per rank; 0: LibTorch's default
  rbm::DeviceKind device = rbm::DeviceKind::cpu;  ///< where the networks and the Gibbs negative phase run
  // Stability guard (stability.hpp, docs/training.md "Stability guard").
  int max_bad_batches = 5;          ///< consecutive skipped batches that trigger a rollback
  int max_rollbacks = 3;            ///< rollbacks per run; one more streak fails (exit 4)
  double rollback_lr_factor = 0.5;  ///< learning-rate factor per rollback
  double clip_grad_norm = 0.0;      ///< global encoder/decoder gradient-norm bound; 0: off
  std::string fault_injection;      ///< test hook, as given
  std::vector<Fault> faults;        ///< fault_injection parsed

  GuardLimits guard_limits() const { return {max_bad_batches, max_rollbacks, rollback_lr_factor}; }

  /// lr of `epoch` (1-based): warm-up ramp lr·epoch/(warmup+1), then the schedule.
  double lr_at(int epoch) const;
  /// gamma_KL at global step `step` of `total_steps` (the OLD engine, docs/training.md "Schedules"):
  /// min(step / (ratio · total), kl_max); kl_max when the ratio is 0.
  double kl_weight_at(std::int64_t step, std::int64_t total_steps, double kl_max) const;
  /// The stage of `epoch` (1-based).
  Stage stage_of(int epoch) const;
  /// UsageError naming the first bad value.
  void validate() const;
};

/// Registers the [train] keys (defaults above); the CLI's schema calls it.
void add_train_keys(core::ConfigSchema& schema);
/// Reads the keys of add_train_keys.
TrainConfig train_config_from(const core::Config& config);

}  // namespace qvae::train
