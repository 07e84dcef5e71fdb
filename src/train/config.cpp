// [train] config keys -> TrainConfig, and the schedules (docs/training.md "Schedules").
#include "qvae/train/config.hpp"

#include <algorithm>
#include <cmath>

#include "qvae/core/choices.hpp"
#include "qvae/core/config.hpp"
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

using core::ConfigKey;
using core::ValueType;

using core::parse_choice;

}  // namespace

void add_train_keys(core::ConfigSchema& schema) {
  schema.add({"train.data", ValueType::string, "", "training data: a CaloChallenge file (--data overrides)", {}});
  schema.add(
      {"train.out", ValueType::string, "run", "output directory of checkpoints and history (--out overrides)", {}});
  schema.add({"train.epochs", ValueType::integer, "10", "epochs to train (a resumed run may raise it)", {}});
  schema.add({"train.batch_size",
              ValueType::integer,
              "128",
              "global batch: split over ranks, same update for any rank count",
              {}});
  schema.add({"train.micro_batch_size",
              ValueType::integer,
              "0",
              "events per forward pass (BatchNorm statistics); 0 = batch_size / ranks.  Fix it for results "
              "independent of the rank count",
              {}});
  schema.add({"train.max_batches_per_epoch", ValueType::integer, "0", "cap on batches per epoch (0 = all)", {}});
  schema.add({"train.lr", ValueType::real, "1e-4", "Adam learning rate of encoder and decoder", {}});
  schema.add({"train.lr_schedule",
              ValueType::string,
              "constant",
              "learning-rate schedule per epoch",
              {"constant", "step", "exponential", "cosine"}});
  schema.add({"train.lr_warmup_epochs", ValueType::integer, "0", "linear warm-up epochs before the schedule", {}});
  schema.add({"train.lr_step_epochs", ValueType::integer, "50", "step/exponential: epochs per factor lr_gamma", {}});
  schema.add({"train.lr_gamma", ValueType::real, "0.5", "step/exponential: decay factor", {}});
  schema.add({"train.lr_min", ValueType::real, "0", "cosine: final learning rate", {}});
  schema.add({"train.kl_warmup_ratio",
              ValueType::real,
              "0",
              "KL weight warm-up: gamma = min(step / (ratio * all steps), loss.kl_weight); 0 = off",
              {}});
  schema.add({"train.autoencoder_epochs",
              ValueType::integer,
              "0",
              "two-stage training: first N epochs encoder+decoder only, then the prior alone (0 = joint)",
              {}});
  schema.add({"train.best", ValueType::string, "val_loss", "rule for DIR/best.h5", {"val_loss", "recon_chi2", "ll"}});
  schema.add({"train.ll_every",
              ValueType::integer,
              "5",
              "train.best = ll: log-likelihood of the encoded validation codes (AIS + reverse AIS) every k epochs "
              "and at the last epoch",
              {}});
  schema.add({"train.ll_chains", ValueType::integer, "256", "train.best = ll: chains of each annealing direction", {}});
  schema.add({"train.ll_temperatures", ValueType::integer, "1000", "train.best = ll: temperatures of each ladder", {}});
  schema.add({"train.keep_last", ValueType::integer, "3", "epoch checkpoints kept (plus best.h5)", {}});
  schema.add({"train.split",
              ValueType::string,
              "shuffled",
              "train/validation/test split of the events",
              {"shuffled", "contiguous", "stratified"}});
  schema.add({"train.val_fraction", ValueType::real, "0.1", "validation share of the events", {}});
  schema.add({"train.test_fraction", ValueType::real, "0.1", "test share of the events (never used in training)", {}});
  schema.add({"train.val_max_events", ValueType::integer, "0", "validate on at most this many events (0 = all)", {}});
  schema.add({"train.bucket_mb", ValueType::real, "25", "gradient allreduce bucket size in MB", {}});
  schema.add({"train.overlap_exchange",
              ValueType::boolean,
              "true",
              "start each gradient bucket's sum over ranks during backward as soon as its gradients are final "
              "(false: after the whole backward); the parameters are the same either way",
              {}});
  schema.add({"train.prefetch_batches",
              ValueType::integer,
              "2",
              "batches of training rows each rank reads ahead in the background while it computes; a rank holds "
              "at most this many batches of its own rows (plus the one in use), never the file",
              {}});
  schema.add({"train.threads", ValueType::integer, "0", "LibTorch threads per rank (0 = LibTorch's default)", {}});
  schema.add({"train.max_bad_batches",
              ValueType::integer,
              "5",
              "stability guard: consecutive batches with a non-finite loss or gradient (each skipped) that roll "
              "training back to the last good checkpoint",
              {}});
  schema.add({"train.max_rollbacks",
              ValueType::integer,
              "3",
              "stability guard: rollbacks per run; the next streak of bad batches ends the run (exit 4)",
              {}});
  schema.add({"train.rollback_lr_factor",
              ValueType::real,
              "0.5",
              "stability guard: the learning rate is multiplied by this at every rollback",
              {}});
  schema.add({"train.clip_grad_norm",
              ValueType::real,
              "0",
              "clip the global encoder/decoder gradient norm to this (0 = off)",
              {}});
  schema.add(
      {"train.fault_injection",
       ValueType::string,
       "",
       "test hook: KIND@EPOCH:BATCH[#RANK],... with KIND nan_loss, nan_grad or data_error (EPOCH from 1, BATCH from 0; "
       "#RANK on the command line only, INI files treat # as a comment)",
       {}});
}

