// bfloat16: the upper half of an IEEE float32 (8 exponent bits, 7 mantissa
// bits), used to halve the bytes of a gradient exchange.  Relative rounding
// error at most 2^-8; the float32 range is kept, so gradients do not overflow.
#pragma once

#include <cstdint>
#include <cstring>

namespace qvae::core {

/// `value` rounded to the nearest bfloat16 (ties to even); NaN stays NaN, ±inf stays ±inf.
inline std::uint16_t to_bfloat16(float value) noexcept {
  std::uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu) != 0)
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);  // a NaN whose payload would round away
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>(bits >> 16);
}

inline float from_bfloat16(std::uint16_t half) noexcept {
  const std::uint32_t bits = static_cast<std::uint32_t>(half) << 16;
  float value = 0;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

}  // namespace qvae::core
