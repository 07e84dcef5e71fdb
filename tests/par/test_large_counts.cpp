// Variable-size collectives past the one-message limit: with the limit forced
// down to a few elements, allgather_blocks, gather_blocks, scatter_blocks,
// broadcast, sum_in_place and the non-blocking sums go piecewise and must give
// exactly what the one-message path gives.  Uneven blocks, an empty block and a block larger
// than the limit on its own.  Run on 1, 2 and 3 ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "qvae/core/bfloat16.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/par/pending_sum.hpp"

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

TEST_P(LargeCounts, AllgatherInPlaceFillsEveryRanksBlockWhereItBelongs) {
  par::Communicator comm;
  const LimitFor limit(GetParam());
  std::vector<long long> counts;
  std::vector<std::int64_t> expected;
  for (int r = 0; r < comm.size(); ++r) {
    const auto b = block_of(r);
    counts.push_back(static_cast<long long>(b.size()));
    expected.insert(expected.end(), b.begin(), b.end());
  }
  std::vector<std::int64_t> data(expected.size(), -1);  // only this rank's block is filled before
  std::size_t offset = 0;
  for (int r = 0; r < comm.rank(); ++r) offset += static_cast<std::size_t>(counts[static_cast<std::size_t>(r)]);
  const auto mine = block_of(comm.rank());
  std::copy(mine.begin(), mine.end(), data.begin() + static_cast<std::ptrdiff_t>(offset));
  comm.allgather_in_place(data.data(), counts);
  EXPECT_EQ(data, expected);
}

TEST_P(LargeCounts, StreamedBlocksReachTheRootInRankOrderAndPieces) {
  par::Communicator comm;
  const LimitFor limit(GetParam());
  const auto mine = block_of(comm.rank());
  std::vector<std::int64_t> received;
  std::size_t largest_piece = 0;
  int last_rank = -1;
  comm.stream_blocks_to_root(mine.data(), mine.size(), 2,
                             [&](int rank, std::size_t offset, const std::int64_t* values, std::size_t count) {
                               EXPECT_GE(rank, last_rank);
                               last_rank = rank;
                               const auto block = block_of(rank);
                               for (std::size_t i = 0; i < count; ++i) EXPECT_EQ(values[i], block[offset + i]);
                               received.insert(received.end(), values, values + count);
                               largest_piece = std::max(largest_piece, count);
                             });
  if (!comm.is_root()) {
    EXPECT_TRUE(received.empty());
    return;
  }
  std::vector<std::int64_t> expected;
  for (int r = 0; r < comm.size(); ++r) {
    const auto b = block_of(r);
    expected.insert(expected.end(), b.begin(), b.end());
  }
  EXPECT_EQ(received, expected);
  EXPECT_LE(largest_piece, std::min<std::size_t>(2, par::message_limit()));
}

