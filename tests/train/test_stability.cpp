// Tests of the training-stability guard, run on 2 MPI ranks:
// fault-injection parsing, the per-batch verdicts, the clipping factor, the
// config checks, and on the tiny model: a NaN on one rank is skipped by both
// ranks exactly as a NaN on every rank would be; rollbacks restore the
// checkpoint (or the initial model) and scale the learning rate, which equals
// a run with that learning rate from the start; a skipped batch leaves
// persistent chains untouched; too many rollbacks fail with exit code 4 and
// the last checkpoint intact; clipping is counted and the same on every rank.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "qvae/core/error.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/train/checkpoint.hpp"
#include "qvae/train/config.hpp"
#include "qvae/train/history.hpp"
#include "qvae/train/stability.hpp"
#include "qvae/train/trainer.hpp"
#include "train_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace qvae;
using train_test::read_dataset;
using train_test::read_doubles;
using train_test::SharedTempDir;
using train_test::test_schema;
using train_test::tiny_config;
using train_test::write_showers;

// --- the policy, without training --------------------------------------------

TEST(FaultInjection, ParsesEntriesWithAnOptionalRank) {
  EXPECT_TRUE(train::parse_fault_injection("").empty());
  EXPECT_TRUE(train::parse_fault_injection("  ").empty());
  const auto faults = train::parse_fault_injection("nan_loss@1:3, nan_grad@12:0#1");
  ASSERT_EQ(faults.size(), 2u);
  EXPECT_EQ(faults[0].kind, train::FaultKind::nan_loss);
  EXPECT_EQ(faults[0].epoch, 1);
  EXPECT_EQ(faults[0].batch, 3);
  EXPECT_EQ(faults[0].rank, -1);
  EXPECT_EQ(faults[1].kind, train::FaultKind::nan_grad);
  EXPECT_EQ(faults[1].epoch, 12);
  EXPECT_EQ(faults[1].batch, 0);
  EXPECT_EQ(faults[1].rank, 1);
}

