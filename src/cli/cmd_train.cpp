// qvae train: data-parallel QVAE training with checkpoints, resume, history
// and the best model (docs/training.md).  Works alone or under
// mpirun/srun; SIGTERM/SIGUSR1 checkpoint and exit 0 (resume with --resume).
#include <cstdio>

#include "cli.hpp"
#include "qvae/core/json_output.hpp"
#include "qvae/train/trainer.hpp"

namespace qvae::cli {
namespace {

/// The parameter digest as 16 hex digits (JSON readers need not hold 64-bit integers).
std::string digest_hex(std::uint64_t digest) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(digest));
  return text;
}

}  // namespace

int run_train(Context& context) {
  CommandLine cli("train", "qvae train --config FILE... [--data FILE] [--out DIR] [--resume] [--json]",
                  "Trains a QVAE on a CaloChallenge file on any number of ranks (global batch\n"
                  "train.batch_size split over ranks; gradients and RBM statistics summed by\n"
                  "fused allreduce).  Writes DIR/checkpoint-EEEE.h5 every epoch (the last\n"
                  "train.keep_last kept), DIR/best.h5 (rule train.best), DIR/history.csv and\n"
                  "DIR/history.h5.  SIGTERM or SIGUSR1 finishes the batch, checkpoints and exits 0;\n"
                  "--resume continues from the newest checkpoint in DIR (bit-exactly on the same\n"
                  "rank count).  Schedules and options: the [train] keys (`qvae config show`),\n"
                  "docs/training.md.");
  cli.options().add_options()("data", po::value<std::string>(), "training data (default: train.data)")(
      "out", po::value<std::string>(), "run directory (default: train.out)")(
      "resume", po::bool_switch(), "continue from the newest checkpoint in the run directory");
  if (!cli.parse(context)) return 0;
  const auto& vm = cli.values();
  train::TrainRequest request;
  request.schema = &schema();
  request.config = cli.config();
  request.data = vm.count("data") ? vm["data"].as<std::string>() : "";
  request.out = vm.count("out") ? vm["out"].as<std::string>() : "";
  request.resume = vm["resume"].as<bool>();
  request.command_line = context.command_line;
  const train::TrainResult result = train::run_training(request, context.world);

  nlohmann::json last = nlohmann::json::object();
  for (const auto& [name, value] : result.last_epoch) last[name] = value;
  const nlohmann::json summary = {{"out", result.out_dir},
                                  {"epochs_done", result.epochs_done},
                                  {"epochs", result.epochs_planned},
                                  {"interrupted", result.interrupted},
                                  {"checkpoint", result.checkpoint},
                                  {"best", result.best},
                                  {"best_epoch", result.best_epoch},
                                  {"best_metric", result.best_metric},
                                  {"history_csv", result.history_csv},
                                  {"history_h5", result.history_h5},
                                  {"last_epoch", last},
                                  {"ranks", result.ranks},
                                  {"seconds", result.seconds},
                                  {"peak_rss_mb", result.peak_rss_mb},
                                  {"peak_stream_rows", result.peak_stream_rows},
                                  {"io_wait_s", result.io_wait_s},
                                  {"gradient_buckets", result.gradient_buckets},
                                  {"buckets_started_in_backward", result.buckets_started_in_backward},
                                  {"parameter_digest", digest_hex(result.parameter_digest)},
                                  {"parameters_finite", result.parameters_finite}};
  if (cli.json())
    core::print_json_summary(summary, context.world.is_root());
  else if (context.world.is_root())
    std::fprintf(stderr, "train: %d/%d epochs%s in %.1f s on %d rank(s); best epoch %d; checkpoint %s\n",
                 result.epochs_done, result.epochs_planned, result.interrupted ? " (interrupted, resumable)" : "",
                 result.seconds, result.ranks, result.best_epoch, result.checkpoint.c_str());
  return 0;
}

}  // namespace qvae::cli
