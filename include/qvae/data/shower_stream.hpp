// Streamed shower rows: a background reader that delivers, request by
// request, the rows a rank needs next, while the caller computes.
//
// The stream owns one thread and one serial, read-only HDF5 handle of the
// file, opened and closed on that thread.  The HDF5 library this project
// links is not thread-safe, so the rule is: while a ShowerStream exists, its
// thread is the only one in the process making HDF5 calls.  Callers destroy
// the stream (which stops and joins the thread) before any other HDF5 work —
// checkpoints, history, reading a checkpoint back.  The thread makes no MPI
// calls: ranks agree on a stream's errors through the caller's collectives.
//
// Memory: at most `depth` requests are read ahead, so the stream holds at
// most depth x (the largest request) rows; peak_rows() reports what it held.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "qvae/data/calo_file.hpp"

namespace qvae::data {

/// Request k -> the global rows to deliver, in delivery order.  Called on the
/// stream's thread: it must only read data that outlives the stream.
using RowPlan = std::function<std::vector<std::int64_t>(std::int64_t k)>;

/// A delivered request: its rows in plan order (`first_event` is the first
/// row's index; `rows` lists every row's global index).
struct StreamedRows {
  ShowerBlock block;
  std::vector<std::int64_t> rows;
};

class ShowerStream {
 public:
  /// Starts reading requests 0..requests-1 of `plan` from `path` (a
  /// CaloChallenge file with `voxels` voxels per shower), `depth` >= 1 ahead.
  ShowerStream(std::string path, std::int64_t voxels, std::int64_t requests, RowPlan plan, int depth);
  ShowerStream(const ShowerStream&) = delete;
  ShowerStream& operator=(const ShowerStream&) = delete;
  /// Stops the reader and joins it (an error it met and nobody asked for is dropped).
  ~ShowerStream();

  /// The next request's rows, checked for bad values (NaN/inf, negative voxel
  /// or non-positive incident energies: an InputError naming the file, the
  /// dataset and the row).  Blocks until the reader has it; re-throws the
  /// reader's error here, on the caller's thread.  std::logic_error past the end.
  StreamedRows next();

  /// The most shower rows the stream held at once (read ahead, not yet taken).
  std::int64_t peak_rows() const;
  /// Seconds next() spent waiting for the reader (I/O not hidden behind compute).
  double wait_seconds() const { return wait_seconds_; }
  /// Seconds the reader spent in HDF5 reads and value checks.
  double read_seconds() const;

 private:
  void run() noexcept;
  StreamedRows read_request(std::int64_t k, const io::File& file) const;

  std::string path_;
  std::int64_t voxels_;
  std::int64_t requests_;
  RowPlan plan_;
  std::size_t depth_;

  mutable std::mutex mutex_;
  std::condition_variable ready_;  ///< a request arrived, or the reader ended
  std::condition_variable space_;  ///< a request was taken, or stop
  std::deque<StreamedRows> queue_;
  std::int64_t held_rows_ = 0;  ///< rows in queue_ plus the request being read
  std::int64_t peak_rows_ = 0;
  std::int64_t taken_ = 0;
  bool stop_ = false;
  bool finished_ = false;
  std::exception_ptr error_;
  double wait_seconds_ = 0.0;
  double read_seconds_ = 0.0;
  std::thread thread_;  ///< last member: started after everything it uses
};

}  // namespace qvae::data
