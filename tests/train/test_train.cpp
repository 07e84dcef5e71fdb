// Tests of qvae::train, run on 2 MPI ranks: schedules, checkpoint
// names, the resumed configuration, and the two rank-count guarantees:
// 2 ranks x B/2 make the same update as 1 rank x B, and generation writes the
// same file on 1 and 2 ranks.  Tiny model, tiny data (2 shared cores).
#include <gtest/gtest.h>

#include <mpi.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "qvae/core/config.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/run_options.hpp"
#include "qvae/data/calo_file.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/model/config.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/par/partition.hpp"
#include "qvae/sim/gflash.hpp"
#include "qvae/train/checkpoint.hpp"
#include "qvae/train/config.hpp"
#include "qvae/train/generate.hpp"
#include "qvae/train/history.hpp"
#include "qvae/train/trainer.hpp"
#include "train_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace qvae;
using train_test::read_doubles;
using train_test::SharedTempDir;
using train_test::test_schema;
using train_test::tiny_config;
using train_test::write_showers;

TEST(Schedules, LearningRateWarmupStepAndCosine) {
  train::TrainConfig t;
  t.lr = 1e-3;
  t.epochs = 11;
  EXPECT_DOUBLE_EQ(t.lr_at(5), 1e-3);
  t.lr_warmup_epochs = 1;
  EXPECT_DOUBLE_EQ(t.lr_at(1), 0.5e-3);
  t.lr_schedule = train::LrSchedule::step;
  t.lr_step_epochs = 2;
  t.lr_gamma = 0.5;
  EXPECT_DOUBLE_EQ(t.lr_at(2), 1e-3);
  EXPECT_DOUBLE_EQ(t.lr_at(4), 0.5e-3);
  t.lr_schedule = train::LrSchedule::cosine;
  t.lr_min = 1e-5;
  EXPECT_DOUBLE_EQ(t.lr_at(2), 1e-3);
  EXPECT_NEAR(t.lr_at(11), 1e-5, 1e-12);
}

TEST(Schedules, KlWarmupAndTwoStages) {
  train::TrainConfig t;
  EXPECT_DOUBLE_EQ(t.kl_weight_at(0, 100, 1.0), 1.0);  // OLD engine: no ramp
  t.kl_warmup_ratio = 0.5;
  EXPECT_DOUBLE_EQ(t.kl_weight_at(0, 100, 1.0), 0.0);
  EXPECT_DOUBLE_EQ(t.kl_weight_at(25, 100, 1.0), 0.5);
  EXPECT_DOUBLE_EQ(t.kl_weight_at(90, 100, 1.0), 1.0);
  EXPECT_EQ(t.stage_of(3), train::Stage::joint);
  t.autoencoder_epochs = 2;
  EXPECT_EQ(t.stage_of(2), train::Stage::autoencoder);
  EXPECT_EQ(t.stage_of(3), train::Stage::prior);
}

TEST(Checkpoints, NamesOrderAndIniText) {
  EXPECT_EQ(train::checkpoint_name({3, 0}), "checkpoint-0003.h5");
  EXPECT_EQ(train::checkpoint_name({3, 12}), "checkpoint-0003-000012.h5");
  const auto partial = train::parse_checkpoint_name("checkpoint-0003-000012.h5");
  ASSERT_TRUE(partial.has_value());
  EXPECT_EQ(partial->epochs_done, 3);
  EXPECT_EQ(partial->batches_done, 12);
  EXPECT_FALSE(train::parse_checkpoint_name("checkpoint-0003.h5.tmp-12").has_value());
  EXPECT_FALSE(train::parse_checkpoint_name("best.h5").has_value());
  EXPECT_TRUE((train::CheckpointPosition{3, 0}) < (train::CheckpointPosition{3, 12}));
  EXPECT_TRUE((train::CheckpointPosition{3, 12}) < (train::CheckpointPosition{4, 0}));
  const auto pairs = core::parse_ini_text("[train]\nepochs = 4\n\n[run]\nseed = 7\n");
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].key, "train.epochs");
  EXPECT_EQ(pairs[1].value, "7");
}

