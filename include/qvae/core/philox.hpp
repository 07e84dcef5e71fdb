// Philox4x32-10 counter-based random numbers (Salmon et al., SC'11).
//
// A draw is a pure function of (seed, stream, counter): no state to share,
// lock or save beyond the counter.  Streams belong to work items (event,
// chain, parameter tensor), never to ranks, so results do not depend on the
// rank count, and a restart continues bit-exactly from a stored counter.
// Everything is KOKKOS_INLINE_FUNCTION so kernels can call it.
#pragma once

#include <cmath>
#include <cstdint>

#include <Kokkos_Macros.hpp>

namespace qvae::core {

struct PhiloxBlock {
  std::uint32_t v[4];
};

/// The Philox4x32 bijection with 10 rounds: counter (4 words) and key (2 words) -> 4 words.
KOKKOS_INLINE_FUNCTION PhiloxBlock philox4x32_10(PhiloxBlock ctr, std::uint32_t k0, std::uint32_t k1) {
  constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kMul0) * ctr.v[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(kMul1) * ctr.v[2];
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    ctr = PhiloxBlock{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return ctr;
}

/// 24 random bits -> float in [0, 1).
KOKKOS_INLINE_FUNCTION float u01_float(std::uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}
/// 53 random bits from two words -> double in [0, 1).
KOKKOS_INLINE_FUNCTION double u01_double(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t bits = (static_cast<std::uint64_t>(hi) << 21) ^ (lo >> 11);
  return static_cast<double>(bits & ((std::uint64_t{1} << 53) - 1)) * (1.0 / 9007199254740992.0);
}

/// A generator for one (seed, stream): draws consume 128-bit blocks at
/// increasing counters.  Cheap to construct inside a kernel; copyable; the
/// counter (number of blocks used) is public so it can be stored and resumed.
class Philox {
 public:
  KOKKOS_INLINE_FUNCTION Philox(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter = 0)
      : key0_(static_cast<std::uint32_t>(seed)),
        key1_(static_cast<std::uint32_t>(seed >> 32)),
        stream_(stream),
        counter_(counter) {}

  /// The next 4 random words (one block); advances the counter by one.
  KOKKOS_INLINE_FUNCTION PhiloxBlock block() {
    const PhiloxBlock ctr{{static_cast<std::uint32_t>(counter_), static_cast<std::uint32_t>(counter_ >> 32),
                           static_cast<std::uint32_t>(stream_), static_cast<std::uint32_t>(stream_ >> 32)}};
    ++counter_;
    return philox4x32_10(ctr, key0_, key1_);
  }

  /// One 32-bit word, taken from a buffered block (4 words per block).
  KOKKOS_INLINE_FUNCTION std::uint32_t next_u32() {
    if (used_ == 4) {
      buffer_ = block();
      used_ = 0;
    }
    return buffer_.v[used_++];
  }

  /// Uniform in [0, 1).
  KOKKOS_INLINE_FUNCTION double uniform() {
    const std::uint32_t hi = next_u32();
    return u01_double(hi, next_u32());
  }
  KOKKOS_INLINE_FUNCTION float uniform_float() { return u01_float(next_u32()); }
  /// Uniform in [lo, hi).
  KOKKOS_INLINE_FUNCTION double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  /// Standard normal (Box-Muller; the second value is cached).
  KOKKOS_INLINE_FUNCTION double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 6.283185307179586476925 * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }
  KOKKOS_INLINE_FUNCTION double normal(double mean, double sigma) { return mean + sigma * normal(); }

  /// 1 with probability p, else 0.
  KOKKOS_INLINE_FUNCTION int bernoulli(double p) { return uniform() < p ? 1 : 0; }

  /// Blocks consumed so far; a Philox built with this counter continues the stream
  /// from the next whole block.
  KOKKOS_INLINE_FUNCTION std::uint64_t counter() const { return counter_; }
  KOKKOS_INLINE_FUNCTION std::uint64_t stream() const { return stream_; }

 private:
  std::uint32_t key0_, key1_;
  std::uint64_t stream_;
  std::uint64_t counter_;
  PhiloxBlock buffer_{{0, 0, 0, 0}};
  int used_ = 4;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

/// Derives a stream id from a domain tag and a work-item index, so different
/// uses of one seed (e.g. "shuffle" vs "event") never share a stream.
KOKKOS_INLINE_FUNCTION std::uint64_t stream_id(std::uint32_t domain, std::uint64_t item) {
  // Domain in the top 16 bits; work items up to 2^48 each.
  return (static_cast<std::uint64_t>(domain) << 48) ^ (item & ((std::uint64_t{1} << 48) - 1));
}

}  // namespace qvae::core