TrainConfig train_config_from(const core::Config& config) {
  TrainConfig t;
  t.data = config.get_string("train.data");
  t.out = config.get_string("train.out");
  t.epochs = static_cast<int>(config.get_int("train.epochs"));
  t.batch_size = config.get_int("train.batch_size");
  t.micro_batch_size = config.get_int("train.micro_batch_size");
  t.max_batches_per_epoch = config.get_int("train.max_batches_per_epoch");
  t.lr = config.get_real("train.lr");
  t.lr_schedule = parse_choice(config.get_string("train.lr_schedule"),
                               {LrSchedule::constant, LrSchedule::step, LrSchedule::exponential, LrSchedule::cosine},
                               "train.lr_schedule");
  t.lr_warmup_epochs = static_cast<int>(config.get_int("train.lr_warmup_epochs"));
  t.lr_step_epochs = static_cast<int>(config.get_int("train.lr_step_epochs"));
  t.lr_gamma = config.get_real("train.lr_gamma");
  t.lr_min = config.get_real("train.lr_min");
  t.kl_warmup_ratio = config.get_real("train.kl_warmup_ratio");
  t.autoencoder_epochs = static_cast<int>(config.get_int("train.autoencoder_epochs"));
  t.best = parse_choice(config.get_string("train.best"), {BestRule::val_loss, BestRule::recon_chi2, BestRule::ll},
                        "train.best");
  t.ll_every = static_cast<int>(config.get_int("train.ll_every"));
  t.ll_chains = config.get_int("train.ll_chains");
  t.ll_temperatures = config.get_int("train.ll_temperatures");
  t.keep_last = static_cast<int>(config.get_int("train.keep_last"));
  t.split = parse_choice(config.get_string("train.split"),
                         {SplitKind::shuffled, SplitKind::contiguous, SplitKind::stratified}, "train.split");
  t.val_fraction = config.get_real("train.val_fraction");
  t.test_fraction = config.get_real("train.test_fraction");
  t.val_max_events = config.get_int("train.val_max_events");
  t.bucket_mb = config.get_real("train.bucket_mb");
  t.overlap_exchange = config.get_bool("train.overlap_exchange");
  t.prefetch_batches = static_cast<int>(config.get_int("train.prefetch_batches"));
  t.threads = static_cast<int>(config.get_int("train.threads"));
  t.max_bad_batches = static_cast<int>(config.get_int("train.max_bad_batches"));
  t.max_rollbacks = static_cast<int>(config.get_int("train.max_rollbacks"));
  t.rollback_lr_factor = config.get_real("train.rollback_lr_factor");
  t.clip_grad_norm = config.get_real("train.clip_grad_norm");
  t.fault_injection = config.get_string("train.fault_injection");
  t.faults = parse_fault_injection(t.fault_injection);
  t.validate();
  return t;
}

}  // namespace qvae::train
