// Contiguous block partition of N rows over ranks: the first N % P ranks get
// one extra row.  Blocks may be empty (N < P); a rank with an empty block
// still takes part in every collective.
#pragma once

#include <cstdint>

namespace qvae::par {

struct Block {
  std::int64_t offset = 0;
  std::int64_t count = 0;
  std::int64_t end() const { return offset + count; }
};

/// Block `part` of `parts` over `total` rows.  Throws std::invalid_argument on
/// negative sizes or part outside [0, parts).
Block block_partition(std::int64_t total, int part, int parts);

class Communicator;
/// This rank's block of `total` rows over `comm`.
Block my_block(std::int64_t total, const Communicator& comm);
/// Offsets from per-rank counts that may be arbitrary: offset = exclusive prefix sum.
Block block_from_count(std::int64_t local_count, const Communicator& comm);

/// This rank's block cut into pieces of at most `chunk` rows for collective
/// reads and writes: every rank gets the same number of steps (the largest
/// over ranks, agreed collectively on construction), so a rank whose block is
/// shorter takes part with empty pieces at the end of its block.
class CollectiveChunks {
 public:
  /// Collective.  Throws std::invalid_argument when chunk < 1.
  CollectiveChunks(Block mine, std::int64_t chunk, const Communicator& comm);
  std::int64_t steps() const { return steps_; }
  /// The rows of step `step` (< steps()); empty at the block's end once it is done.
  Block operator[](std::int64_t step) const;

 private:
  Block mine_;
  std::int64_t chunk_, steps_;
};

}  // namespace qvae::par