TEST(Checkpoints, ResumeKeepsTheStoredConfigAndRefusesChanges) {
  const core::Config stored = tiny_config({{"train.epochs", "2"}, {"train.lr", "0.001"}});
  // Raising the epochs is allowed; an unchanged explicit value too.
  const core::Config longer = train::resume_config(
      test_schema(), core::Config::resolve(test_schema(), {}, {{"train.epochs", "5"}, {"train.lr", "1e-3"}}),
      stored.to_ini());
  EXPECT_EQ(longer.get_int("train.epochs"), 5);
  EXPECT_EQ(longer.get_int("rbm.nodes_per_partition"), 64);  // from the checkpoint, not the default 302
  EXPECT_THROW(
      train::resume_config(test_schema(), core::Config::resolve(test_schema(), {}, {{"train.batch_size", "64"}}),
                           stored.to_ini()),
      core::UsageError);
}

TEST(History, CsvRowsAndTruncate) {
  train::History history;
  history.append({{"epoch", 1}, {"loss", 2.5}});
  history.append({{"epoch", 2}, {"loss", 1.5}});
  EXPECT_EQ(history.csv(), "epoch,loss\n1,2.5\n2,1.5\n");
  EXPECT_THROW(history.append({{"loss", 1.0}, {"epoch", 3}}), std::logic_error);
  history.truncate(1);
  EXPECT_EQ(history.rows(), 1u);
  EXPECT_EQ(history.last()[1].second, 2.5);
}

void expect_close(const std::vector<double>& a, const std::vector<double>& b, double tolerance, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]) / std::max(1.0, std::abs(a[i])));
  EXPECT_LE(worst, tolerance) << what;
}

// The global batch B is one update whatever the rank count.
// The test trains the same 2 steps on the world (P ranks sharing 2 micro-batches
// of 8: on 3 ranks one rank has none, the uneven case) and, on rank 0 alone, on
// MPI_COMM_SELF (1 rank x B), then compares the RBM after the updates and every
// loss (the networks enter the validation losses).  Run on 2 and 3 ranks.
TEST(DataParallel, AnyRankCountWithMicroBatchesEqualsOneRankWithTheWholeBatch) {
  const par::Communicator world;
  ASSERT_GE(world.size(), 2) << "run under mpirun -np 2 or 3";
  SharedTempDir dir(world, "equivalence");
  const std::string data = (dir.path / "showers.h5").string();
  write_showers(data, 120, world);
  const std::vector<core::ConfigOverride> overrides = {
      {"train.epochs", "1"},           {"train.batch_size", "16"},
      {"train.micro_batch_size", "8"}, {"train.max_batches_per_epoch", "2"},
      {"train.val_max_events", "8"},   {"train.kl_warmup_ratio", "0"},
      {"run.progress", "off"}};
  train::TrainRequest request;
  request.schema = &test_schema();
  request.config = tiny_config(overrides);
  request.data = data;
  request.command_line = "test_train";

  request.out = (dir.path / "all-ranks").string();
  const train::TrainResult all = train::run_training(request, world);
  EXPECT_EQ(all.epochs_done, 1);
  if (world.is_root()) {
    const par::Communicator self(MPI_COMM_SELF);
    request.out = (dir.path / "one-rank").string();
    const train::TrainResult one = train::run_training(request, self);
    EXPECT_EQ(one.epochs_done, 1);
    const std::string a = (dir.path / "all-ranks" / "checkpoint-0001.h5").string();
    const std::string b = (dir.path / "one-rank" / "checkpoint-0001.h5").string();
    expect_close(read_doubles(a, "rbm_biases"), read_doubles(b, "rbm_biases"), 1e-9, "rbm_biases");
    expect_close(read_doubles(a, "rbm_weights"), read_doubles(b, "rbm_weights"), 1e-9, "rbm_weights");
    for (const char* column :
         {"train_loss", "train_ae_loss", "train_pos_energy", "val_loss", "val_ae_loss", "val_hit_loss", "val_entropy"})
      expect_close(read_doubles(a, std::string("history/") + column), read_doubles(b, std::string("history/") + column),
                   2e-5, column);
    // The RBM did move: the comparison is not trivially between initial states.
    const io::File file = io::File::open_serial(a);
    EXPECT_EQ(io::get_string_attribute(file, "/", "format"), train::kCheckpointFormat);
  }
  world.barrier();

  // Generation: the same file from 1 and 2 ranks (every draw keyed by (seed, event)).
  train::GenerateRequest generate;
  generate.schema = &test_schema();
  generate.model = (dir.path / "all-ranks").string();  // a run directory means its best.h5
  generate.events = 37;
  generate.chunk_events = 8;
  generate.seed = 5;
  generate.out = (dir.path / "generated-2.h5").string();
  const train::GenerateResult generated = train::generate_showers(generate, world);
  EXPECT_EQ(generated.events, 37);
  EXPECT_EQ(generated.geometry, "ds2");
  if (world.is_root()) {
    const par::Communicator self(MPI_COMM_SELF);
    generate.out = (dir.path / "generated-1.h5").string();
    train::generate_showers(generate, self);
    const io::File f1 = io::File::open_serial((dir.path / "generated-1.h5").string());
    const io::File f2 = io::File::open_serial((dir.path / "generated-2.h5").string());
    const std::vector<float> s1 = io::read_all<float>(f1, "showers", 6480),
                             s2 = io::read_all<float>(f2, "showers", 6480);
    const std::vector<double> e1 = io::read_all<double>(f1, "incident_energies", 1),
                              e2 = io::read_all<double>(f2, "incident_energies", 1);
    ASSERT_EQ(s1.size(), 37u * 6480u);
    EXPECT_EQ(s1, s2);
    EXPECT_EQ(e1, e2);
    double total = 0.0;
    for (float v : s1) {
      ASSERT_TRUE(std::isfinite(v) && v >= 0.0f);
      total += static_cast<double>(v);
    }
    EXPECT_GT(total, 0.0);
  }
  world.barrier();
}

