// Runs under mpirun -np 2: collective row-block writes and reads with uneven
// and empty blocks, for every supported type, asserting HDF5 really did the
// transfers collectively.
#include <gtest/gtest.h>

#include <filesystem>

#include "qvae/io/attributes.hpp"
#include "qvae/io/dataset.hpp"

using namespace qvae;

namespace {

/// Shared path: every rank must name the same file.
std::string shared_path(const par::Communicator& comm, const std::string& name) {
  std::string path = ::testing::TempDir() + "qvae_pio_" + name;
  comm.broadcast(path);
  return path;
}

template <class T>
T value_at(std::int64_t row, std::int64_t col) {
  return static_cast<T>((row * 7 + col * 3) % 100);
}

/// Rows held by `rank` in the write layout: rank r holds layout[r] rows.
std::int64_t rows_of(const std::vector<std::int64_t>& layout, int rank) {
  return rank < static_cast<int>(layout.size()) ? layout[static_cast<std::size_t>(rank)] : 0;
}

}  // namespace

template <class T>
class ParallelRows : public ::testing::Test {};
using Types = ::testing::Types<float, double, std::int32_t, std::int64_t, std::uint8_t>;
TYPED_TEST_SUITE(ParallelRows, Types);

TYPED_TEST(ParallelRows, RoundTripWithUnevenAndEmptyBlocksIsCollective) {
  using T = TypeParam;
  par::Communicator comm;
  // Rank 0 holds 5 rows, rank 1 none (writes an empty block); then reads
  // use the even block partition, a different layout.
  for (const std::vector<std::int64_t>& layout : {std::vector<std::int64_t>{5, 0}, {0, 3}, {4, 7}}) {
    const std::int64_t cols = 6;
    const std::string path = shared_path(comm, "rows.h5");
    std::int64_t offset = 0;
    for (int r = 0; r < comm.rank(); ++r) offset += rows_of(layout, r);
    const std::int64_t mine = rows_of(layout, comm.rank());
    std::vector<T> data(static_cast<std::size_t>(mine * cols));
    for (std::int64_t i = 0; i < mine; ++i)
      for (std::int64_t c = 0; c < cols; ++c) data[static_cast<std::size_t>(i * cols + c)] = value_at<T>(offset + i, c);
    {
      io::OutputFile out = io::OutputFile::create(path, comm);
      const io::IoReport w = io::write_rows(out, "m", data.data(), mine, cols);
      EXPECT_TRUE(w.collective) << w.cause;
      std::vector<T> first_column(static_cast<std::size_t>(mine));
      for (std::int64_t i = 0; i < mine; ++i) first_column[static_cast<std::size_t>(i)] = value_at<T>(offset + i, 0);
      const io::IoReport w1 = io::write_rows(out, "v", first_column.data(), mine, 0);  // 1-D
      EXPECT_TRUE(w1.collective) << w1.cause;
      out.commit();
    }
    const std::int64_t total = comm.sum(mine);
    const io::File in = io::File::open_parallel(path, comm);
    EXPECT_EQ(io::dataset_shape(in, "m").dims, (std::vector<std::int64_t>{total, cols}));
    const par::Block block = par::my_block(total, comm);
    std::vector<T> back;
    const io::IoReport r = io::read_rows(in, "m", block, cols, back);
    EXPECT_TRUE(r.collective) << r.cause;
    ASSERT_EQ(back.size(), static_cast<std::size_t>(block.count * cols));
    for (std::int64_t i = 0; i < block.count; ++i)
      for (std::int64_t c = 0; c < cols; ++c)
        ASSERT_EQ(back[static_cast<std::size_t>(i * cols + c)], value_at<T>(block.offset + i, c)) << i << "," << c;
    EXPECT_EQ(io::dataset_shape(in, "v").dims, (std::vector<std::int64_t>{total}));
    std::vector<T> column;
    const io::IoReport r1 = io::read_rows(in, "v", block, 0, column);
    EXPECT_TRUE(r1.collective) << r1.cause;
    for (std::int64_t i = 0; i < block.count; ++i)
      ASSERT_EQ(column[static_cast<std::size_t>(i)], value_at<T>(block.offset + i, 0)) << i;
    comm.barrier();
    if (comm.is_root()) std::filesystem::remove(path);
  }
}

TEST(ParallelFile, AttributesWrittenByAllRanksReadBackEverywhere) {
  par::Communicator comm;
  const std::string path = shared_path(comm, "attrs.h5");
  {
    io::OutputFile out = io::OutputFile::create(path, comm);
    io::write_provenance(out, {"mpirun qvae", 5, "[run]\nseed = 5\n"});
    io::set_attribute(out, "/", "geometry", "ds2");
    out.commit();
  }
  const io::File in = io::File::open_parallel(path, comm);
  EXPECT_EQ(io::get_string_attribute(in, "/", "geometry"), "ds2");
  EXPECT_EQ(io::get_uint_attribute(in, "/", "seed"), 5u);
  comm.barrier();
  if (comm.is_root()) std::filesystem::remove(path);
}

TEST(ParallelFile, AnAgreedFailureLeavesNoFileBehind) {
  par::Communicator comm;
  const std::string path = shared_path(comm, "failed.h5");
  std::string temp;
  try {
    io::OutputFile out = io::OutputFile::create(path, comm);
    temp = out.temp_path();
    throw core::InputError("failure on every rank before commit");
  } catch (const core::InputError&) {
  }
  comm.barrier();
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(temp));
}

TEST(ParallelFile, OpeningAMissingFileIsAnInputErrorOnEveryRank) {
  par::Communicator comm;
  EXPECT_THROW(io::File::open_parallel(shared_path(comm, "missing.h5"), comm), core::InputError);
}
