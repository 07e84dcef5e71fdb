// Per-epoch training history: CSV and HDF5, each replaced atomically.
#include "qvae/train/history.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "qvae/core/atomic_file.hpp"
#include "qvae/core/error.hpp"
#include "qvae/io/dataset.hpp"

namespace qvae::train {

void History::append(const Row& row) {
  if (columns_.empty()) {
    for (const auto& [name, value] : row) {
      columns_.push_back(name);
      values_.push_back({value});
    }
    return;
  }
  if (row.size() != columns_.size())
    throw std::logic_error("History::append: a row with " + std::to_string(row.size()) + " columns, expected " +
                           std::to_string(columns_.size()));
  for (std::size_t c = 0; c < row.size(); ++c) {
    if (row[c].first != columns_[c])
      throw std::logic_error("History::append: column '" + row[c].first + "' out of order");
    values_[c].push_back(row[c].second);
  }
}

void History::ensure_column(const std::string& name, double fill, const std::string& after) {
  if (columns_.empty() || std::find(columns_.begin(), columns_.end(), name) != columns_.end()) return;
  auto position = std::find(columns_.begin(), columns_.end(), after);
  const auto index = after.empty() || position == columns_.end()
                         ? columns_.size()
                         : static_cast<std::size_t>(position - columns_.begin()) + 1;
  values_.insert(values_.begin() + static_cast<std::ptrdiff_t>(index), std::vector<double>(rows(), fill));
  columns_.insert(columns_.begin() + static_cast<std::ptrdiff_t>(index), name);
}

void History::truncate(std::size_t rows) {
  for (auto& column : values_)
    if (column.size() > rows) column.resize(rows);
}

std::vector<double> History::column(const std::string& name) const {
  for (std::size_t c = 0; c < columns_.size(); ++c)
    if (columns_[c] == name) return values_[c];
  return {};
}

History::Row History::last() const {
  Row row;
  if (rows() == 0) return row;
  for (std::size_t c = 0; c < columns_.size(); ++c) row.emplace_back(columns_[c], values_[c].back());
  return row;
}

std::string History::csv() const {
  std::ostringstream os;
  for (std::size_t c = 0; c < columns_.size(); ++c) os << (c ? "," : "") << columns_[c];
  os << '\n';
  char number[64];
  for (std::size_t r = 0; r < rows(); ++r) {
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      const double v = values_[c][r];
      if (std::isfinite(v))
        std::snprintf(number, sizeof number, "%.17g", v);
      else
        std::snprintf(number, sizeof number, "nan");
      os << (c ? "," : "") << number;
    }
    os << '\n';
  }
  return os.str();
}

namespace {

std::string joined_columns(const std::vector<std::string>& columns) {
  std::string text;
  for (std::size_t c = 0; c < columns.size(); ++c) text += (c ? "," : "") + columns[c];
  return text;
}

}  // namespace

void History::write_files(const std::string& directory, const io::Provenance& provenance) const {
  const std::filesystem::path dir(directory);
  core::write_file_atomically((dir / "history.csv").string(), csv(), "the training history");
  io::OutputFile file = io::OutputFile::create_serial((dir / "history.h5").string());
  io::write_provenance(file, provenance);
  io::set_format(file, kHistoryFormat, kHistoryFormatVersion);
  io::set_attribute(file, "/", "columns", joined_columns(columns_));
  io::set_attribute(file, "/", "epochs", static_cast<std::int64_t>(rows()));
  for (std::size_t c = 0; c < columns_.size(); ++c)
    io::write_rows<double>(file, columns_[c], values_[c].data(), static_cast<std::int64_t>(values_[c].size()), 0);
  file.commit();
}

void History::store(io::File& file, const std::string& group) const {
  io::create_group(file, group);
  io::set_attribute(file, group, "columns", joined_columns(columns_));
  for (std::size_t c = 0; c < columns_.size(); ++c)
    io::write_rows<double>(file, group + "/" + columns_[c], values_[c].data(),
                           static_cast<std::int64_t>(values_[c].size()), 0);
}

History History::load(const io::File& file, const std::string& group) {
  History history;
  if (!file.has(group)) return history;
  const std::string columns = io::get_string_attribute(file, group, "columns");
  std::stringstream in(columns);
  std::string name;
  while (std::getline(in, name, ',')) {
    if (name.empty()) continue;
    history.columns_.push_back(name);
    history.values_.push_back(io::read_all<double>(file, group + "/" + name, 0));
  }
  return history;
}

}  // namespace qvae::train