/// Two steps of the tiny model on a 64-shower file, batches of 16 in
/// micro-batches of 8, small gradient buckets; `setting` = `value` on top.
train::TrainResult two_small_steps(const par::Communicator& world, const SharedTempDir& dir, const std::string& data,
                                   const std::string& setting, const std::string& value) {
  train::TrainRequest request;
  request.schema = &test_schema();
  request.config = tiny_config({{"train.epochs", "1"},
                                {"train.batch_size", "16"},
                                {"train.micro_batch_size", "8"},
                                {"train.max_batches_per_epoch", "2"},
                                {"train.val_max_events", "8"},
                                {"train.bucket_mb", "0.05"},
                                {setting, value},
                                {"run.progress", "off"}});
  request.data = data;
  request.out = (dir.path / (setting + "-" + value)).string();
  request.command_line = "test_train";
  return train::run_training(request, world);
}

// The gradient sums that overlap backward (each bucket started as soon as its
// gradients are final) give exactly the parameters of the sums started after
// backward, on 1, 2 and 3 ranks; with small buckets most of them do start
// during backward.
TEST(DataParallel, OverlappedGradientExchangeGivesTheParametersOfTheExchangeAfterBackward) {
  const par::Communicator world;
  SharedTempDir dir(world, "overlap");
  const std::string data = (dir.path / "showers.h5").string();
  write_showers(data, 64, world);
  const train::TrainResult after = two_small_steps(world, dir, data, "train.overlap_exchange", "false");
  const train::TrainResult overlapped = two_small_steps(world, dir, data, "train.overlap_exchange", "true");
  EXPECT_EQ(overlapped.parameter_digest, after.parameter_digest);
  EXPECT_TRUE(overlapped.parameters_finite);
  EXPECT_GT(overlapped.gradient_buckets, 3);
  EXPECT_EQ(world.max(after.buckets_started_in_backward), 0);
  // Every rank with a micro-batch starts all but the buckets backward reaches
  // last during backward, in each of the 2 steps.
  EXPECT_GE(world.max(overlapped.buckets_started_in_backward), 2 * (overlapped.gradient_buckets - 2));
}

