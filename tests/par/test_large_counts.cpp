// Variable-size collectives past the one-message limit: with the limit forced
// down to a few elements, allgather_blocks, gather_blocks, scatter_blocks,
// broadcast and sum_in_place go piecewise and must give exactly what the
// one-message path gives.  Uneven blocks, an empty block and a block larger
// than the limit on its own.  Run on 1, 2 and 3 ranks.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "qvae/par/communicator.hpp"

using namespace qvae;

namespace {

/// Rank r's block: 3r + 1 values (rank 1's is empty), value = 1000 r + i.
std::vector<std::int64_t> block_of(int rank) {
  const std::size_t count = rank == 1 ? 0 : static_cast<std::size_t>(3 * rank + 1);
  std::vector<std::int64_t> block(count);
  for (std::size_t i = 0; i < count; ++i) block[i] = 1000 * rank + static_cast<std::int64_t>(i);
  return block;
}

/// Restores the default limit when a test ends, even on failure.
struct LimitFor {
  explicit LimitFor(std::size_t elements) { par::set_message_limit(elements); }
  ~LimitFor() { par::set_message_limit(0); }
};

}  // namespace

class LargeCounts : public ::testing::TestWithParam<std::size_t> {};

TEST_P(LargeCounts, AllgatherBlocksConcatenatesInRankOrder) {
  par::Communicator comm;
  const LimitFor limit(GetParam());
  std::vector<std::int64_t> expected;
  for (int r = 0; r < comm.size(); ++r) {
    const auto b = block_of(r);
    expected.insert(expected.end(), b.begin(), b.end());
  }
  EXPECT_EQ(comm.allgather_blocks(block_of(comm.rank())), expected);
}

TEST_P(LargeCounts, GatherAndScatterBlocksAreInverses) {
  par::Communicator comm;
  const LimitFor limit(GetParam());
  const int root = comm.size() - 1;  // a root other than 0 where there are several ranks
  const std::vector<std::vector<std::int64_t>> blocks = comm.gather_blocks(block_of(comm.rank()), root);
  if (comm.rank() == root) {
    ASSERT_EQ(blocks.size(), static_cast<std::size_t>(comm.size()));
    for (int r = 0; r < comm.size(); ++r) EXPECT_EQ(blocks[static_cast<std::size_t>(r)], block_of(r)) << "rank " << r;
  } else {
    EXPECT_TRUE(blocks.empty());
  }
  EXPECT_EQ(comm.scatter_blocks(blocks, root), block_of(comm.rank()));
}

TEST_P(LargeCounts, BroadcastAndSumInPlaceCoverEveryElement) {
  par::Communicator comm;
  const LimitFor limit(GetParam());
  std::vector<double> values(23);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = comm.is_root() ? 0.5 * static_cast<double>(i) : -1.0;
  comm.broadcast(values.data(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) EXPECT_EQ(values[i], 0.5 * static_cast<double>(i));
  std::vector<double> ones(23, 1.0);
  comm.sum_in_place(ones.data(), ones.size());
  for (double v : ones) EXPECT_EQ(v, static_cast<double>(comm.size()));
}

// 1 and 3 elements per message force the piecewise paths; 0 is the default limit.
INSTANTIATE_TEST_SUITE_P(MessageLimit, LargeCounts, ::testing::Values(std::size_t{0}, std::size_t{1}, std::size_t{3}));
