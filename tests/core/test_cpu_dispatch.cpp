// The CPU-dispatch helper: the fast variant where the CPU has what it needs,
// the portable one otherwise or when a test forces it.
#include <gtest/gtest.h>

#include "qvae/core/cpu_dispatch.hpp"

namespace qvae::core {
namespace {

int fast_variant() { return 1; }
int portable_variant() { return 2; }

TEST(DispatchedKernel, PicksByTheCpuAndCanBeForcedPortable) {
  DispatchedKernel<int (*)()> kernel(fast_variant, portable_variant,
                                     {});  // needs nothing: fast wherever dispatch exists
  EXPECT_EQ(kernel.get()(), QVAE_X86_DISPATCH ? 1 : 2);
  EXPECT_EQ(kernel.fast(), QVAE_X86_DISPATCH == 1);
  kernel.force_portable(true);
  EXPECT_EQ(kernel.get()(), 2);
  EXPECT_FALSE(kernel.fast());
  kernel.force_portable(false);
  EXPECT_EQ(kernel.get()(), QVAE_X86_DISPATCH ? 1 : 2);
  const DispatchedKernel<int (*)()> only(portable_variant);
  EXPECT_EQ(only.get()(), 2);
  EXPECT_FALSE(only.fast());
}

TEST(DispatchedKernel, FeaturesAreThoseOfThisCpu) {
#if QVAE_X86_DISPATCH
  __builtin_cpu_init();
  EXPECT_EQ(cpu_supports({CpuFeature::avx2}), __builtin_cpu_supports("avx2") != 0);
  EXPECT_EQ(cpu_supports({CpuFeature::avx2, CpuFeature::fma}),
            __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0);
  const DispatchedKernel<int (*)()> needs_avx2(fast_variant, portable_variant, {CpuFeature::avx2});
  EXPECT_EQ(needs_avx2.fast(), __builtin_cpu_supports("avx2") != 0);
#else
  EXPECT_FALSE(cpu_supports({CpuFeature::avx2}));
#endif
}

}  // namespace
}  // namespace qvae::core