// train.exchange_precision = bf16 sums the gradients in bfloat16: every rank
// still ends with the same parameters (the sum is commutative bit for bit, so
// MPI hands every rank the same result), one rank exchanges nothing and so
// matches fp32 exactly, several ranks round and differ from fp32.
TEST(DataParallel, OverlappedBfloatExchangeKeepsEveryRankOnTheSameParameters) {
  const par::Communicator world;
  SharedTempDir dir(world, "bf16");
  const std::string data = (dir.path / "showers.h5").string();
  write_showers(data, 64, world);
  const train::TrainResult exact = two_small_steps(world, dir, data, "train.exchange_precision", "fp32");
  const train::TrainResult rounded = two_small_steps(world, dir, data, "train.exchange_precision", "bf16");
  EXPECT_TRUE(rounded.parameters_finite);
  const auto digest = static_cast<std::int64_t>(rounded.parameter_digest >> 1);
  EXPECT_EQ(world.min(digest), world.max(digest)) << "ranks diverged";
  if (world.size() == 1)
    EXPECT_EQ(rounded.parameter_digest, exact.parameter_digest);
  else
    EXPECT_NE(rounded.parameter_digest, exact.parameter_digest);
}

// Training streams each rank's rows of every batch from the file: a
// gzip-chunked copy of the data trains to exactly the same parameters as the
// contiguous file, and the background reader never holds more than
// train.prefetch_batches x the rank's rows of one batch (or validation chunk),
// far fewer than the file's.
TEST(StreamedData, GzipChunkedFileTrainsToTheSameParametersWithinABoundedWindow) {
  const par::Communicator world;
  ASSERT_EQ(world.size(), 2) << "run under mpirun -np 2";
  SharedTempDir dir(world, "stream");
  const std::string contiguous = (dir.path / "contiguous.h5").string();
  const std::string gzip = (dir.path / "gzip.h5").string();
  const std::int64_t events = 160;
  write_showers(contiguous, events, world);
  write_showers(gzip, events, world, data::WriteSettings{"float32", 7, 4});
  auto train = [&](const std::string& data, const std::string& out, const std::string& prefetch) {
    train::TrainRequest request;
    request.schema = &test_schema();
    request.config = tiny_config({{"train.epochs", "1"},
                                  {"train.batch_size", "16"},
                                  {"train.micro_batch_size", "8"},
                                  {"train.max_batches_per_epoch", "4"},
                                  {"train.val_max_events", "24"},
                                  {"train.prefetch_batches", prefetch},
                                  {"run.progress", "off"}});
    request.data = data;
    request.out = (dir.path / out).string();
    request.command_line = "test_train";
    return train::run_training(request, world);
  };
  const train::TrainResult plain = train(contiguous, "contiguous", "1");
  const train::TrainResult compressed = train(gzip, "gzip", "2");
  ASSERT_EQ(plain.epochs_done, 1);
  ASSERT_EQ(compressed.epochs_done, 1);
  EXPECT_EQ(plain.parameter_digest, compressed.parameter_digest);
  EXPECT_EQ(plain.last_epoch.at("train_loss"), compressed.last_epoch.at("train_loss"));
  EXPECT_EQ(plain.last_epoch.at("val_loss"), compressed.last_epoch.at("val_loss"));
  // Each rank takes one micro-batch of 8 rows per batch; validation chunks are 8 rows too.
  const std::int64_t rows_per_request = 8;
  EXPECT_GT(plain.peak_stream_rows, 0);
  EXPECT_LE(plain.peak_stream_rows, 1 * rows_per_request);
  EXPECT_GT(compressed.peak_stream_rows, 0);
  EXPECT_LE(compressed.peak_stream_rows, 2 * rows_per_request);
  EXPECT_LT(compressed.peak_stream_rows, events / 4);
}

