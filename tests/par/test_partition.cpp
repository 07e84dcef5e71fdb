#include <gtest/gtest.h>

#include "qvae/par/partition.hpp"

using qvae::par::Block;
using qvae::par::block_partition;

TEST(BlockPartition, BlocksAreContiguousCoverAllRowsAndDifferByAtMostOne) {
  for (std::int64_t total : {0, 1, 2, 5, 7, 100, 101}) {
    for (int parts : {1, 2, 3, 4, 8}) {
      std::int64_t next = 0, smallest = total, largest = 0;
      for (int p = 0; p < parts; ++p) {
        const Block b = block_partition(total, p, parts);
        EXPECT_EQ(b.offset, next) << total << " " << parts << " " << p;
        next = b.end();
        smallest = std::min(smallest, b.count);
        largest = std::max(largest, b.count);
      }
      EXPECT_EQ(next, total);
      EXPECT_LE(largest - smallest, 1);
    }
  }
}

TEST(BlockPartition, FirstRanksTakeTheRemainderAndLateRanksMayBeEmpty) {
  EXPECT_EQ(block_partition(7, 0, 3).count, 3);
  EXPECT_EQ(block_partition(7, 1, 3).offset, 3);
  EXPECT_EQ(block_partition(7, 2, 3).count, 2);
  EXPECT_EQ(block_partition(1, 1, 2).count, 0);
  EXPECT_EQ(block_partition(1, 1, 2).offset, 1);
}

TEST(BlockPartition, RejectsInvalidArguments) {
  EXPECT_THROW(block_partition(-1, 0, 1), std::invalid_argument);
  EXPECT_THROW(block_partition(4, 2, 2), std::invalid_argument);
  EXPECT_THROW(block_partition(4, 0, 0), std::invalid_argument);
}
