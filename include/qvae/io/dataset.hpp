// Row-sharded datasets: each rank writes or reads a contiguous block of rows.
//
// Parallel files use collective transfers (every rank calls, ranks with zero
// rows select nothing); the returned IoReport says whether HDF5 really did the
// transfer collectively, so tests can assert it.  Readers refuse a dataset of
// the wrong rank, shape or type class with an InputError naming file and
// dataset.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qvae/io/file.hpp"
#include "qvae/par/partition.hpp"

namespace qvae::io {

struct DatasetShape {
  std::vector<std::int64_t> dims;
  std::int64_t rows() const { return dims.empty() ? 0 : dims[0]; }
  /// Product of all dimensions after the first (1 for a 1-D dataset).
  std::int64_t row_size() const;
  std::string text() const;  ///< "(N, V)"
};

struct WriteOptions {
  std::int64_t chunk_rows = 0;  ///< 0 = contiguous layout
  int gzip_level = 0;           ///< 1..9 needs chunk_rows > 0
};

struct IoReport {
  bool collective = false;  ///< HDF5 did the transfer collectively on every rank
  std::string cause;        ///< why not, when it was not (empty otherwise)
};

/// Shape of dataset `name`; InputError if missing.
DatasetShape dataset_shape(const File& file, const std::string& name);
/// How dataset `name` is stored: "float32", "int64", "uint8", "string", ...;
/// InputError if missing.
std::string stored_type(const File& file, const std::string& name);

/// A dataset of (total_rows, cols) — or (total_rows) when cols is 0 — created
/// up front and filled by collective block writes, so large outputs can be
/// streamed in steps.  On parallel files every rank calls write() the same
/// number of times (a rank with nothing to write passes an empty block).
template <class T>
class RowWriter {
 public:
  /// Collective: creates the dataset; every rank passes the same arguments.
  RowWriter(File& file, const std::string& name, std::int64_t total_rows, std::int64_t cols,
            const WriteOptions& options = {});
  /// Collective: writes rows [rows.offset, rows.end()) from `data` (rows.count x cols values).
  IoReport write(const par::Block& rows, const T* data);
  std::int64_t total_rows() const { return total_rows_; }
  /// Releases the dataset (a parallel file closes only when none is open).
  void close() { dataset_.reset(); }

 private:
  File* file_;
  std::string name_;
  std::int64_t total_rows_, cols_;
  Handle dataset_;
};

/// Collective on parallel files.  Creates `name` with shape (total rows, cols)
/// — or (total rows) when `cols` is 0 — where total is the sum of local_rows
/// over ranks, and writes this rank's rows at its offset (exclusive prefix sum).
template <class T>
IoReport write_rows(File& file, const std::string& name, const T* data, std::int64_t local_rows, std::int64_t cols,
                    const WriteOptions& options = {});

/// Collective on parallel files.  Reads rows [block.offset, block.end()) of a
/// dataset whose shape must be (N, expected_cols) — or (N) when expected_cols
/// is 0 — into `out` (resized).  Float data converts between widths and
/// integer data between widths; any other type mismatch is an InputError.
template <class T>
IoReport read_rows(const File& file, const std::string& name, const par::Block& block, std::int64_t expected_cols,
                   std::vector<T>& out);

/// Reads the union of row runs `runs` (sorted by offset, disjoint, counts > 0)
/// of a dataset shaped like read_rows expects, in one transfer: the rows land
/// in `out` (resized) in file order.  One hyperslab union costs one pass over
/// each chunk the rows touch, which matters for gzip-chunked data.  Meant for
/// serial files (a background reader's own handle); on a parallel file it is
/// collective like read_rows.
template <class T>
IoReport read_row_runs(const File& file, const std::string& name, const std::vector<par::Block>& runs,
                       std::int64_t expected_cols, std::vector<T>& out);

/// Collective on parallel files: creates group `name` (a failure is a
/// runtime error naming the file and the group).
void create_group(File& file, const std::string& name);

/// Whole-dataset convenience for small data every rank needs (collective on parallel files).
template <class T>
std::vector<T> read_all(const File& file, const std::string& name, std::int64_t expected_cols);

}  // namespace qvae::io
