// Training history (docs/training.md "History"): one row per epoch, named
// columns (every loss term, train and validation, schedules, time and
// throughput).  Rank 0 rewrites DIR/history.csv and DIR/history.h5 atomically
// after every epoch, so a killed run keeps all finished epochs.
//
// history.h5: format "qvae-history" v2; one float64 dataset (epochs) per
// column at the root, the column order in the root attribute `columns`
// (comma-separated), plus the provenance attributes.  v2 added the
// stability-guard columns (bad_batches, rollbacks, clipped_batches,
// grad_norm_max); the layout is otherwise v1's.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "qvae/io/attributes.hpp"
#include "qvae/io/file.hpp"

namespace qvae::train {

inline constexpr const char* kHistoryFormat = "qvae-history";
inline constexpr std::int64_t kHistoryFormatVersion = 2;

class History {
 public:
  using Row = std::vector<std::pair<std::string, double>>;

  /// Appends a row; the first row fixes the columns, later rows must have the same names.
  void append(const Row& row);
  /// A history with columns but no column `name` gets it right after column
  /// `after` (or last), `fill` in every row (a resumed run whose checkpoint
  /// predates the column).
  void ensure_column(const std::string& name, double fill, const std::string& after = "");
  /// Drops rows after the first `rows` (resume from an earlier checkpoint).
  void truncate(std::size_t rows);
  std::size_t rows() const { return columns_.empty() ? 0 : values_.front().size(); }
  const std::vector<std::string>& columns() const { return columns_; }
  /// Column `name` (empty if unknown).
  std::vector<double> column(const std::string& name) const;
  /// The last row (empty before the first epoch).
  Row last() const;

  /// CSV text: a header line, then one line per epoch (17 significant digits).
  std::string csv() const;
  /// This process alone (rank 0): DIR/history.csv and DIR/history.h5, each atomically.
  void write_files(const std::string& directory, const io::Provenance& provenance) const;
  /// Into an open (serial) file: group `group` with one dataset per column, attribute `columns` on it.
  void store(io::File& file, const std::string& group) const;
  /// Reads what store() wrote (an absent group gives an empty history).
  static History load(const io::File& file, const std::string& group);

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<double>> values_;  ///< per column
};

}  // namespace qvae::train
