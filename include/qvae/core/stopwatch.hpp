// Wall-clock timing of a piece of work: a monotonic clock, so a timing never
// goes backwards when the system clock is adjusted during a long job.  The
// figures are per process; callers that report a job-wide time take the
// maximum over ranks themselves.
#pragma once

#include <chrono>

namespace qvae::core {

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  /// Seconds since construction or the last restart().
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  void restart() { start_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace qvae::core
