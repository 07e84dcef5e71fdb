// Tests of qvae/data/shower_stream.hpp: the background reader delivers the
// planned rows in plan order from contiguous and gzip-chunked files, holds at
// most `depth` requests, and hands a bad value or a read error to the caller.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "qvae/core/error.hpp"
#include "qvae/data/calo_file.hpp"
#include "qvae/data/shower_stream.hpp"
#include "qvae/geometry/geometry.hpp"

using namespace qvae;

namespace {

constexpr std::int64_t kEvents = 50;

float voxel_value(std::int64_t event, std::int64_t voxel) {
  return (event + voxel) % 7 == 0 ? 0.0f : static_cast<float>(event) + 0.001f * static_cast<float>(voxel);
}

struct TempFile {
  std::string path;
  explicit TempFile(const std::string& name)
      : path(::testing::TempDir() + "qvae_stream_" + std::to_string(::getpid()) + "_" + name) {}
  ~TempFile() {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }
};

/// A ds2 file of kEvents rows whose values encode (event, voxel); `spoil` may damage it.
void write_file(const std::string& path, const data::WriteSettings& settings, std::int64_t bad_row = -1) {
  const geometry::Geometry geometry = geometry::Geometry::builtin("ds2");
  data::ShowerBlock block;
  block.voxels = geometry.voxels();
  for (std::int64_t e = 0; e < kEvents; ++e) {
    block.incident_energies.push_back(1000.0 + static_cast<double>(e));
    for (std::int64_t v = 0; v < block.voxels; ++v) block.showers.push_back(voxel_value(e, v));
  }
  if (bad_row >= 0) block.shower(bad_row)[3] = std::numeric_limits<float>::quiet_NaN();
  const par::Communicator self(MPI_COMM_SELF);
  data::write_calo_file(path, self, geometry, block, io::Provenance{"test_data_stream", 1, ""}, settings);
}

void expect_rows(const data::StreamedRows& got, const std::vector<std::int64_t>& rows) {
  ASSERT_EQ(got.rows, rows);
  ASSERT_EQ(got.block.events(), static_cast<std::int64_t>(rows.size()));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(got.block.incident_energies[i], 1000.0 + static_cast<double>(rows[i]));
    for (std::int64_t v = 0; v < got.block.voxels; v += 97)
      ASSERT_EQ(got.block.shower(static_cast<std::int64_t>(i))[v], voxel_value(rows[i], v)) << "row " << rows[i];
  }
}

const std::vector<std::vector<std::int64_t>> kPlan = {
    {17, 3, 4, 5, 49, 0}, {}, {8, 8, 9}, {30, 29, 28, 27, 26, 25, 24}, {1}};

data::RowPlan plan() {
  return [](std::int64_t k) { return kPlan[static_cast<std::size_t>(k)]; };
}

}  // namespace

TEST(ShowerStream, DeliversPlannedRowsInPlanOrderFromContiguousAndGzipFiles) {
  for (const data::WriteSettings& settings :
       {data::WriteSettings{}, data::WriteSettings{"float32", 6, 4}, data::WriteSettings{"float64", 11, 1}}) {
    TempFile file("rows_" + settings.shower_dtype + std::to_string(settings.chunk_rows));
    write_file(file.path, settings);
    data::ShowerStream stream(file.path, 6480, static_cast<std::int64_t>(kPlan.size()), plan(), 2);
    for (const auto& rows : kPlan) expect_rows(stream.next(), rows);
    EXPECT_THROW(stream.next(), std::logic_error);
    // Two requests read ahead at most: the largest two of the plan.
    EXPECT_LE(stream.peak_rows(), 7 + 6);
    EXPECT_GT(stream.peak_rows(), 0);
  }
}

TEST(ShowerStream, HoldsAtMostDepthRequests) {
  TempFile file("depth");
  write_file(file.path, {});
  const std::int64_t requests = 40;
  data::ShowerStream stream(
      file.path, 6480, requests,
      [](std::int64_t k) {
        return std::vector<std::int64_t>{k, k + 1, k + 2};
      },
      1);
  for (std::int64_t k = 0; k < requests; ++k) ASSERT_EQ(stream.next().rows.front(), k);
  EXPECT_EQ(stream.peak_rows(), 3);
}

TEST(ShowerStream, BadValueReachesTheCallerWithFileDatasetAndRow) {
  TempFile file("bad");
  write_file(file.path, data::WriteSettings{"float32", 8, 2}, 26);
  data::ShowerStream stream(file.path, 6480, static_cast<std::int64_t>(kPlan.size()), plan(), 3);
  expect_rows(stream.next(), kPlan[0]);  // requests before the bad one arrive intact
  expect_rows(stream.next(), kPlan[1]);
  expect_rows(stream.next(), kPlan[2]);
  try {
    stream.next();
    FAIL() << "no error for a NaN voxel";
  } catch (const core::InputError& error) {
    const std::string what = error.what();
    EXPECT_NE(what.find("row 26"), std::string::npos) << what;
    EXPECT_NE(what.find("showers"), std::string::npos) << what;
    EXPECT_NE(what.find(file.path), std::string::npos) << what;
  }
}

TEST(ShowerStream, MissingFileIsAnInputErrorOnTheCallersThread) {
  data::ShowerStream stream("/nonexistent/qvae_stream.h5", 6480, 1, plan(), 1);
  EXPECT_THROW(stream.next(), core::InputError);
}

TEST(ShowerStream, DestroyedEarlyStopsTheReader) {
  TempFile file("early");
  write_file(file.path, {});
  data::ShowerStream stream(
      file.path, 6480, 1000, [](std::int64_t k) { return std::vector<std::int64_t>{k % kEvents}; }, 2);
  EXPECT_EQ(stream.next().rows.front(), 0);
}  // the destructor joins a reader blocked on a full queue
