// Non-blocking in-place sums over ranks: start a reduction, keep computing,
// wait for it later.  What overlapping the gradient exchange with the
// backward pass needs (train's gradient buckets).
//
// Collectives, non-blocking ones included, must be started in the same order
// on every rank; the caller owns that order.  Open MPI progresses a
// non-blocking collective only inside MPI calls, so long computations call
// test() now and then.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "qvae/par/communicator.hpp"

namespace qvae::par {

class PendingSum {
 public:
  PendingSum() = default;
  PendingSum(const PendingSum&) = delete;
  PendingSum& operator=(const PendingSum&) = delete;
  PendingSum(PendingSum&& other) noexcept;
  PendingSum& operator=(PendingSum&& other) noexcept;
  /// Waits for a sum still in flight: every rank started it, so every rank
  /// completes it, even while an exception unwinds.
  ~PendingSum();

  /// Progresses the sum; true once it is complete (then the data hold it).
  bool test();
  /// Blocks until the sum is complete.
  void wait();
  bool pending() const;

 private:
  friend PendingSum start_sum_in_place(const Communicator& comm, float* data, std::size_t count);
  friend PendingSum start_bfloat16_sum_in_place(const Communicator& comm, std::uint16_t* data, std::size_t count);
  std::vector<MPI_Request> requests_;
};

/// Starts the in-place element-wise sum of data[0, count) over the ranks of
/// `comm` (in pieces of at most message_limit() elements).  `data` must stay
/// valid and untouched until the sum completes.
PendingSum start_sum_in_place(const Communicator& comm, float* data, std::size_t count);

/// The same for bfloat16 values (core/bfloat16.hpp): each value and each
/// partial sum is rounded to bfloat16 (2^-9 relative), so the result lies
/// within ranks x 2^-8 x sum|x_r| of the exact sum.  Half the bytes of a
/// float32 sum; the reduction order is MPI's, fixed for a given rank count.
PendingSum start_bfloat16_sum_in_place(const Communicator& comm, std::uint16_t* data, std::size_t count);

}  // namespace qvae::par