TEST_P(LargeCounts, AFailingConsumerOnTheRootStillDrainsEverySender) {
  par::Communicator comm;
  const LimitFor limit(GetParam());
  const auto mine = block_of(comm.rank());
  int calls = 0;
  auto fail_first = [&](int, std::size_t, const std::int64_t*, std::size_t) {
    ++calls;
    throw std::runtime_error("disk full");
  };
  if (comm.is_root()) {
    EXPECT_THROW(comm.stream_blocks_to_root(mine.data(), mine.size(), 1, fail_first), std::runtime_error);
    EXPECT_EQ(calls, 1);  // later pieces are received and dropped
  } else {
    EXPECT_NO_THROW(comm.stream_blocks_to_root(mine.data(), mine.size(), 1, fail_first));
  }
  comm.barrier();  // every sender returned: nothing is left blocked
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

TEST_P(LargeCounts, PendingSumsEqualBlockingSumsWhateverTheirCompletionOrder) {
  par::Communicator comm;
  const LimitFor limit(GetParam());
  // Two sums in flight at once, waited for in reverse order of starting.
  std::vector<float> first(17), second(5);
  for (std::size_t i = 0; i < first.size(); ++i) first[i] = static_cast<float>(comm.rank() + 1) * static_cast<float>(i);
  for (std::size_t i = 0; i < second.size(); ++i) second[i] = 0.25f * static_cast<float>(comm.rank());
  std::vector<float> expected_first = first, expected_second = second;
  comm.sum_in_place(expected_first.data(), expected_first.size());
  comm.sum_in_place(expected_second.data(), expected_second.size());
  par::PendingSum a = par::start_sum_in_place(comm, first.data(), first.size());
  par::PendingSum b = par::start_sum_in_place(comm, second.data(), second.size());
  while (!a.test()) {
  }
  b.wait();
  EXPECT_FALSE(a.pending());
  EXPECT_FALSE(b.pending());
  EXPECT_EQ(first, expected_first);
  EXPECT_EQ(second, expected_second);
  // A sum still in flight when its handle goes completes there (every rank started it).
  {
    std::vector<float> ones(9, 1.0f);
    const par::PendingSum unwaited = par::start_sum_in_place(comm, ones.data(), ones.size());
  }
  comm.barrier();
}

// A bfloat16 sum rounds each rank's value and each partial sum once (2^-9
// relative of at most sum|x_r| each), so it lies within ranks x 2^-8 x sum|x_r|
// of the exact sum; small integers and their sums are exact; a NaN anywhere
// reaches every rank.
TEST_P(LargeCounts, BfloatSumsLieWithinTheirRoundingOfTheExactSums) {
  par::Communicator comm;
  const LimitFor limit(GetParam());
  const std::size_t n = 29;
  std::vector<std::uint16_t> values(n), integers(n, core::to_bfloat16(static_cast<float>(comm.rank() + 1)));
  std::vector<double> exact(n, 0.0), magnitude(n, 0.0);
  auto value_of = [](int rank, std::size_t i) {
    return static_cast<float>((rank + 1) * (i % 2 ? -1.0 : 1.0) * (1.0 + 0.013 * static_cast<double>(i)) *
                              std::ldexp(1.0, static_cast<int>(i % 7) - 3));
  };
  for (std::size_t i = 0; i < n; ++i) {
    values[i] = core::to_bfloat16(value_of(comm.rank(), i));
    for (int r = 0; r < comm.size(); ++r)
      exact[i] += static_cast<double>(value_of(r, i)), magnitude[i] += std::abs(static_cast<double>(value_of(r, i)));
  }
  std::vector<std::uint16_t> poisoned(3, core::to_bfloat16(1.0f));
  if (comm.rank() == comm.size() - 1) poisoned[1] = core::to_bfloat16(std::numeric_limits<float>::quiet_NaN());
  par::PendingSum a = par::start_bfloat16_sum_in_place(comm, values.data(), n);
  par::PendingSum b = par::start_bfloat16_sum_in_place(comm, integers.data(), n);
  par::PendingSum c = par::start_bfloat16_sum_in_place(comm, poisoned.data(), poisoned.size());
  c.wait();
  b.wait();
  a.wait();
  const double bound = comm.size() * std::ldexp(1.0, -8);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_LE(std::abs(static_cast<double>(core::from_bfloat16(values[i])) - exact[i]), bound * magnitude[i])
        << "element " << i;
    EXPECT_EQ(core::from_bfloat16(integers[i]), static_cast<float>(comm.size() * (comm.size() + 1) / 2));
  }
  EXPECT_EQ(core::from_bfloat16(poisoned[0]), static_cast<float>(comm.size()));
  EXPECT_TRUE(std::isnan(core::from_bfloat16(poisoned[1])));
}

// 1 and 3 elements per message force the piecewise paths; 0 is the default limit.
INSTANTIATE_TEST_SUITE_P(MessageLimit, LargeCounts, ::testing::Values(std::size_t{0}, std::size_t{1}, std::size_t{3}));
