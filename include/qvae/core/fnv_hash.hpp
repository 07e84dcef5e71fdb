// FNV-1a (64 bit): a fast digest of bytes, to check that ranks or runs hold the
// same state.  Not for security: equal digests of different data are possible.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qvae::core {

class Fnv1a {
 public:
  Fnv1a& add(const void* data, std::size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < bytes; ++i) hash_ = (hash_ ^ p[i]) * 0x100000001B3ULL;
    return *this;
  }
  std::uint64_t value() const { return hash_; }

 private:
  std::uint64_t hash_ = 0xCBF29CE484222325ULL;
};

}  // namespace qvae::core
