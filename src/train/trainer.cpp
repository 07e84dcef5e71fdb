// Data-parallel QVAE training runs: the epoch loop over global batches,
// checkpoints, resume, history, best model (docs/training.md,
// docs/model.md "Loss terms and the RBM update").  See trainer.hpp for the scheme.
#include "qvae/train/trainer.hpp"

#include "data_parallel_model.hpp"
#include "file_scan.hpp"
#include "run_checkpoint.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include "qvae/core/error.hpp"
#include "qvae/core/log.hpp"
#include "qvae/core/progress.hpp"
#include "qvae/core/resource_usage.hpp"
#include "qvae/core/run_options.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/data/shower_stream.hpp"
#include "qvae/data/splits.hpp"
#include "qvae/data/transforms.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/logz/logz.hpp"
#include "qvae/model/config.hpp"
#include "qvae/model/prior.hpp"
#include "qvae/model/qvae.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/par/partition.hpp"
#include "qvae/rbm/torch_device.hpp"
#include "qvae/train/checkpoint.hpp"
#include "qvae/train/history.hpp"
#include "qvae/train/signals.hpp"

namespace qvae::train {

namespace {

namespace fs = std::filesystem;

/// The prior's log-likelihood runs never share streams with training steps.
constexpr std::uint64_t kLogLikelihoodSeedSalt = 0x4C4F474C494B4500ull;  // "LOGLIKE", + epoch

}  // namespace

TrainResult run_training(const TrainRequest& request, const par::Communicator& comm) {
  TrainResult result;
  result.ranks = comm.size();
  const core::Stopwatch wall_start;

  // 1. Configuration, output directory, where to resume from (agreed: one message).
  core::Config config = request.config;
  std::string out_dir, data_file, resume_path;
  par::run_agreed(comm, [&] {
    const TrainConfig given = train_config_from(request.config);
    out_dir = request.out.empty() ? given.out : request.out;
    if (out_dir.empty())
      throw core::UsageError(core::describe("no output directory", "qvae train", "pass --out DIR or set train.out"));
    const std::vector<CheckpointEntry> existing = list_checkpoints(out_dir);
    if (request.resume) {
      if (existing.empty())
        throw core::UsageError(core::describe("nothing to resume: no checkpoint-*.h5 in '" + out_dir + "'",
                                              "qvae train --resume", "start the run without --resume"));
      resume_path = existing.back().path;
      const io::File file = io::File::open_serial(resume_path);
      io::require_format(file, kCheckpointFormat, kCheckpointFormatVersion);
      if (request.schema == nullptr) throw std::logic_error("run_training: resume needs the config schema");
      config = resume_config(*request.schema, request.config, io::get_string_attribute(file, "/", "config"));
      data_file = !request.data.empty()                              ? request.data
                  : request.config.source("train.data") != "default" ? request.config.get_string("train.data")
                                                                     : io::get_string_attribute(file, "/", "data_file");
    } else {
      if (!existing.empty())
        throw core::UsageError(core::describe(
            "'" + out_dir + "' already holds a run (" + fs::path(existing.back().path).filename().string() + ")",
            "qvae train", "pass --resume to continue it, or choose another --out"));
      data_file = !request.data.empty() ? request.data : given.data;
    }
    if (data_file.empty())
      throw core::UsageError(core::describe("no training data", "qvae train", "pass --data FILE or set train.data"));
  });
  TrainConfig train_config;
  model::ModelConfig model_config;
  core::RunOptions run;
  const int node_rank = comm.node_rank();
  par::run_agreed(comm, [&] {
    train_config = train_config_from(config);
    model_config = model::model_config_from(config);
    run = core::RunOptions::from(config);
    rbm::resolve_device(train_config.device, node_rank, "train.device");  // before anything is written
    for (const Fault& fault : train_config.faults)
      if (fault.rank >= comm.size())
        throw core::UsageError(core::describe("train.fault_injection aims at rank " + std::to_string(fault.rank) +
                                                  " but the run has " + std::to_string(comm.size()) + " rank(s)",
                                              "in the [train] settings", "use a rank below the rank count"));
    if (comm.is_root()) {
      std::error_code error;
      fs::create_directories(out_dir, error);
      if (error || !fs::is_directory(out_dir))
        throw core::UsageError(core::describe("cannot create the output directory '" + out_dir + "'",
                                              "qvae train --out", "choose a writable directory"));
      if (const int stale = remove_stale_temporaries(out_dir); stale > 0)
        core::log::info("removed ", stale, " temporary file(s) a killed run left in '", out_dir, "'");
    }
  });
  const std::uint64_t seed = run.seed;
  if (train_config.threads > 0) torch::set_num_threads(train_config.threads);

  // 2. Data: one bounded pass over the file (values checked, E_tot/E_inc per
  // row), then the split (docs/training.md, train.split).  Training and validation rows are
  // streamed per batch later; no rank ever holds the file.
  std::optional<data::CaloReader> reader;
  par::run_agreed(comm, [&] { reader.emplace(data_file, comm); });
  const FileScan scan = scan_file(*reader, comm);
  const std::int64_t voxels = scan.voxels;
  const data::SplitFractions fractions{1.0 - train_config.val_fraction - train_config.test_fraction,
                                       train_config.val_fraction, train_config.test_fraction};
  const data::Split split =
      train_config.split == SplitKind::contiguous   ? data::split_events_contiguous(reader->events(), fractions)
      : train_config.split == SplitKind::stratified ? data::split_events_stratified(scan.energies, seed, fractions)
                                                    : data::split_events(reader->events(), seed, fractions);
  std::vector<std::int64_t> validation = split.validation;
  if (train_config.val_max_events > 0 && static_cast<std::int64_t>(validation.size()) > train_config.val_max_events)
    validation.resize(static_cast<std::size_t>(train_config.val_max_events));
  const auto train_events = static_cast<std::int64_t>(split.train.size());
  const std::int64_t batch_size = train_config.batch_size;
  std::int64_t batches_per_epoch = train_events / batch_size;
  if (train_config.max_batches_per_epoch > 0)
    batches_per_epoch = std::min(batches_per_epoch, train_config.max_batches_per_epoch);
  par::run_agreed(comm, [&] {
    if (batches_per_epoch < 1)
      throw core::UsageError(core::describe("the training split has " + std::to_string(train_events) +
                                                " events, fewer than train.batch_size = " + std::to_string(batch_size),
                                            "file '" + data_file + "'", "use more events or a smaller batch"));
    if (validation.empty())
      throw core::UsageError(core::describe("the validation split is empty", "file '" + data_file + "'",
                                            "use more events or a larger train.val_fraction"));
  });
  resolve_fraction_scale(scan.largest_fraction, scan.largest_where, data_file, request.resume, config, model_config,
                         comm);
  double ratio_max = 0.0;  // histogram range of E_tot/E_inc: 1.5 x the largest validation value
  for (std::int64_t e : validation)
    if (e >= scan.mine.offset && e < scan.mine.end())
      ratio_max = std::max(ratio_max, scan.fractions[static_cast<std::size_t>(e - scan.mine.offset)]);
  ratio_max = comm.max(ratio_max);
  ratio_max = ratio_max > 0 ? 1.5 * ratio_max : 1.0;

  // 3. Model, optimisers, rank 0's parameters everywhere; the resumed state.
  std::optional<DataParallelModel> trainer;
  // A fresh model and optimisers as at the start (collective: rank 0's
  // parameters are broadcast); restoring a saved state into them is the resume path.
  auto build_trainer = [&] {
    par::run_agreed(comm, [&] {
      trainer.reset();
      trainer.emplace(model_config, reader->geometry(), train_config, seed, comm);
    });
  };
  build_trainer();
  // The energy code must hold the file's largest incident energy (its features
  // grow with E): refused here, once, before the first epoch.
  if (model_config.prior_conditioning == model::PriorConditioning::clamped) {
    const double global_largest = *std::max_element(scan.energies.begin(), scan.energies.end());
    par::run_agreed(comm, [&] {
      try {
        trainer->model()->energy_code(torch::tensor({global_largest}, torch::kDouble), torch::kFloat);
      } catch (const core::InputError& error) {
        throw core::InputError(core::describe(
            "the file's largest incident energy, " + std::to_string(global_largest) +
                " MeV, does not fit the binary energy code (" + error.what() + ")",
            "file '" + data_file + "'",
            "set model.energy_code_widths = auto and model.energy_code_max_mev >= " + std::to_string(global_largest)));
      }
    });
  }
  RunState state;
  if (request.resume) {
    par::run_agreed(comm, [&] {
      load_checkpoint(resume_path, *trainer, state);
      const io::File file = io::File::open_serial(resume_path);
      if (io::get_int_attribute(file, "/", "train_events") != train_events)
        throw core::InputError(core::describe("the training split has " + std::to_string(train_events) +
                                                  " events but the checkpoint was trained on " +
                                                  std::to_string(io::get_int_attribute(file, "/", "train_events")),
                                              "file '" + data_file + "'", "resume with the run's own data file"));
    });
    if (io::get_int_attribute(io::File::open_serial(resume_path), "/", "ranks") != comm.size())
      core::log::warn_root("resuming on ", comm.size(), " ranks a run checkpointed on another rank count: ",
                           "the continuation is equivalent but not bit-identical");
    core::log::info_root("resuming from ", resume_path, " (", state.position.epochs_done, " epochs and ",
                         state.position.batches_done, " batches done)");
  }
  CheckpointContext context{reader->geometry().name(), data_file, to_string(train_config.best), train_events,
                            io::Provenance{request.command_line, seed, config.to_ini()}};
  result.out_dir = out_dir;
  result.epochs_planned = train_config.epochs;
  result.best_epoch = state.best_epoch;
  result.best_metric = state.best_metric;
  const std::string best_path = (fs::path(out_dir) / "best.h5").string();
  if (state.best_epoch > 0) result.best = best_path;

  // Stability guard (stability.hpp).  Rollbacks go to the newest checkpoint of
  // this run, or, before the first one, to the initial model: rebuilt from the
  // seed, as at the start (no copy of it is kept), and checked against the
  // digest of the first build.
  const GuardLimits guard_limits = train_config.guard_limits();
  FaultSchedule faults(train_config.faults, comm.rank());
  std::string rollback_checkpoint = resume_path;
  const std::uint64_t initial_digest = rollback_checkpoint.empty() ? trainer->parameter_digest().first : 0;
  const bool persistent_chains = model_config.rbm.negative_chains == model::NegativeChains::pcd;
  auto roll_back = [&] {
    const GuardState guard = state.guard;  // the guard's state is about the run: it survives
    build_trainer();
    if (rollback_checkpoint.empty()) {
      par::run_agreed(comm, [&] {
        if (trainer->parameter_digest().first != initial_digest)
          throw std::logic_error("qvae train: the rebuilt initial model differs from the first build");
      });
      state = RunState{};
    } else {
      par::run_agreed(comm, [&] { load_checkpoint(rollback_checkpoint, *trainer, state); });
    }
    state.guard = guard;
  };
  auto diverged = [&](int epoch, std::int64_t batch) {
    const std::string kept = rollback_checkpoint.empty()
                                 ? "no checkpoint was written yet: start a new run with a lower train.lr or a "
                                   "train.clip_grad_norm"
                                 : "the last good checkpoint " + fs::path(rollback_checkpoint).filename().string() +
                                       " is intact: continue with --resume and a larger train.max_rollbacks or a "
                                       "train.clip_grad_norm";
    par::run_agreed(comm, [&] {
      throw core::RuntimeError(
          core::describe("training diverged: " + std::to_string(guard_limits.max_bad_batches) +
                             " batch(es) in a row with a non-finite loss or gradient (the last: epoch " +
                             std::to_string(epoch) + " batch " + std::to_string(batch) + ") after " +
                             std::to_string(state.guard.rollbacks) + " rollback(s), the limit train.max_rollbacks",
                         "run directory '" + out_dir + "'", kept));
    });
  };

  // 4. Epochs.
  StopSignals signals;
  const std::int64_t total_steps = static_cast<std::int64_t>(train_config.epochs) * batches_per_epoch;
  const std::int64_t validation_chunk = std::max<std::int64_t>(1, batch_size / trainer->micro_batch_count(batch_size));
  const double elapsed_before = state.elapsed_s;
  StreamStats stream_stats;
  // A rollback restarts the loop body at the restored position (as a resume would).
  int epoch = state.position.epochs_done + 1;
  while (epoch <= train_config.epochs && !result.interrupted) {
    const Stage stage = train_config.stage_of(epoch);
    const double lr = train_config.lr_at(epoch) * state.guard.lr_scale;
    trainer->set_lr(lr);
    const std::vector<std::int64_t> order = data::shuffle_events(split.train, seed, static_cast<std::uint64_t>(epoch));
    TermSums sums = state.partial_sums;
    double events = state.partial_events;
    double train_seconds = state.partial_seconds;
    const std::int64_t first_batch = state.position.batches_done;
    state.partial_sums = {};
    state.partial_events = state.partial_seconds = 0.0;
    state.position.batches_done = 0;

    core::Progress progress("epoch " + std::to_string(epoch) + "/" + std::to_string(train_config.epochs),
                            static_cast<std::uint64_t>(batches_per_epoch), "batches", comm.is_root(), run.progress,
                            run.progress_interval_s);
    progress.update(static_cast<std::uint64_t>(first_batch));
    const core::Stopwatch train_start;
    std::int64_t batches_done = first_batch;
    bool rolled_back = false;
    // This rank's rows of batches first_batch.. in the background, prefetch_batches
    // ahead.  While it exists the reader is the process's only HDF5 user: it is
    // closed before anything else touches a file (checkpoint, rollback, validation).
    const par::Block share = trainer->my_rows(batch_size);
    std::optional<data::ShowerStream> stream;
    // Agreed: a rank that cannot start its reader must not leave the others in a step's collectives.
    par::run_agreed(comm, [&] {
      stream.emplace(
          data_file, voxels, batches_per_epoch - first_batch,
          [&order, share, batch_size, first_batch](std::int64_t k) {
            const auto start = static_cast<std::ptrdiff_t>((first_batch + k) * batch_size + share.offset);
            return std::vector<std::int64_t>(order.begin() + start, order.begin() + start + share.count);
          },
          train_config.prefetch_batches);
    });
    auto close_stream = [&] {
      if (!stream) return;
      stream_stats.add(*stream);
      stream.reset();
    };
    const FetchRows fetch = [&] { return stream->next().block; };
    for (std::int64_t b = first_batch; b < batches_per_epoch; ++b) {
      // A skipped batch leaves the persistent chains as they were before it.
      torch::Tensor chains_before;
      if (persistent_chains && trainer->model()->persistent_chains().defined())
        chains_before = trainer->model()->persistent_chains().clone();
      // The step agrees on its ranks' own failures before its collectives.
      std::optional<StepReport> report =
          trainer->step(order.data() + b * batch_size, batch_size, fetch, epoch, b, batches_per_epoch, total_steps,
                        stage, signals.requested(), faults.take(epoch, b));
      // Every input of the verdict is collective: all ranks take the same branch.
      const BatchVerdict verdict =
          judge_batch(report->skipped(), report->clipped, report->grad_norm, guard_limits, state.guard);
      if (verdict == BatchVerdict::applied) {
        for (std::size_t t = 0; t < kTerms; ++t) sums[t] += report->sums[t];
        events += report->events;
      } else {
        std::string what = report->ranks_with_bad_loss > 0 ? "loss" : "";
        if (report->ranks_with_bad_gradient > 0) what += what.empty() ? "gradient" : " and gradient";
        core::log::warn_root(
            "epoch ", epoch, " batch ", b, ": non-finite ", what, " (loss on ", report->ranks_with_bad_loss,
            ", gradient on ", report->ranks_with_bad_gradient, " of ", comm.size(), " ranks); batch skipped, ",
            state.guard.consecutive_bad > 0 ? state.guard.consecutive_bad : guard_limits.max_bad_batches,
            " in a row (rollback at ", guard_limits.max_bad_batches, ")");
        if (verdict == BatchVerdict::give_up) {
          close_stream();
          diverged(epoch, b);
        }
        if (verdict == BatchVerdict::rollback) {
          core::log::warn_root("rolling back to ",
                               rollback_checkpoint.empty() ? std::string("the initial parameters")
                                                           : fs::path(rollback_checkpoint).filename().string(),
                               " (rollback ", state.guard.rollbacks, " of at most ", guard_limits.max_rollbacks,
                               "); learning rate now x", state.guard.lr_scale);
          close_stream();
          roll_back();
          rolled_back = true;
          break;
        }
        if (persistent_chains) trainer->model()->set_persistent_chains(chains_before);
      }
      batches_done = b + 1;
      progress.update(static_cast<std::uint64_t>(batches_done));
      if (report->stop_requested) {
        result.interrupted = true;
        break;
      }
    }
    close_stream();
    progress.finish();
    if (rolled_back) {
      epoch = state.position.epochs_done + 1;
      continue;
    }
    train_seconds += comm.max(train_start.seconds());

    if (result.interrupted) {
      // Pre-emption: a resumable checkpoint of the partial epoch, then exit 0.
      state.position = {epoch - 1, batches_done};
      state.partial_sums = sums;
      state.partial_events = events;
      state.partial_seconds = train_seconds;
      state.elapsed_s = elapsed_before + wall_start.seconds();
      const std::string path = (fs::path(out_dir) / checkpoint_name(state.position)).string();
      write_checkpoint(path, *trainer, state, context, comm);
      result.checkpoint = path;
      result.epochs_done = epoch - 1;
      core::log::info_root("stopped by signal ", signals.signal_number(), " after ", batches_done, " batches of epoch ",
                           epoch, "; checkpoint ", path, " (continue with --resume)");
      break;
    }

    const core::Stopwatch validation_start;
    const std::optional<ValidationReport> val = trainer->validate(
        validation, data_file, voxels, train_config.prefetch_batches, validation_chunk, ratio_max, stream_stats);
    const double validation_seconds = comm.max(validation_start.seconds());
    // train.best = ll: LL = -<E(z)>_encoded validation - log Z of the prior, every ll_every epochs and at the end.
    const bool ll_epoch =
        train_config.best == BestRule::ll && (epoch % train_config.ll_every == 0 || epoch == train_config.epochs);
    std::optional<logz::LogzReport> log_z;
    double ll_seconds = 0.0;
    if (ll_epoch) {
      const core::Stopwatch ll_start;
      logz::LogzRequest ll_request;
      ll_request.method = logz::Method::both;
      ll_request.chains = train_config.ll_chains;
      ll_request.temperatures = train_config.ll_temperatures;
      ll_request.seed = seed ^ (kLogLikelihoodSeedSalt + static_cast<std::uint64_t>(epoch));
      par::run_agreed(comm, [&] { log_z = logz::run_logz(trainer->model()->prior().machine(), ll_request, comm); });
      ll_seconds = comm.max(ll_start.seconds());
    }
    const double val_ll = log_z ? -val->mean_prior_energy - log_z->log_z() : std::numeric_limits<double>::quiet_NaN();
    const double metric = train_config.best == BestRule::recon_chi2 ? val->means[0] + 10.0 * val->chi2
                          : train_config.best == BestRule::ll       ? -val_ll
                                                                    : val->val_loss;
    const bool is_best = std::isfinite(metric) && (state.best_epoch == 0 || metric < state.best_metric);
    if (is_best) {
      state.best_metric = metric;
      state.best_epoch = epoch;
    }
    state.elapsed_s = elapsed_before + wall_start.seconds();
    trainer->set_schedules_at_epoch_end(epoch, batches_per_epoch, total_steps);
    History::Row row = {{"epoch", epoch},
                        {"stage", static_cast<double>(static_cast<int>(stage))},
                        {"lr", lr},
                        {"beta", trainer->last_beta()},
                        {"slope", trainer->last_slope()},
                        {"kl_weight", trainer->last_kl_weight()}};
    const double n = std::max(events, 1.0);
    for (std::size_t t = 0; t < kTerms; ++t) row.emplace_back(std::string("train_") + kTermNames[t], sums[t] / n);
    for (std::size_t t = 0; t + 1 < kTerms; ++t) row.emplace_back(std::string("val_") + kTermNames[t], val->means[t]);
    row.emplace_back("val_loss", val->val_loss);
    row.emplace_back("val_recon_chi2", val->chi2);
    row.emplace_back("metric", metric);
    row.emplace_back("is_best", is_best ? 1.0 : 0.0);
    row.emplace_back("train_events", events);
    row.emplace_back("val_events", static_cast<double>(val->events));
    row.emplace_back("train_s", train_seconds);
    row.emplace_back("val_s", validation_seconds);
    row.emplace_back("showers_per_s", train_seconds > 0 ? events / train_seconds : 0.0);
    row.emplace_back("elapsed_s", state.elapsed_s);
    row.emplace_back("ranks", comm.size());
    row.emplace_back(kGuardColumns[0], static_cast<double>(state.guard.epoch_bad_batches));
    row.emplace_back(kGuardColumns[1], static_cast<double>(state.guard.epoch_rollbacks));
    row.emplace_back(kGuardColumns[2], static_cast<double>(state.guard.epoch_clipped_batches));
    row.emplace_back(kGuardColumns[3], state.guard.epoch_grad_norm_max);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const std::array<double, kLogLikelihoodColumns.size()> ll_values = {
        val->mean_prior_energy, val_ll, log_z ? log_z->log_z() : nan, log_z ? log_z->combined_uncertainty() : nan,
        ll_seconds};
    for (std::size_t c = 0; c < ll_values.size(); ++c) row.emplace_back(kLogLikelihoodColumns[c], ll_values[c]);
    state.history.append(row);
    state.position = {epoch, 0};
    if (state.guard.epoch_clipped_batches > 0)
      core::log::warn_root("epoch ", epoch, ": gradient norm clipped to ", train_config.clip_grad_norm, " in ",
                           state.guard.epoch_clipped_batches, " of ", batches_per_epoch, " batches (largest norm ",
                           state.guard.epoch_grad_norm_max, ")");
    state.guard.start_epoch();  // the epoch's checkpoint starts the next epoch's counters at zero

    const std::string path = (fs::path(out_dir) / checkpoint_name(state.position)).string();
    write_checkpoint(path, *trainer, state, context, comm);
    result.checkpoint = path;
    result.epochs_done = epoch;
    rollback_checkpoint = path;
    par::run_agreed(comm, [&] {
      if (!comm.is_root()) return;
      if (is_best) replace_with_link(path, best_path);
      prune_checkpoints(out_dir, train_config.keep_last);
      state.history.write_files(out_dir, context.provenance);
    });
    if (is_best) result.best = best_path;
    core::log::info_root("epoch ", epoch, "/", train_config.epochs, " [", to_string(stage), "]: loss ",
                         sums[kTerms - 1] / n, ", val_loss ", val->val_loss, ", chi2 ", val->chi2,
                         is_best ? " (best)" : "", ", ", static_cast<long long>(events / std::max(train_seconds, 1e-9)),
                         " showers/s");
    // A signal that arrived during validation or the checkpoint: the state is saved, stop now.
    if (comm.max(signals.requested() ? 1 : 0) > 0 && epoch < train_config.epochs) {
      result.interrupted = true;
      core::log::info_root("stopped by signal after epoch ", epoch, "; continue with --resume");
    }
    ++epoch;
  }
  if (result.epochs_done == 0) result.epochs_done = state.position.epochs_done;
  result.best_epoch = state.best_epoch;
  result.best_metric = state.best_metric;
  if (state.best_epoch > 0) result.best = best_path;
  result.history_csv = (fs::path(out_dir) / "history.csv").string();
  result.history_h5 = (fs::path(out_dir) / "history.h5").string();
  for (const auto& [name, value] : state.history.last()) result.last_epoch[name] = value;
  std::tie(result.parameter_digest, result.parameters_finite) = trainer->parameter_digest();
  result.gradient_buckets = static_cast<std::int64_t>(trainer->gradient_buckets());
  result.buckets_started_in_backward = trainer->step_times().buckets_started_in_backward;
  result.seconds = comm.max(wall_start.seconds());
  result.peak_rss_mb = comm.max(core::peak_rss_mb());
  result.peak_stream_rows = comm.max(stream_stats.peak_rows);
  result.io_wait_s = comm.max(stream_stats.wait_seconds);
  return result;
}

}  // namespace qvae::train