// Persistent chains belong to rows of the global batch: the same updates on 1
// and 2 ranks, and validation (which runs its own chains) never moves them, so
// a run that validates on more events makes exactly the same updates.
TEST(DataParallel, PersistentChainsDependOnNeitherRankCountNorValidation) {
  const par::Communicator world;
  ASSERT_EQ(world.size(), 2) << "run under mpirun -np 2";
  SharedTempDir dir(world, "pcd");
  const std::string data = (dir.path / "showers.h5").string();
  write_showers(data, 120, world);
  auto request_for = [&](const std::string& out, const std::string& val_events) {
    train::TrainRequest request;
    request.schema = &test_schema();
    // Validation chunks of 8 rows (B / micro-batches) match the training micro-batch:
    // chains kept per micro-batch would be replaced by validation's.
    request.config = tiny_config({{"train.epochs", "2"},
                                  {"train.batch_size", "16"},
                                  {"train.micro_batch_size", "8"},
                                  {"train.max_batches_per_epoch", "3"},
                                  {"train.val_max_events", val_events},
                                  {"rbm.negative_chains", "pcd"},
                                  {"run.progress", "off"}});
    request.data = data;
    request.out = (dir.path / out).string();
    request.command_line = "test_train";
    return request;
  };
  train::run_training(request_for("two-ranks", "8"), world);
  train::run_training(request_for("two-ranks-more-validation", "24"), world);
  if (world.is_root()) {
    const par::Communicator self(MPI_COMM_SELF);
    train::run_training(request_for("one-rank", "8"), self);
    auto checkpoint = [&](const char* run) { return (dir.path / run / "checkpoint-0002.h5").string(); };
    for (const char* name : {"rbm_biases", "rbm_weights"}) {
      // Validation does not touch the chains: bit-identical updates.
      EXPECT_EQ(read_doubles(checkpoint("two-ranks"), name),
                read_doubles(checkpoint("two-ranks-more-validation"), name))
          << name;
      expect_close(read_doubles(checkpoint("two-ranks"), name), read_doubles(checkpoint("one-rank"), name), 1e-9, name);
    }
    expect_close(read_doubles(checkpoint("two-ranks"), "history/train_neg_energy"),
                 read_doubles(checkpoint("one-rank"), "history/train_neg_energy"), 2e-5, "train_neg_energy");
  }
  world.barrier();
}

// train.best = ll: the log-likelihood of the encoded validation codes under
// the prior (AIS + reverse AIS over both ranks) picks the best epoch.
TEST(BestModel, LogLikelihoodRuleRecordsLlAndPicksItsMaximum) {
  const par::Communicator world;
  SharedTempDir dir(world, "best-ll");
  const std::string data = (dir.path / "showers.h5").string();
  write_showers(data, 120, world);
  train::TrainRequest request;
  request.schema = &test_schema();
  request.config = tiny_config({{"train.epochs", "3"},
                                {"train.batch_size", "16"},
                                {"train.micro_batch_size", "8"},
                                {"train.max_batches_per_epoch", "2"},
                                {"train.val_max_events", "16"},
                                {"train.best", "ll"},
                                {"train.ll_every", "2"},
                                {"train.ll_chains", "32"},
                                {"train.ll_temperatures", "50"},
                                {"run.progress", "off"}});
  request.data = data;
  request.out = (dir.path / "run").string();
  request.command_line = "test_train";
  const train::TrainResult result = train::run_training(request, world);
  ASSERT_EQ(result.epochs_done, 3);
  if (world.is_root()) {
    const std::string history = (dir.path / "run" / "history.h5").string();
    const std::vector<double> ll = read_doubles(history, "val_ll");
    const std::vector<double> energy = read_doubles(history, "val_prior_energy");
    const std::vector<double> log_z = read_doubles(history, "log_z");
    ASSERT_EQ(ll.size(), 3u);
    EXPECT_TRUE(std::isnan(ll[0]));  // epoch 1: no LL (every 2 epochs and at the end)
    for (std::size_t e : {std::size_t{1}, std::size_t{2}}) {
      ASSERT_TRUE(std::isfinite(ll[e]) && std::isfinite(log_z[e])) << "epoch " << e + 1;
      EXPECT_NEAR(ll[e], -energy[e] - log_z[e], 1e-9 * std::abs(ll[e]));
    }
    EXPECT_EQ(result.best_epoch, ll[2] > ll[1] ? 3 : 2);
    EXPECT_DOUBLE_EQ(result.best_metric, -std::max(ll[1], ll[2]));
  }
  world.barrier();
}

}  // namespace
