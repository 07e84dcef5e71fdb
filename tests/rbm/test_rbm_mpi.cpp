// Under mpirun -np 2: sample files, stored chains and clamp values are the
// same whatever the rank count (docs/architecture.md, "Randomness" and "Parallel
// pattern"), and the row transfers are collective.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "qvae/core/error.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/par/partition.hpp"
#include "qvae/rbm/rbm_file.hpp"
#include "qvae/rbm/sampling.hpp"
#include "rbm_test_models.hpp"

namespace qvae::rbm {
namespace {

using testing::random_machine;

/// A path every rank agrees on (rank 0's pid in the name).
std::string shared_path(const par::Communicator& comm, const std::string& name) {
  const long pid = comm.broadcast_value(static_cast<long>(getpid()));
  return ::testing::TempDir() + "qvae_rbm_mpi_" + std::to_string(pid) + "_" + name;
}

template <class T>
std::vector<T> whole(const std::string& path, const std::string& name, std::int64_t cols) {
  const io::File file = io::File::open_serial(path);
  return io::read_all<T>(file, name, cols);
}

SampleFileInfo info_of() {
  SampleFileInfo info;
  info.rbm_path = "model.h5";
  info.burn_in = 4;
  info.sweeps = 9;
  info.beta = 1.3;
  return info;
}

SampleJob job_of(std::int64_t chains) {
  SampleJob job;
  job.chains = chains;
  job.burn_in = 4;
  job.sweeps = 9;
  job.settings.seed = 8080;
  job.settings.beta = 1.3;
  return job;
}

TEST(RbmMpi, SampleFileIsTheSameForOneRankAndMany) {
  const par::Communicator world;
  ASSERT_GE(world.size(), 2) << "run under mpirun -np 2 or 3";
  const par::Communicator self(MPI_COMM_SELF);
  const BoltzmannMachine machine = random_machine(4, 9, 0.4, 1.0, 0.5, 3);
  const std::int64_t chains = 101;  // odd: the ranks' blocks differ in size
  const std::string two = shared_path(world, "two.h5"), one = shared_path(world, "one.h5");

  const SampleResult distributed = run_sample_job(machine, job_of(chains), world, make_kokkos_sampler);
  EXPECT_EQ(distributed.chains.local.count, par::my_block(chains, world).count);
  const bool collective = write_samples(two, world, distributed, info_of(), io::Provenance{});
  EXPECT_TRUE(collective) << "sample rows were not written collectively";
  if (world.is_root()) {
    const SampleResult alone = run_sample_job(machine, job_of(chains), self, make_kokkos_sampler);
    write_samples(one, self, alone, info_of(), io::Provenance{});
    const auto samples = whole<std::uint8_t>(two, "samples", machine.num_nodes());
    EXPECT_EQ(samples, whole<std::uint8_t>(one, "samples", machine.num_nodes()));
    EXPECT_EQ(whole<double>(two, "energies", 0), whole<double>(one, "energies", 0));
    EXPECT_EQ(whole<std::int64_t>(two, "chain_sweeps", 0), std::vector<std::int64_t>(chains, 13));
    // Energies are those of the stored samples.
    const auto energies = whole<double>(two, "energies", 0);
    for (std::int64_t c = 0; c < chains; ++c)
      EXPECT_DOUBLE_EQ(energies[c], machine.energy(samples.data() + c * machine.num_nodes()));
    const io::File file = io::File::open_serial(two);
    EXPECT_EQ(io::get_string_attribute(file, "/", "format"), "qvae-samples");
    EXPECT_EQ(io::get_double_attribute(file, "/", "beta"), 1.3);
    EXPECT_EQ(io::get_uint_attribute(file, "/", "chain_seed"), 8080u);
    std::filesystem::remove(one);
  }
  world.barrier();

  // Resume the 2-rank file on 2 ranks for 7 more sweeps == one run of 13 + 7 sweeps.
  SampleJob resume = job_of(0);
  resume.burn_in = 0;
  resume.sweeps = 7;
  resume.resume = read_chains(two, world, machine.num_nodes());
  EXPECT_EQ(resume.resume->total, chains);
  EXPECT_EQ(resume.resume->seed, 8080u);
  const SampleResult continued = run_sample_job(machine, resume, world, make_kokkos_sampler);
  SampleJob straight = job_of(chains);
  straight.sweeps = 16;
  const SampleResult reference = run_sample_job(machine, straight, world, make_kokkos_sampler);
  EXPECT_EQ(continued.chains.local.states, reference.chains.local.states);
  EXPECT_EQ(continued.chains.local.sweeps, reference.chains.local.sweeps);
  world.barrier();
  if (world.is_root()) std::filesystem::remove(two);
}

TEST(RbmMpi, StoredChainsAndPerChainClampsSplitByRank) {
  const par::Communicator world;
  const par::Communicator self(MPI_COMM_SELF);
  const BoltzmannMachine machine = random_machine(3, 4, 0.6, 1.0, 0.5, 4);
  const std::int64_t total = 9;
  const par::Block mine = par::my_block(total, world);
  StoredChains chains;
  chains.seed = 5;
  chains.total = total;
  chains.local = random_chains(machine.num_nodes(), 5, mine.offset, mine.count);
  for (std::int64_t c = 0; c < mine.count; ++c) chains.local.sweeps[c] = 100 + mine.offset + c;
  const std::string path = shared_path(world, "model.h5");
  write_rbm(path, machine, world, io::Provenance{}, &chains);
  const StoredChains back = read_chains(path, world, machine.num_nodes());
  EXPECT_EQ(back.local.states, chains.local.states);
  EXPECT_EQ(back.local.sweeps, chains.local.sweeps);
  if (world.is_root()) {
    const StoredChains all = read_chains(path, self, machine.num_nodes());
    EXPECT_EQ(all.local.states, random_chains(machine.num_nodes(), 5, 0, total).states);
  }

  // Clamp values, one row per chain: each rank gets its own rows.
  const std::string values = shared_path(world, "clamp.h5");
  {
    io::OutputFile out = io::OutputFile::create(values, world);
    std::vector<std::uint8_t> rows;
    for (std::int64_t c = mine.offset; c < mine.end(); ++c)
      for (int k = 0; k < 4; ++k) rows.push_back(static_cast<std::uint8_t>((c + k) % 2));
    io::write_rows(out, "values", rows.data(), mine.count, 4);
    out.commit();
  }
  const Clamp clamp = read_clamp_values(values, world, machine, {1}, total);
  EXPECT_EQ(clamp.rows, mine.count);
  for (std::int64_t r = 0; r < mine.count; ++r)
    for (int k = 0; k < 4; ++k) EXPECT_EQ(clamp.values[static_cast<std::size_t>(r * 4 + k)], (mine.offset + r + k) % 2);
  EXPECT_THROW(read_clamp_values(values, world, machine, {0, 1}, total), core::InputError);   // 8 columns expected
  EXPECT_THROW(read_clamp_values(values, world, machine, {1}, total + 1), core::InputError);  // rows
  world.barrier();
  if (world.is_root()) {
    std::filesystem::remove(path);
    std::filesystem::remove(values);
  }
}

}  // namespace
}  // namespace qvae::rbm
