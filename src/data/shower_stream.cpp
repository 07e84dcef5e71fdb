#include "qvae/data/shower_stream.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "qvae/core/error.hpp"
#include "qvae/core/stopwatch.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/io/file.hpp"

namespace qvae::data {

ShowerStream::ShowerStream(std::string path, std::int64_t voxels, std::int64_t requests, RowPlan plan, int depth)
    : path_(std::move(path)),
      voxels_(voxels),
      requests_(std::max<std::int64_t>(requests, 0)),
      plan_(std::move(plan)),
      depth_(static_cast<std::size_t>(std::max(depth, 1))) {
  thread_ = std::thread([this] { run(); });
}

ShowerStream::~ShowerStream() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  space_.notify_all();
  if (thread_.joinable()) thread_.join();
}

StreamedRows ShowerStream::read_request(std::int64_t k, const io::File& file) const {
  StreamedRows out;
  out.rows = plan_(k);
  const auto count = static_cast<std::int64_t>(out.rows.size());
  ShowerBlock& block = out.block;
  block.voxels = voxels_;
  block.first_event = count > 0 ? out.rows.front() : 0;
  block.incident_energies.resize(static_cast<std::size_t>(count));
  block.showers.resize(static_cast<std::size_t>(count * voxels_));
  if (count == 0) return out;
  // One transfer per dataset over the sorted rows' runs, then each row to its place.
  std::vector<std::int64_t> by_row(static_cast<std::size_t>(count));
  std::iota(by_row.begin(), by_row.end(), std::int64_t{0});
  std::sort(by_row.begin(), by_row.end(), [&](std::int64_t a, std::int64_t b) {
    return out.rows[static_cast<std::size_t>(a)] < out.rows[static_cast<std::size_t>(b)];
  });
  std::vector<par::Block> runs;
  std::vector<std::int64_t> slot_of(static_cast<std::size_t>(count));  // position among the sorted, unique rows
  std::int64_t unique = 0;
  for (const std::int64_t i : by_row) {
    const std::int64_t row = out.rows[static_cast<std::size_t>(i)];
    if (runs.empty() || row > runs.back().end() - 1) {  // a repeated row is read once
      if (!runs.empty() && row == runs.back().end())
        ++runs.back().count;
      else
        runs.push_back(par::Block{row, 1});
      ++unique;
    }
    slot_of[static_cast<std::size_t>(i)] = unique - 1;
  }
  std::vector<double> energies;
  std::vector<float> showers;
  io::read_row_runs(file, kIncidentEnergies, runs, 1, energies);
  io::read_row_runs(file, kShowers, runs, voxels_, showers);
  for (std::int64_t i = 0; i < count; ++i) {
    const auto slot = static_cast<std::size_t>(slot_of[static_cast<std::size_t>(i)]);
    block.incident_energies[static_cast<std::size_t>(i)] = energies[slot];
    std::copy_n(showers.data() + slot * static_cast<std::size_t>(voxels_), voxels_, block.shower(i));
  }
  const BadValues bad = find_bad_values(block, out.rows);
  if (bad.any()) throw_bad_values(path_, bad);
  return out;
}

void ShowerStream::run() noexcept {
  try {
    const io::File file = io::File::open_serial(path_);
    for (std::int64_t k = 0; k < requests_; ++k) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        space_.wait(lock, [&] { return stop_ || queue_.size() < depth_; });
        if (stop_) break;
      }
      const core::Stopwatch start;
      StreamedRows request = read_request(k, file);
      const auto rows = static_cast<std::int64_t>(request.rows.size());
      {
        std::lock_guard<std::mutex> lock(mutex_);
        read_seconds_ += start.seconds();
        held_rows_ += rows;
        peak_rows_ = std::max(peak_rows_, held_rows_);
        queue_.push_back(std::move(request));
      }
      ready_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
  }
  ready_.notify_all();
}

StreamedRows ShowerStream::next() {
  const core::Stopwatch start;
  std::unique_lock<std::mutex> lock(mutex_);
  if (taken_ >= requests_) throw std::logic_error("qvae::data::ShowerStream::next: past the last request");
  ready_.wait(lock, [&] { return !queue_.empty() || finished_; });
  wait_seconds_ += start.seconds();
  if (queue_.empty()) {
    if (error_) std::rethrow_exception(error_);
    throw std::logic_error("qvae::data::ShowerStream::next: the reader ended early");
  }
  StreamedRows out = std::move(queue_.front());
  queue_.pop_front();
  held_rows_ -= static_cast<std::int64_t>(out.rows.size());
  ++taken_;
  lock.unlock();
  space_.notify_all();
  return out;
}

std::int64_t ShowerStream::peak_rows() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return peak_rows_;
}

double ShowerStream::read_seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return read_seconds_;
}

}  // namespace qvae::data
