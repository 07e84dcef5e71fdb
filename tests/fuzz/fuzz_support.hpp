// Shared pieces of the fuzz harnesses (tests/fuzz): a byte reader over the
// fuzz input, the rule that separates a clean refusal from a finding, the
// per-process scratch directory and the MPI/Kokkos runtime the collective
// readers need.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "qvae/par/communicator.hpp"

namespace qvae::fuzz {

/// Reads a fuzz input front to back; past its end every read returns zeros,
/// so any input decodes to something.
class Bytes {
 public:
  Bytes(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  std::uint8_t u8() { return empty() ? 0 : data_[pos_++]; }
  std::uint16_t u16();
  std::uint64_t u64();
  double f64();
  /// `length` raw bytes (fewer at the end of the input).
  std::string text(std::size_t length);
  /// Everything not read yet.
  std::string rest();

 private:
  const std::uint8_t* data_;
  std::size_t size_, pos_ = 0;
};

/// Runs `body`.  A core::Error is the clean refusal the project promises for
/// bad input; anything else escaping (std::bad_alloc from a size in the file,
/// std::invalid_argument, a foreign library's exception) is reported and
/// aborts, so libFuzzer keeps the input and the replay test fails.
void expect_clean(const char* harness, const std::function<void()>& body);

/// A directory on tmpfs private to this process (created on first use).
const std::string& scratch_dir();

/// Starts MPI and Kokkos once (collective readers need a communicator).
void start_runtime();
/// MPI_COMM_WORLD after start_runtime() (one process while fuzzing).
const par::Communicator& world();

}  // namespace qvae::fuzz
