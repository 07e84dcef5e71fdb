// Kernels built twice, for x86-64 CPUs with AVX2 (and FMA, POPCNT where they
// help) and portably, with the choice made once per process by the CPU.  The
// choice depends on the machine only, so every rank of a job on one kind of
// node computes the same bits.
//
//   QVAE_TARGET("avx2,fma") void tile_avx2(const Args&);   // only under QVAE_X86_DISPATCH
//   void tile_portable(const Args&);
//   static core::DispatchedKernel<void (*)(const Args&)> kernel(tile_avx2, tile_portable, {CpuFeature::avx2, ...});
//   kernel.get()(args);
#pragma once

#include <atomic>
#include <initializer_list>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QVAE_X86_DISPATCH 1
/// Compiles one function for these x86 features; call it only where cpu_supports() says so.
#define QVAE_TARGET(features) __attribute__((target(features)))
#else
#define QVAE_X86_DISPATCH 0
#define QVAE_TARGET(features)
#endif

/// A whole function cloned for x86-64-v3 and the baseline, the loader picking
/// one (GCC's target_clones; other compilers get the baseline only).
#if QVAE_X86_DISPATCH && !defined(__clang__) && !defined(QVAE_NO_VECTOR_CLONES)
#define QVAE_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define QVAE_VECTOR_CLONES
#endif

namespace qvae::core {

enum class CpuFeature { avx2, fma, popcnt };

/// Whether this CPU has every one of `features`; false off x86-64.
bool cpu_supports(std::initializer_list<CpuFeature> features) noexcept;

/// A kernel with a fast variant for CPUs with some features and a portable one.
template <class Kernel>
class DispatchedKernel {
 public:
  DispatchedKernel(Kernel fast_variant, Kernel portable, std::initializer_list<CpuFeature> needs)
      : best_(cpu_supports(needs) ? fast_variant : portable), portable_(portable) {}
  /// Where no fast variant is built.
  explicit DispatchedKernel(Kernel portable) : best_(portable), portable_(portable) {}

  Kernel get() const noexcept { return forced_portable_.load() ? portable_ : best_; }
  /// Whether get() gives the fast variant.
  bool fast() const noexcept { return get() != portable_; }
  /// Test hook: the portable variant whatever the CPU (results must agree).
  void force_portable(bool portable) noexcept { forced_portable_.store(portable); }

 private:
  Kernel best_;
  Kernel portable_;
  std::atomic<bool> forced_portable_{false};
};

}  // namespace qvae::core
