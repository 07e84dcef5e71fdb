// Runs under mpirun -np 2 (also correct on any rank count).
#include <gtest/gtest.h>

#include <stdexcept>

#include "qvae/core/error.hpp"
#include "qvae/par/collective_error.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/par/partition.hpp"

using namespace qvae;

TEST(Communicator, IsADuplicateOfWorldWithTheSameRanks) {
  par::Communicator comm;
  int result = MPI_UNEQUAL;
  MPI_Comm_compare(comm.get(), MPI_COMM_WORLD, &result);
  EXPECT_EQ(result, MPI_CONGRUENT);  // same group, distinct context: our messages stay apart
  int world_rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  EXPECT_EQ(comm.rank(), world_rank);
}

TEST(Communicator, ReductionsScansAndBroadcastsGiveTheSameAnswerEverywhere) {
  par::Communicator comm;
  const int p = comm.size(), r = comm.rank();
  EXPECT_EQ(comm.sum(r + 1), p * (p + 1) / 2);
  EXPECT_EQ(comm.max(r), p - 1);
  EXPECT_EQ(comm.min(r), 0);
  EXPECT_EQ(comm.exscan_sum(10), 10 * r);
  std::string text = r == 0 ? "from root" : "";
  comm.broadcast(text);
  EXPECT_EQ(text, "from root");
  EXPECT_TRUE(comm.all(true));
  EXPECT_FALSE(comm.all(r != p - 1));
  std::vector<double> v{1.0 * r, 2.0};
  comm.sum_in_place(v.data(), v.size());
  EXPECT_DOUBLE_EQ(v[1], 2.0 * p);
  EXPECT_EQ(comm.allgather(r * 3).back(), 3 * (p - 1));
}

TEST(Communicator, BlocksFromUnevenAndEmptyCountsTile) {
  par::Communicator comm;
  // Rank r holds r rows (rank 0 holds none).
  const par::Block b = par::block_from_count(comm.rank(), comm);
  EXPECT_EQ(b.offset, static_cast<std::int64_t>(comm.rank()) * (comm.rank() - 1) / 2);
  EXPECT_EQ(comm.sum(b.count), static_cast<std::int64_t>(comm.size()) * (comm.size() - 1) / 2);
  const par::Block mine = par::my_block(3, comm);
  EXPECT_EQ(comm.sum(mine.count), 3);
}

TEST(Agree, NoErrorAnywhereMeansNoThrow) {
  par::Communicator comm;
  EXPECT_NO_THROW(par::run_agreed(comm, [] {}));
}

TEST(Agree, AnErrorOnTheLastRankReachesEveryRankWithItsMessageAndCode) {
  par::Communicator comm;
  const int last = comm.size() - 1;
  try {
    par::run_agreed(comm, [&] {
      if (comm.rank() == last) throw core::InputError("bad row 17 on rank " + std::to_string(last));
    });
    FAIL() << "no CollectiveError";
  } catch (const par::CollectiveError& e) {
    EXPECT_EQ(e.code(), core::ExitCode::bad_input);
    EXPECT_EQ(e.origin_rank(), last);
    EXPECT_EQ(std::string(e.what()), "bad row 17 on rank " + std::to_string(last));
  }
}

TEST(Agree, WhenSeveralRanksFailTheLowestRankSpeaks) {
  par::Communicator comm;
  try {
    par::run_agreed(comm, [&] { throw core::UsageError("rank " + std::to_string(comm.rank())); });
    FAIL() << "no CollectiveError";
  } catch (const par::CollectiveError& e) {
    EXPECT_EQ(e.origin_rank(), 0);
    EXPECT_EQ(std::string(e.what()), "rank 0");
    EXPECT_EQ(e.code(), core::ExitCode::usage);
  }
}

TEST(MpiCheck, AFailedCallBecomesARuntimeErrorNamingTheCall) {
  par::Communicator comm;
  int value = 0;
  try {
    // An invalid root is reported (MPI_ERRORS_RETURN on our communicator).
    QVAE_CHECK_MPI(MPI_Bcast(&value, 1, MPI_INT, comm.size() + 5, comm.get()));
    FAIL() << "no error";
  } catch (const core::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("MPI_Bcast"), std::string::npos) << e.what();
  }
}

TEST(CollectiveChunks, EveryRankTakesTheSameStepsAndThePiecesTileItsBlock) {
  par::Communicator comm;
  for (std::int64_t total : {0, 1, 7, 10, 23}) {
    for (std::int64_t chunk : {1, 3, 64}) {
      const par::Block mine = par::my_block(total, comm);
      const par::CollectiveChunks chunks(mine, chunk, comm);
      EXPECT_EQ(comm.min(chunks.steps()), comm.max(chunks.steps())) << total << " " << chunk;
      EXPECT_GE(chunks.steps() * chunk, mine.count);
      std::int64_t next = mine.offset;
      for (std::int64_t step = 0; step < chunks.steps(); ++step) {
        const par::Block piece = chunks[step];
        EXPECT_EQ(piece.offset, next) << "step " << step;  // contiguous, in order, empty ones at the end
        EXPECT_LE(piece.count, chunk);
        EXPECT_GE(piece.count, 0);
        next = piece.end();
      }
      EXPECT_EQ(next, mine.end());
    }
  }
  EXPECT_THROW(par::CollectiveChunks(par::Block{0, 5}, 0, comm), std::invalid_argument);
}
