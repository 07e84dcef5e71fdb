// The dense LibTorch sampler on the test device (QVAE_TEST_DEVICE, cpu when
// unset; tools/gpu-check.sh runs these on a GPU): its draws are the CPU's,
// and a long call gives the states of one sweep at a time (the uniforms come
// in runs of sweeps).  Also how a device name is resolved.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <string>

#include "qvae/core/error.hpp"
#include "qvae/rbm/sampler.hpp"
#include "qvae/rbm/torch_device.hpp"
#include "qvae/rbm/torch_sampler.hpp"
#include "random_machine.hpp"
#include "test_device.hpp"

namespace qvae::rbm {
namespace {

using qvae::testing::random_machine;
using qvae::testing::test_device;

ChainBlock run(const std::string& device, const BoltzmannMachine& machine, std::int64_t chains,
               std::int64_t sweeps_per_call, std::int64_t calls) {
  std::unique_ptr<Sampler> sampler = make_torch_sampler_on(device, machine, SamplerSettings{11, 1.0});
  sampler->set_chains(random_chains(machine.num_nodes(), 3, 0, chains));
  for (std::int64_t c = 0; c < calls; ++c) sampler->sweep(sweeps_per_call);
  return sampler->chains();
}

TEST(TorchDevice, CpuIsCpuAndCudaPicksAGpuByNodeRankOrIsAUsageErrorNamingTheKey) {
  EXPECT_EQ(resolve_device(DeviceKind::cpu, 3, "train.device"), "cpu");
  if (torch::cuda::is_available()) {
    const int gpus = static_cast<int>(torch::cuda::device_count());
    EXPECT_EQ(resolve_device(DeviceKind::cuda, gpus + 1, "train.device"), "cuda:" + std::to_string((gpus + 1) % gpus));
    return;
  }
  try {
    resolve_device(DeviceKind::cuda, 0, "train.device");
    FAIL() << "cuda resolved in a build without it";
  } catch (const core::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("train.device = cuda"), std::string::npos) << e.what();
  }
}

// 64 chains of 160 units draw 10 240 uniforms a sweep: 500 sweeps take two
// runs of the sampler's uniform buffer (409 sweeps each at most).
TEST(TorchDevice, ManySweepsInOneCallGiveTheStatesOfOneSweepAtATime) {
  const BoltzmannMachine machine = random_machine(4, 40, 0.3, 1.0, 0.5, 7);
  const ChainBlock together = run(test_device(), machine, 64, 500, 1);
  const ChainBlock one_by_one = run(test_device(), machine, 64, 1, 500);
  EXPECT_EQ(together.states, one_by_one.states);
  EXPECT_EQ(together.sweeps, one_by_one.sweeps);
  EXPECT_EQ(together.sweeps.front(), 500);
}

// One sweep from the same states with the same uniforms: a unit can differ
// only where its uniform lies within the fields' rounding (~1e-6) of
// sigma(field), which the 10 240 draws here meet with probability ~1e-2; on
// the CPU itself nothing may differ.
TEST(TorchDevice, TheDeviceDrawsWhatTheCpuDraws) {
  const BoltzmannMachine machine = random_machine(4, 40, 0.3, 1.0, 0.5, 8);
  const ChainBlock on_device = run(test_device(), machine, 64, 1, 1);
  const ChainBlock on_cpu = run("cpu", machine, 64, 1, 1);
  ASSERT_EQ(on_device.states.size(), on_cpu.states.size());
  std::size_t differ = 0;
  for (std::size_t i = 0; i < on_cpu.states.size(); ++i) differ += on_device.states[i] != on_cpu.states[i] ? 1 : 0;
  if (test_device() == "cpu")
    EXPECT_EQ(differ, 0u);
  else
    EXPECT_LE(differ, 2u) << "of " << on_cpu.states.size();
}

}  // namespace
}  // namespace qvae::rbm
