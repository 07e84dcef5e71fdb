// [train] config keys -> TrainConfig, and the schedules (docs/training.md "Schedules").
#include "qvae/train/config.hpp"

#include <algorithm>
#include <cmath>

#include "qvae/core/config_binder.hpp"
#include "qvae/core/error.hpp"

namespace qvae::train {

const char* to_string(LrSchedule kind) {
  switch (kind) {
    case LrSchedule::constant:
      return "constant";
    case LrSchedule::step:
      return "step";
    case LrSchedule::exponential:
      return "exponential";
    case LrSchedule::cosine:
      return "cosine";
  }
  return "?";
}
const char* to_string(BestRule kind) {
  switch (kind) {
    case BestRule::val_loss:
      return "val_loss";
    case BestRule::recon_chi2:
      return "recon_chi2";
    case BestRule::ll:
      return "ll";
  }
  return "?";
}
const char* to_string(SplitKind kind) {
  switch (kind) {
    case SplitKind::shuffled:
      return "shuffled";
    case SplitKind::contiguous:
      return "contiguous";
    case SplitKind::stratified:
      return "stratified";
  }
  return "?";
}
const char* to_string(ExchangePrecision precision) { return precision == ExchangePrecision::bf16 ? "bf16" : "fp32"; }
const char* to_string(Stage stage) {
  switch (stage) {
    case Stage::joint:
      return "joint";
    case Stage::autoencoder:
      return "autoencoder";
    case Stage::prior:
      return "prior";
  }
  return "?";
}

double TrainConfig::lr_at(int epoch) const {
  if (epoch <= lr_warmup_epochs) return lr * epoch / (lr_warmup_epochs + 1.0);
  const int e = epoch - lr_warmup_epochs - 1;  // epochs since the warm-up, from 0
  switch (lr_schedule) {
    case LrSchedule::constant:
      return lr;
    case LrSchedule::step:
      return lr * std::pow(lr_gamma, e / lr_step_epochs);
    case LrSchedule::exponential:
      return lr * std::pow(lr_gamma, static_cast<double>(e) / lr_step_epochs);
    case LrSchedule::cosine: {
      const int span = std::max(1, epochs - lr_warmup_epochs - 1);
      const double progress = std::min(1.0, static_cast<double>(e) / span);
      return lr_min + 0.5 * (lr - lr_min) * (1.0 + std::cos(3.14159265358979323846 * progress));
    }
  }
  return lr;
}

double TrainConfig::kl_weight_at(std::int64_t step, std::int64_t total_steps, double kl_max) const {
  if (kl_warmup_ratio <= 0 || total_steps <= 0) return kl_max;
  return std::min(static_cast<double>(step) / (kl_warmup_ratio * static_cast<double>(total_steps)), kl_max);
}

Stage TrainConfig::stage_of(int epoch) const {
  if (autoencoder_epochs <= 0) return Stage::joint;
  return epoch <= autoencoder_epochs ? Stage::autoencoder : Stage::prior;
}

void TrainConfig::validate() const {
  auto require = [](bool ok, const std::string& what, const std::string& remedy) {
    if (!ok) throw core::UsageError(core::describe(what, "in the [train] settings", remedy));
  };
  require(epochs >= 1, "train.epochs must be >= 1", "e.g. train.epochs = 10");
  require(batch_size >= 1, "train.batch_size must be >= 1", "e.g. train.batch_size = 128");
  require(micro_batch_size >= 0 && micro_batch_size <= batch_size,
          "train.micro_batch_size must lie in [0, train.batch_size]", "0 gives one micro-batch per rank");
  require(max_batches_per_epoch >= 0, "train.max_batches_per_epoch must be >= 0", "0 trains on every full batch");
  require(lr > 0 && std::isfinite(lr), "train.lr must be > 0", "the reference uses 1e-4");
  require(lr_warmup_epochs >= 0, "train.lr_warmup_epochs must be >= 0", "");
  require(lr_step_epochs >= 1, "train.lr_step_epochs must be >= 1", "");
  require(lr_gamma > 0 && lr_gamma <= 1, "train.lr_gamma must lie in (0, 1]", "");
  require(lr_min >= 0 && lr_min <= lr, "train.lr_min must lie in [0, train.lr]", "");
  require(kl_warmup_ratio >= 0, "train.kl_warmup_ratio must be >= 0", "0 switches the warm-up off, OLD used 0.3");
  require(autoencoder_epochs >= 0, "train.autoencoder_epochs must be >= 0", "0 trains everything jointly");
  require(ll_every >= 1, "train.ll_every must be >= 1", "");
  require(ll_chains >= 2 && ll_temperatures >= 1, "train.ll_chains must be >= 2 and train.ll_temperatures >= 1",
          "e.g. 256 chains and 1000 temperatures");
  require(keep_last >= 1, "train.keep_last must be >= 1", "");
  require(val_fraction > 0 && test_fraction >= 0 && val_fraction + test_fraction < 1,
          "train.val_fraction must be > 0, train.test_fraction >= 0 and their sum < 1", "e.g. 0.1 and 0.1");
  require(val_max_events >= 0, "train.val_max_events must be >= 0", "0 validates on the whole split");
  require(bucket_mb > 0, "train.bucket_mb must be > 0", "PyTorch DDP uses 25");
  require(prefetch_batches >= 1 && prefetch_batches <= 64, "train.prefetch_batches must lie in [1, 64]",
          "2 hides the reads behind compute; each batch read ahead holds this rank's share of one batch");
  require(threads >= 0, "train.threads must be >= 0", "0 keeps LibTorch's default");
  require(max_bad_batches >= 1, "train.max_bad_batches must be >= 1", "e.g. 5 consecutive skipped batches");
  require(max_rollbacks >= 0, "train.max_rollbacks must be >= 0", "0 fails at the first streak of bad batches");
  require(rollback_lr_factor > 0 && rollback_lr_factor <= 1, "train.rollback_lr_factor must lie in (0, 1]",
          "e.g. 0.5 halves the learning rate at each rollback");
  require(clip_grad_norm >= 0 && std::isfinite(clip_grad_norm), "train.clip_grad_norm must be a finite value >= 0",
          "0 switches clipping off");
}

namespace {

/// The [train] keys, each bound to its TrainConfig member (whose default it takes).
const core::ConfigBinder<TrainConfig>& train_keys() {
  static const core::ConfigBinder<TrainConfig> keys = [] {
    core::ConfigBinder<TrainConfig> k;
    k.value("train.data", "training data: a CaloChallenge file (--data overrides)", &TrainConfig::data)
        .value("train.out", "output directory of checkpoints and history (--out overrides)", &TrainConfig::out)
        .value("train.epochs", "epochs to train (a resumed run may raise it)", &TrainConfig::epochs)
        .value("train.batch_size", "global batch: split over ranks, same update for any rank count",
               &TrainConfig::batch_size)
        .value("train.micro_batch_size",
               "events per forward pass (BatchNorm statistics); 0 = batch_size / ranks.  Fix it for results "
               "independent of the rank count",
               &TrainConfig::micro_batch_size)
        .value("train.max_batches_per_epoch", "cap on batches per epoch (0 = all)", &TrainConfig::max_batches_per_epoch)
        .value("train.lr", "Adam learning rate of encoder and decoder", &TrainConfig::lr)
        .choice("train.lr_schedule", "learning-rate schedule per epoch",
                {LrSchedule::constant, LrSchedule::step, LrSchedule::exponential, LrSchedule::cosine},
                &TrainConfig::lr_schedule)
        .value("train.lr_warmup_epochs", "linear warm-up epochs before the schedule", &TrainConfig::lr_warmup_epochs)
        .value("train.lr_step_epochs", "step/exponential: epochs per factor lr_gamma", &TrainConfig::lr_step_epochs)
        .value("train.lr_gamma", "step/exponential: decay factor", &TrainConfig::lr_gamma)
        .value("train.lr_min", "cosine: final learning rate", &TrainConfig::lr_min)
        .value("train.kl_warmup_ratio",
               "KL weight warm-up: gamma = min(step / (ratio * all steps), loss.kl_weight); 0 = off",
               &TrainConfig::kl_warmup_ratio)
        .value("train.autoencoder_epochs",
               "two-stage training: first N epochs encoder+decoder only, then the prior alone (0 = joint)",
               &TrainConfig::autoencoder_epochs)
        .choice("train.best", "rule for DIR/best.h5", {BestRule::val_loss, BestRule::recon_chi2, BestRule::ll},
                &TrainConfig::best)
        .value("train.ll_every",
               "train.best = ll: log-likelihood of the encoded validation codes (AIS + reverse AIS) every k epochs and "
               "at the last epoch",
               &TrainConfig::ll_every)
        .value("train.ll_chains", "train.best = ll: chains of each annealing direction", &TrainConfig::ll_chains)
        .value("train.ll_temperatures", "train.best = ll: temperatures of each ladder", &TrainConfig::ll_temperatures)
        .value("train.keep_last", "epoch checkpoints kept (plus best.h5)", &TrainConfig::keep_last)
        .choice("train.split", "train/validation/test split of the events",
                {SplitKind::shuffled, SplitKind::contiguous, SplitKind::stratified}, &TrainConfig::split)
        .value("train.val_fraction", "validation share of the events", &TrainConfig::val_fraction)
        .value("train.test_fraction", "test share of the events (never used in training)", &TrainConfig::test_fraction)
        .value("train.val_max_events", "validate on at most this many events (0 = all)", &TrainConfig::val_max_events)
        .value("train.bucket_mb", "gradient allreduce bucket size in MB", &TrainConfig::bucket_mb)
        .value("train.overlap_exchange",
               "start each gradient bucket's sum over ranks during backward as soon as its gradients are final (false: "
               "after the whole backward); the parameters are the same either way",
               &TrainConfig::overlap_exchange)
        .choice("train.exchange_precision",
                "precision of the gradient sums over ranks: fp32 (exact, the same parameters for any rank count) or "
                "bf16 (half the bytes on the wire, each value and partial sum rounded to 8 bits of mantissa; "
                "parameters then depend slightly on the rank count)",
                {ExchangePrecision::fp32, ExchangePrecision::bf16}, &TrainConfig::exchange_precision)
        .value("train.shard_optimizer",
               "each rank keeps the encoder/decoder Adam moments of, and updates, 1/ranks of the parameters, then "
               "the parameters are gathered (ZeRO stage 1: less memory per rank); false: every rank keeps all moments "
               "and updates every parameter (no gather); the parameters are the same either way",
               &TrainConfig::shard_optimizer)
        .value("train.prefetch_batches",
               "batches of training rows each rank reads ahead in the background while it computes; a rank holds at "
               "most this many batches of its own rows (plus the one in use), never the file",
               &TrainConfig::prefetch_batches)
        .value("train.threads", "LibTorch threads per rank (0 = LibTorch's default)", &TrainConfig::threads)
        .choice("train.device",
                "where the encoder/decoder compute and the Gibbs negative phase runs: cpu, or cuda (one GPU per rank: "
                "the rank's index on its node modulo the visible GPUs); a build without CUDA exits 2",
                {rbm::DeviceKind::cpu, rbm::DeviceKind::cuda}, &TrainConfig::device)
        .value("train.max_bad_batches",
               "stability guard: consecutive batches with a non-finite loss or gradient (each skipped) that roll "
               "training back to the last good checkpoint",
               &TrainConfig::max_bad_batches)
        .value("train.max_rollbacks",
               "stability guard: rollbacks per run; the next streak of bad batches ends the run (exit 4)",
               &TrainConfig::max_rollbacks)
        .value("train.rollback_lr_factor", "stability guard: the learning rate is multiplied by this at every rollback",
               &TrainConfig::rollback_lr_factor)
        .value("train.clip_grad_norm", "clip the global encoder/decoder gradient norm to this (0 = off)",
               &TrainConfig::clip_grad_norm)
        .value("train.fault_injection",
               "test hook: KIND@EPOCH:BATCH[#RANK],... with KIND nan_loss, nan_grad or data_error (EPOCH from 1, BATCH "
               "from 0; #RANK on the command line only, INI files treat # as a comment)",
               &TrainConfig::fault_injection);
    return k;
  }();
  return keys;
}

}  // namespace

void add_train_keys(core::ConfigSchema& schema) { train_keys().add_keys(schema); }

TrainConfig train_config_from(const core::Config& config) {
  TrainConfig t = train_keys().read(config);
  t.faults = parse_fault_injection(t.fault_injection);
  t.validate();
  return t;
}

}  // namespace qvae::train
