// Batching from rank 0 on 2 ranks (ctest runs this executable under mpirun -np 2
// with --gtest_filter=DwaveMpi.*; on 1 rank these tests skip): every rank's
// requests go to rank 0, which batches them; a rank's results equal those of a
// single-rank run and do not depend on batch size, in-flight limit or problem size.
#include <gtest/gtest.h>

#include <memory>

#include "dwave_test_support.hpp"
#include "qvae/dwave/samplers.hpp"
#include "qvae/par/communicator.hpp"
#include "qvae/par/partition.hpp"

namespace qvae::dwave {
namespace {

using testing::pegasus_machine;
using testing::SapiTestServer;

/// Every rank's block of samples, gathered on every rank in rank order.
std::vector<std::uint8_t> gather_states(const rbm::SampleResult& result, const par::Communicator& comm) {
  return comm.allgather_blocks(result.chains.local.states);
}

TEST(DwaveMpi, OfflineRequestsThroughRootEqualLocalAndSingleRank) {
  const par::Communicator comm;
  if (comm.size() < 2) GTEST_SKIP() << "needs 2 ranks";
  const rbm::BoltzmannMachine machine = testing::random_machine(4, 4, 0.6, 0.7, 0.5, 6);
  BackendSampleOptions options;
  options.backend = "anneal";
  options.reads = 21;
  options.seed = 8;
  options.settings.anneal.sweeps = 40;
  options.settings.qpu.reads_per_problem = 4;
  const std::vector<std::uint8_t> local = gather_states(sample_with_backend(machine, options, comm), comm);
  options.routing.through_root = true;
  const std::vector<std::uint8_t> routed = gather_states(sample_with_backend(machine, options, comm), comm);
  EXPECT_EQ(local, routed);
  const par::Communicator self(MPI_COMM_SELF);
  options.routing.through_root = false;
  options.settings.qpu.reads_per_problem = 1000;
  EXPECT_EQ(gather_states(sample_with_backend(machine, options, self), self), local);
}

TEST(DwaveMpi, QpuBatchingFromRankZeroDoesNotChangeResults) {
  const par::Communicator comm;
  if (comm.size() < 2) GTEST_SKIP() << "needs 2 ranks";
  // Rank 0 starts the server and tells the others its endpoint.
  std::unique_ptr<SapiTestServer> server;
  int port = 0;
  if (comm.is_root()) {
    server = std::make_unique<SapiTestServer>(std::vector<std::string>{"--sweeps", "5"});
    port = server->port();
  }
  port = comm.broadcast_value(port);
  const rbm::BoltzmannMachine machine = pegasus_machine(4, 8, 0.5, 5);
  BackendSampleOptions options;
  options.backend = "dwave";
  options.reads = 26;
  options.beta = 2.0;
  QpuSettings& qpu = options.settings.qpu;
  qpu.solver = "Advantage_test_pegasus_4";
  qpu.client.endpoint = "http://127.0.0.1:" + std::to_string(port) + "/sapi/";
  qpu.client.token = comm.is_root() ? "test-token" : "";  // only rank 0 talks to SAPI
  qpu.client.long_poll_s = 1;
  qpu.client.backoff_initial_s = 0.05;
  qpu.reads_per_problem = 4;
  qpu.batch_size = 20;
  qpu.max_in_flight = 100;
  const rbm::SampleResult wide = sample_with_backend(machine, options, comm);
  EXPECT_EQ(wide.backend, "dwave");
  EXPECT_EQ(wide.chains.local.count, par::my_block(26, comm).count);
  qpu.batch_size = 2;
  qpu.max_in_flight = 3;
  const std::vector<std::uint8_t> narrow = gather_states(sample_with_backend(machine, options, comm), comm);
  EXPECT_EQ(gather_states(wide, comm), narrow);
  qpu.reads_per_problem = 1000;  // one problem per rank instead of 4-read problems
  EXPECT_EQ(gather_states(sample_with_backend(machine, options, comm), comm), narrow);
  // A single rank asking for all reads gets the same samples.
  if (comm.is_root()) {
    const par::Communicator self(MPI_COMM_SELF);
    EXPECT_EQ(gather_states(sample_with_backend(machine, options, self), self), narrow);
  }
  // Conditioned: one problem per read, partition 0 pinned by flux biases.
  const par::Block block = par::my_block(options.reads, comm);
  rbm::Clamp condition;
  condition.partitions = {0};
  condition.rows = block.count;
  for (std::int64_t r = 0; r < block.count; ++r)
    for (int k = 0; k < 8; ++k)
      condition.values.push_back(static_cast<std::uint8_t>(((block.offset + r) >> (k % 4)) & 1));
  options.condition = condition;
  const rbm::SampleResult conditioned = sample_with_backend(machine, options, comm);
  ASSERT_EQ(conditioned.chains.local.count, block.count);
  for (std::int64_t r = 0; r < block.count; ++r)
    for (int k = 0; k < 8; ++k)
      EXPECT_EQ(conditioned.chains.local.state(r)[machine.partition_nodes(0)[k]], condition.values[r * 8 + k]);
  comm.barrier();
}

TEST(DwaveMpi, AnErrorOnRankZeroReachesEveryRank) {
  const par::Communicator comm;
  if (comm.size() < 2) GTEST_SKIP() << "needs 2 ranks";
  const rbm::BoltzmannMachine machine = pegasus_machine(4, 8, 0.5, 5);
  BackendSampleOptions options;
  options.backend = "dwave";
  options.reads = 4;
  options.settings.qpu.solver = "x";
  options.settings.qpu.client.endpoint = "http://127.0.0.1:9/sapi/";  // discard port: nothing listens
  options.settings.qpu.client.token = comm.is_root() ? "t" : "";
  try {
    sample_with_backend(machine, options, comm);
    ADD_FAILURE() << "no error";
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot reach the SAPI service"), std::string::npos) << e.what();
    EXPECT_EQ(e.code(), core::ExitCode::runtime);
  }
}

}  // namespace
}  // namespace qvae::dwave
