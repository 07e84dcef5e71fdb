// Training, resuming and generating with train.device = QVAE_TEST_DEVICE
// (cpu when unset; tools/gpu-check.sh sets cuda on a GPU machine) against the
// same runs on the CPU: the tiny model on one rank.  On the CPU the runs must
// agree bit for bit; on a GPU to the rounding of its kernels.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "qvae/io/dataset.hpp"
#include "qvae/io/file.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/train/generate.hpp"
#include "qvae/train/trainer.hpp"
#include "test_device.hpp"
#include "train_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace qvae;
using namespace qvae::train_test;  // the tiny run, its data and the shared directory

bool on_cpu() { return qvae::testing::test_device_kind() == rbm::DeviceKind::cpu; }
const char* device_name() { return on_cpu() ? "cpu" : "cuda"; }

train::TrainResult train_tiny(const par::Communicator& comm, const std::string& data, const std::string& out,
                              const std::string& device, int epochs, bool resume) {
  train::TrainRequest request;
  request.schema = &test_schema();
  request.config = tiny_config({{"train.epochs", std::to_string(epochs)},
                                {"train.batch_size", "16"},
                                {"train.micro_batch_size", "8"},
                                {"train.max_batches_per_epoch", "2"},
                                {"train.val_max_events", "8"},
                                {"train.device", device},
                                {"run.progress", "off"}});
  request.data = data;
  request.out = out;
  request.resume = resume;
  request.command_line = "test_device";
  return train::run_training(request, comm);
}

/// The device's run against the CPU's: the same bits on the CPU; on a GPU,
/// every history value within 1e-3 (relative, or absolute below 1).
void expect_same_run(const train::TrainResult& device, const train::TrainResult& cpu) {
  if (on_cpu()) {
    EXPECT_EQ(device.parameter_digest, cpu.parameter_digest);
    EXPECT_EQ(read_doubles(device.checkpoint, "history/train_loss"),
              read_doubles(cpu.checkpoint, "history/train_loss"));
    return;
  }
  EXPECT_TRUE(device.parameters_finite);
  for (const char* column : {"train_loss", "train_ae_loss", "val_loss", "val_ae_loss", "val_hit_loss"}) {
    const std::vector<double> a = read_doubles(device.checkpoint, std::string("history/") + column);
    const std::vector<double> b = read_doubles(cpu.checkpoint, std::string("history/") + column);
    ASSERT_EQ(a.size(), b.size()) << column;
    for (std::size_t i = 0; i < a.size(); ++i)
      EXPECT_LE(std::abs(a[i] - b[i]) / std::max(1.0, std::abs(b[i])), 1e-3) << column << " row " << i;
  }
}

TEST(DeviceTraining, TrainingResumingAndGeneratingOnTheDeviceFollowTheCpu) {
  const par::Communicator self(MPI_COMM_SELF);
  SharedTempDir dir(self, std::string("device-") + device_name());
  const std::string data = (dir.path / "showers.h5").string();
  write_showers(data, 64, self);

  // One epoch from scratch on each.
  const std::string cpu_run = (dir.path / "cpu").string(), device_run = (dir.path / "device").string();
  const train::TrainResult cpu_first = train_tiny(self, data, cpu_run, "cpu", 1, false);
  const train::TrainResult device_first = train_tiny(self, data, device_run, device_name(), 1, false);
  expect_same_run(device_first, cpu_first);

  // The CPU's checkpoint resumed on the device (train.device may change on resume) and on the CPU.
  const std::string resumed_on_device = (dir.path / "cpu-then-device").string();
  fs::copy(cpu_run, resumed_on_device, fs::copy_options::recursive);
  const train::TrainResult device_second = train_tiny(self, data, resumed_on_device, device_name(), 2, true);
  const train::TrainResult cpu_second = train_tiny(self, data, cpu_run, "cpu", 2, true);
  EXPECT_EQ(device_second.epochs_done, 2);
  expect_same_run(device_second, cpu_second);

  // Generation from one checkpoint on the device and on the CPU.
  train::GenerateRequest generate;
  generate.schema = &test_schema();
  generate.model = cpu_run;
  generate.events = 12;
  generate.chunk_events = 5;
  generate.seed = 9;
  generate.out = (dir.path / "generated-cpu.h5").string();
  train::generate_showers(generate, self);
  generate.device = qvae::testing::test_device_kind();
  generate.out = (dir.path / "generated-device.h5").string();
  train::generate_showers(generate, self);
  const io::File on_cpu_file = io::File::open_serial((dir.path / "generated-cpu.h5").string());
  const io::File on_device_file = io::File::open_serial((dir.path / "generated-device.h5").string());
  const std::vector<float> a = io::read_all<float>(on_cpu_file, "showers", 6480);
  const std::vector<float> b = io::read_all<float>(on_device_file, "showers", 6480);
  ASSERT_EQ(a.size(), b.size());
  if (on_cpu()) {
    EXPECT_EQ(a, b);
    return;
  }
  // A GPU may flip a hit or a latent unit whose uniform lies within rounding
  // of its probability (~1e-6 per draw): at most one shower may then differ.
  int differing = 0;
  for (std::size_t s = 0; s < a.size() / 6480; ++s) {
    double ta = 0.0, tb = 0.0;
    for (std::size_t v = s * 6480; v < (s + 1) * 6480; ++v) ta += a[v], tb += b[v];
    differing += std::abs(ta - tb) > 1e-4 * std::max(1.0, std::abs(ta)) ? 1 : 0;
  }
  EXPECT_LE(differing, 1);
}

}  // namespace