TEST(FaultInjection, MalformedEntriesAreConfigErrors) {
  for (const char* text :
       {"nan_loss", "nan_loss@1", "nan_los@1:2", "nan_loss@0:1", "nan_loss@1:-1", "nan_loss@1:2#", "nan_loss@1:2#x",
        "nan_loss@a:2", "nan_loss@1:2,", "nan_loss@1:2,,nan_grad@1:3", "nan_loss@1:2:3", "nan_loss@1:2#0#1"})
    EXPECT_THROW(train::parse_fault_injection(text), core::UsageError) << text;
  // Through the config: one line naming the key.
  try {
    train::train_config_from(tiny_config({{"train.fault_injection", "nan_loss@1"}}));
    ADD_FAILURE() << "a malformed train.fault_injection was accepted";
  } catch (const core::UsageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("train.fault_injection"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(FaultInjection, EachEntryFiresOncePerVisitAndEveryRankConsumesIt) {
  const auto faults = train::parse_fault_injection("nan_loss@1:2#1,nan_loss@1:2#1,nan_grad@1:2");
  train::FaultSchedule rank0(faults, 0), rank1(faults, 1);
  // First visit of epoch 1 batch 2: one copy of the rank-1 entry and the all-rank entry.
  auto a = rank0.take(1, 2), b = rank1.take(1, 2);
  EXPECT_FALSE(a.nan_loss);
  EXPECT_TRUE(a.nan_grad);
  EXPECT_TRUE(b.nan_loss);
  EXPECT_TRUE(b.nan_grad);
  EXPECT_FALSE(rank1.take(1, 3).nan_loss);  // another batch: nothing
  // Second visit (after a rollback): the repeated entry fires again, then nothing is left.
  a = rank0.take(1, 2);
  b = rank1.take(1, 2);
  EXPECT_FALSE(a.nan_loss || a.nan_grad);
  EXPECT_TRUE(b.nan_loss);
  EXPECT_FALSE(b.nan_grad);
  b = rank1.take(1, 2);
  EXPECT_FALSE(b.nan_loss || b.nan_grad);
}

TEST(StabilityGuard, VerdictsCountStreaksRollbacksAndTheLimit) {
  const train::GuardLimits limits{2, 1, 0.5};
  train::GuardState state;
  using train::BatchVerdict;
  EXPECT_EQ(train::judge_batch(true, false, 0.0, limits, state), BatchVerdict::skipped);
  EXPECT_EQ(state.consecutive_bad, 1);
  EXPECT_EQ(train::judge_batch(false, true, 3.0, limits, state), BatchVerdict::applied);
  EXPECT_EQ(state.consecutive_bad, 0);  // an applied batch ends the streak
  EXPECT_EQ(state.epoch_clipped_batches, 1);
  EXPECT_EQ(state.epoch_grad_norm_max, 3.0);
  EXPECT_EQ(train::judge_batch(true, false, 0.0, limits, state), BatchVerdict::skipped);
  EXPECT_EQ(train::judge_batch(true, false, 0.0, limits, state), BatchVerdict::rollback);
  EXPECT_EQ(state.rollbacks, 1);
  EXPECT_EQ(state.epoch_rollbacks, 1);
  EXPECT_EQ(state.lr_scale, 0.5);
  EXPECT_EQ(state.consecutive_bad, 0);
  EXPECT_EQ(state.epoch_bad_batches, 3);
  EXPECT_EQ(train::judge_batch(true, false, 0.0, limits, state), BatchVerdict::skipped);
  EXPECT_EQ(train::judge_batch(true, false, 0.0, limits, state), BatchVerdict::give_up);  // max_rollbacks = 1 used
  EXPECT_EQ(state.rollbacks, 1);

  const train::GuardState decoded = train::GuardState::decode(state.encode());
  EXPECT_EQ(decoded.encode(), state.encode());
  const train::GuardState v1 = train::GuardState::decode({});  // a checkpoint without guard_state
  EXPECT_EQ(v1.lr_scale, 1.0);
  EXPECT_EQ(v1.rollbacks, 0);
  state.start_epoch();
  EXPECT_EQ(state.epoch_bad_batches, 0);
  EXPECT_EQ(state.epoch_clipped_batches, 0);
  EXPECT_EQ(state.lr_scale, 0.5);  // run-wide fields stay
  EXPECT_EQ(state.consecutive_bad, 2);
}

TEST(StabilityGuard, ClippingScalesTheNormToTheBound) {
  std::vector<float> gradient = {3.0f, -4.0f, 0.0f};
  const double norm = train::gradient_norm({{gradient.data(), 2}, {gradient.data() + 2, 1}});
  EXPECT_DOUBLE_EQ(norm, 5.0);
  const double coefficient = train::clip_coefficient(norm, 1.0);
  for (float& g : gradient) g *= static_cast<float>(coefficient);
  const double clipped = train::gradient_norm({{gradient.data(), gradient.size()}});
  EXPECT_LE(clipped, 1.0 + 1e-6);
  EXPECT_GE(clipped, 1.0 - 1e-5);
  EXPECT_EQ(train::clip_coefficient(5.0, 10.0), 1.0);  // within the bound: untouched
  EXPECT_EQ(train::clip_coefficient(5.0, 0.0), 1.0);   // 0: clipping off
  EXPECT_EQ(train::clip_coefficient(std::numeric_limits<double>::quiet_NaN(), 1.0), 1.0);
}

TEST(StabilityGuard, ConfigKeysHaveDefaultsAndRangeChecks) {
  const train::TrainConfig defaults = train::train_config_from(tiny_config({}));
  EXPECT_EQ(defaults.max_bad_batches, 5);
  EXPECT_EQ(defaults.max_rollbacks, 3);
  EXPECT_EQ(defaults.rollback_lr_factor, 0.5);
  EXPECT_EQ(defaults.clip_grad_norm, 0.0);
  EXPECT_TRUE(defaults.faults.empty());
  const std::vector<std::pair<std::string, std::string>> bad = {{"train.max_bad_batches", "0"},
                                                                {"train.max_rollbacks", "-1"},
                                                                {"train.rollback_lr_factor", "0"},
                                                                {"train.rollback_lr_factor", "1.5"},
                                                                {"train.clip_grad_norm", "-1"}};
  for (const auto& [key, value] : bad)
    EXPECT_THROW(train::train_config_from(tiny_config({{key, value}})), core::UsageError) << key << " = " << value;
  EXPECT_THROW(tiny_config({{"train.max_bad_batches", "many"}}), core::UsageError);
}

TEST(StabilityGuard, GuardKeysMayChangeOnResume) {
  const core::Config stored = tiny_config({{"train.max_rollbacks", "0"}, {"train.fault_injection", "nan_loss@2:0"}});
  const core::Config given = core::Config::resolve(
      test_schema(), {}, {{"train.max_rollbacks", "2"}, {"train.fault_injection", ""}, {"train.clip_grad_norm", "1"}});
  const core::Config resumed = train::resume_config(test_schema(), given, stored.to_ini());
  EXPECT_EQ(resumed.get_int("train.max_rollbacks"), 2);
  EXPECT_EQ(resumed.get_string("train.fault_injection"), "");
  EXPECT_EQ(resumed.get_real("train.clip_grad_norm"), 1.0);
  EXPECT_EQ(resumed.get_int("rbm.nodes_per_partition"), 64);  // the rest from the checkpoint
}

TEST(StabilityGuard, OldHistoriesGetTheNewColumns) {
  train::History history;
  history.append({{"epoch", 1}, {"loss", 2.5}});
  history.ensure_column("bad_batches", 0.0);
  history.ensure_column("loss", 7.0);  // present: unchanged
  EXPECT_EQ(history.csv(), "epoch,loss,bad_batches\n1,2.5,0\n");
  history.append({{"epoch", 2}, {"loss", 1.5}, {"bad_batches", 1}});
  EXPECT_EQ(history.rows(), 2u);
}

// --- guarded training on the tiny model, 2 ranks -----------------------------

/// Short runs: batches of 16 in micro-batches of 8 (one per rank), 8 validation events.
std::vector<core::ConfigOverride> quick(std::vector<core::ConfigOverride> extra) {
  std::vector<core::ConfigOverride> overrides = {{"train.batch_size", "16"},
                                                 {"train.micro_batch_size", "8"},
                                                 {"train.val_max_events", "8"},
                                                 {"train.kl_warmup_ratio", "0"},
                                                 {"run.progress", "off"}};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return overrides;
}

train::TrainResult train_run(const SharedTempDir& dir, const std::string& name,
                             const std::vector<core::ConfigOverride>& overrides, const par::Communicator& comm) {
  train::TrainRequest request;
  request.schema = &test_schema();
  request.config = tiny_config(quick(overrides));
  request.data = (dir.path / "showers.h5").string();
  request.out = (dir.path / name).string();
  request.command_line = "test_stability";
  return train::run_training(request, comm);
}

/// One value per rank.
template <class T>
std::vector<T> gathered(const par::Communicator& comm, T value) {
  return comm.allgather(value);
}

class GuardedTraining : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const par::Communicator world;
    dir_ = new SharedTempDir(world, "stability");
    write_showers((dir_->path / "showers.h5").string(), 120, world);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  const SharedTempDir& dir() const { return *dir_; }
  std::string checkpoint(const std::string& run, int epoch) const {
    return (dir_->path / run / train::checkpoint_name({epoch, 0})).string();
  }
  const par::Communicator world;

 private:
  static SharedTempDir* dir_;
};
SharedTempDir* GuardedTraining::dir_ = nullptr;

// A NaN loss on rank 1 only and a NaN gradient on rank 0 only: both ranks skip
// both batches, and the run is bit for bit the run with the same faults on
// every rank (the decision is collective and a skipped batch changes nothing).
TEST_F(GuardedTraining, ANanOnOneRankIsSkippedByEveryRank) {
  ASSERT_EQ(world.size(), 2) << "run under mpirun -np 2";
  const train::TrainResult one = train_run(dir(), "one-rank-faults",
                                           {{"train.epochs", "1"},
                                            {"train.max_batches_per_epoch", "4"},
                                            {"train.fault_injection", "nan_loss@1:0#1,nan_grad@1:2#0"}},
                                           world);
  const train::TrainResult all = train_run(dir(), "all-rank-faults",
                                           {{"train.epochs", "1"},
                                            {"train.max_batches_per_epoch", "4"},
                                            {"train.fault_injection", "nan_loss@1:0,nan_grad@1:2"}},
                                           world);
  for (const train::TrainResult* result : {&one, &all}) {
    EXPECT_EQ(result->epochs_done, 1);
    EXPECT_EQ(result->last_epoch.at("bad_batches"), 2.0);
    EXPECT_EQ(result->last_epoch.at("rollbacks"), 0.0);
    EXPECT_EQ(result->last_epoch.at("train_events"), 32.0);  // 2 of 4 batches of 16 applied
    EXPECT_TRUE(std::isfinite(result->last_epoch.at("train_loss")));
    EXPECT_TRUE(result->parameters_finite);
    // Every rank made the same updates.
    const std::vector<unsigned long long> digests =
        gathered(world, static_cast<unsigned long long>(result->parameter_digest));
    EXPECT_EQ(digests[0], digests[1]);
    const std::vector<double> losses = gathered(world, result->last_epoch.at("train_loss"));
    EXPECT_EQ(losses[0], losses[1]);
  }
  EXPECT_EQ(one.parameter_digest, all.parameter_digest);
  EXPECT_EQ(one.last_epoch.at("train_loss"), all.last_epoch.at("train_loss"));
  EXPECT_EQ(one.last_epoch.at("val_loss"), all.last_epoch.at("val_loss"));
  if (world.is_root()) {  // the history files carry the counts
    const std::string history = (dir().path / "one-rank-faults" / "history.h5").string();
    EXPECT_EQ(read_doubles(history, "bad_batches"), std::vector<double>{2.0});
    EXPECT_EQ(io::get_int_attribute(io::File::open_serial(history), "/", "format_version"),
              train::kHistoryFormatVersion);
    std::ifstream csv((dir().path / "one-rank-faults" / "history.csv").string());
    std::string header;
    std::getline(csv, header);
    EXPECT_NE(header.find(",bad_batches,rollbacks,clipped_batches,grad_norm_max"), std::string::npos) << header;
  }
  world.barrier();
}

// In each epoch batch 0 is applied, then two bad batches in a row
// (max_bad_batches = 2) roll back -- in epoch 1 to the initial model, in epoch
// 2 to checkpoint-0001 -- undoing batch 0, and halve the learning rate.  The
// result equals, bit for bit, a clean run with lr 5e-4 then 2.5e-4 (step
// schedule): the rollbacks restored networks, RBM, Adam and BatchNorm state
// exactly, as a resume does.
TEST_F(GuardedTraining, RollbacksRestoreTheCheckpointAndScaleTheLearningRate) {
  const train::TrainResult guarded =
      train_run(dir(), "rolled-back",
                {{"train.epochs", "2"},
                 {"train.max_batches_per_epoch", "3"},
                 {"train.lr", "1e-3"},
                 {"train.max_bad_batches", "2"},
                 {"train.rollback_lr_factor", "0.5"},
                 {"train.fault_injection", "nan_loss@1:1,nan_grad@1:2,nan_loss@2:1#1,nan_grad@2:2#0"}},
                world);
  const train::TrainResult clean = train_run(dir(), "clean-lower-lr",
                                             {{"train.epochs", "2"},
                                              {"train.max_batches_per_epoch", "3"},
                                              {"train.lr", "5e-4"},
                                              {"train.lr_schedule", "step"},
                                              {"train.lr_step_epochs", "1"},
                                              {"train.lr_gamma", "0.5"}},
                                             world);
  EXPECT_EQ(guarded.epochs_done, 2);
  EXPECT_EQ(guarded.parameter_digest, clean.parameter_digest);
  EXPECT_TRUE(guarded.parameters_finite);
  if (world.is_root()) {
    const std::string a = checkpoint("rolled-back", 2), b = checkpoint("clean-lower-lr", 2);
    EXPECT_EQ(read_doubles(a, "rbm_biases"), read_doubles(b, "rbm_biases"));
    EXPECT_EQ(read_doubles(a, "rbm_weights"), read_doubles(b, "rbm_weights"));
    for (const char* column : {"lr", "train_loss", "train_events", "val_loss"})
      EXPECT_EQ(read_doubles(a, std::string("history/") + column), read_doubles(b, std::string("history/") + column))
          << column;
    EXPECT_EQ(read_doubles(a, "history/lr"), (std::vector<double>{5e-4, 2.5e-4}));
    EXPECT_EQ(read_doubles(a, "history/bad_batches"), (std::vector<double>{2, 2}));
    EXPECT_EQ(read_doubles(a, "history/rollbacks"), (std::vector<double>{1, 1}));
    EXPECT_EQ(read_doubles(b, "history/rollbacks"), (std::vector<double>{0, 0}));
    // The guard state travels with the checkpoint: lr scale 1/4, 2 rollbacks.
    const train::GuardState stored = train::GuardState::decode(read_doubles(a, "guard_state"));
    EXPECT_EQ(stored.lr_scale, 0.25);
    EXPECT_EQ(stored.rollbacks, 2);
  }
  world.barrier();
}

// Persistent chains: a skipped last batch leaves the whole model -- chains and
// their sweep counter included -- as after the batch before it.  16
// validation events (val_fraction 0.2 of 120) make validation chunks of the
// micro-batch size, so validation continues the training chains (with other
// sizes it restarts them and the checkpoint would not show the difference).
TEST_F(GuardedTraining, ASkippedBatchLeavesPersistentChainsUntouched) {
  const train::TrainResult skipped = train_run(dir(), "pcd-skipped",
                                               {{"train.epochs", "1"},
                                                {"train.max_batches_per_epoch", "2"},
                                                {"rbm.negative_chains", "pcd"},
                                                {"train.val_fraction", "0.2"},
                                                {"train.val_max_events", "16"},
                                                {"train.fault_injection", "nan_grad@1:1#1"}},
                                               world);
  const train::TrainResult shorter = train_run(dir(), "pcd-one-batch",
                                               {{"train.epochs", "1"},
                                                {"train.max_batches_per_epoch", "1"},
                                                {"rbm.negative_chains", "pcd"},
                                                {"train.val_fraction", "0.2"},
                                                {"train.val_max_events", "16"}},
                                               world);
  EXPECT_EQ(skipped.last_epoch.at("bad_batches"), 1.0);
  EXPECT_EQ(skipped.parameter_digest, shorter.parameter_digest);
  EXPECT_EQ(skipped.last_epoch.at("val_loss"), shorter.last_epoch.at("val_loss"));
  if (world.is_root()) {  // the model archive with the (shared) persistent chains
    const std::string a = checkpoint("pcd-skipped", 1), b = checkpoint("pcd-one-batch", 1);
    EXPECT_EQ(read_dataset<std::uint8_t>(a, "model_state"), read_dataset<std::uint8_t>(b, "model_state"));
  }
  world.barrier();
}

// max_bad_batches = 1, max_rollbacks = 1: the first bad batch of epoch 2 rolls
// back to checkpoint-0001, the second (the repeated entry) ends the run with
// exit code 4 on every rank; checkpoint-0001 and the history stay intact.
TEST_F(GuardedTraining, TooManyRollbacksFailWithTheLastCheckpointIntact) {
  bool failed = false;
  try {
    train_run(dir(), "diverged",
              {{"train.epochs", "2"},
               {"train.max_batches_per_epoch", "2"},
               {"train.max_bad_batches", "1"},
               {"train.max_rollbacks", "1"},
               {"train.fault_injection", "nan_loss@2:1,nan_loss@2:1"}},
              world);
  } catch (const core::Error& e) {
    failed = true;
    EXPECT_EQ(e.code(), core::ExitCode::runtime);
    const std::string message = e.what();
    EXPECT_NE(message.find("training diverged"), std::string::npos) << message;
    EXPECT_NE(message.find("checkpoint-0001.h5 is intact"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  EXPECT_TRUE(failed);
  EXPECT_EQ(gathered(world, failed ? 1 : 0), (std::vector<int>{1, 1}));  // on every rank
  if (world.is_root()) {
    const auto checkpoints = train::list_checkpoints((dir().path / "diverged").string());
    ASSERT_EQ(checkpoints.size(), 1u);
    EXPECT_EQ(checkpoints[0].position.epochs_done, 1);
    const io::File file = io::File::open_serial(checkpoints[0].path);
    EXPECT_EQ(io::get_int_attribute(file, "/", "epochs_done"), 1);
    EXPECT_GT(read_dataset<std::uint8_t>(checkpoints[0].path, "model_state").size(), 0u);
    EXPECT_EQ(read_doubles((dir().path / "diverged" / "history.h5").string(), "epoch"), std::vector<double>{1.0});
  }
  world.barrier();
}

// A tiny bound clips every batch; the scale comes from the summed gradient, so
// both ranks still hold the same model.
TEST_F(GuardedTraining, ClippingIsCountedAndTheSameOnEveryRank) {
  const train::TrainResult clipped =
      train_run(dir(), "clipped",
                {{"train.epochs", "1"}, {"train.max_batches_per_epoch", "2"}, {"train.clip_grad_norm", "1e-3"}}, world);
  EXPECT_EQ(clipped.last_epoch.at("clipped_batches"), 2.0);
  EXPECT_GT(clipped.last_epoch.at("grad_norm_max"), 1e-3);
  EXPECT_EQ(clipped.last_epoch.at("bad_batches"), 0.0);
  EXPECT_TRUE(clipped.parameters_finite);
  const std::vector<unsigned long long> digests =
      gathered(world, static_cast<unsigned long long>(clipped.parameter_digest));
  EXPECT_EQ(digests[0], digests[1]);
  // A bound above every norm clips nothing.
  const double largest = clipped.last_epoch.at("grad_norm_max");
  const train::TrainResult loose = train_run(dir(), "loosely-clipped",
                                             {{"train.epochs", "1"},
                                              {"train.max_batches_per_epoch", "1"},
                                              {"train.clip_grad_norm", std::to_string(1e3 * largest)}},
                                             world);
  EXPECT_EQ(loose.last_epoch.at("clipped_batches"), 0.0);
}

}  // namespace
