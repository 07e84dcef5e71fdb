// Under mpirun -np 2: every partition-function result is the same for 1 and 2
// ranks (docs/architecture.md, "Randomness"): exact log Z, per-chain AIS and
// reverse-AIS log-weights (bit for bit), estimates, schedules, RAISE, and the
// qvae-logz file written collectively.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "logz_test_models.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/io/dataset.hpp"
#include "qvae/io/file.hpp"
#include "qvae/logz/annealing.hpp"
#include "qvae/logz/exact.hpp"
#include "qvae/logz/logz.hpp"
#include "qvae/logz/logz_file.hpp"

namespace qvae::logz {
namespace {

using testing::four_partite;

/// A path every rank agrees on (rank 0's pid in the name).
std::string shared_path(const par::Communicator& comm, const std::string& name) {
  const long pid = comm.broadcast_value(static_cast<long>(getpid()));
  return ::testing::TempDir() + "qvae_logz_mpi_" + std::to_string(pid) + "_" + name;
}

void expect_same_report(const LogzReport& one, const LogzReport& two) {
  EXPECT_EQ(one.betas, two.betas);
  ASSERT_EQ(one.ais.has_value(), two.ais.has_value());
  ASSERT_EQ(one.rais.has_value(), two.rais.has_value());
  if (one.ais) {
    EXPECT_EQ(one.ais->log_weights, two.ais->log_weights);
    EXPECT_EQ(one.ais_estimate->log_z, two.ais_estimate->log_z);
    EXPECT_EQ(one.ais_estimate->std_error, two.ais_estimate->std_error);
    EXPECT_EQ(one.ais_estimate->ess, two.ais_estimate->ess);
  }
  if (one.rais) {
    EXPECT_EQ(one.rais->log_weights, two.rais->log_weights);
    EXPECT_EQ(one.rais_estimate->log_z, two.rais_estimate->log_z);
    EXPECT_EQ(one.rais_estimate->std_error, two.rais_estimate->std_error);
  }
  EXPECT_EQ(one.log_z(), two.log_z());
}

TEST(LogzMpi, ExactLogZIsTheSameForOneRankAndMany) {
  const par::Communicator world, self(MPI_COMM_SELF);
  ASSERT_GE(world.size(), 2) << "run under mpirun -np 2 or 3";
  const rbm::BoltzmannMachine machine = four_partite(5, 1.0, 3);
  EXPECT_EQ(exact_log_z(machine, world).log_z, exact_log_z(machine, self).log_z);
  const std::vector<std::uint8_t> code{1, 0, 1, 1, 0};
  EXPECT_EQ(exact_conditional_log_z(machine, code, world).log_z, exact_conditional_log_z(machine, code, self).log_z);
}

TEST(LogzMpi, AnnealingIsTheSameForOneRankAndMany) {
  const par::Communicator world, self(MPI_COMM_SELF);
  const rbm::BoltzmannMachine machine = four_partite(5, 1.0, 4);
  LogzRequest request;
  request.method = Method::both;
  request.chains = 101;  // odd: the two ranks' blocks differ in size (and cross a 64-chain tile)
  request.temperatures = 40;
  request.sweeps_per_temperature = 2;
  request.schedule = ScheduleKind::adaptive;
  request.seed = 2024;
  expect_same_report(run_logz(machine, request, self), run_logz(machine, request, world));
  request.method = Method::rais;
  request.schedule = ScheduleKind::piecewise;
  request.reverse_start = ReverseStart::chains;
  request.equilibration_sweeps = 30;
  expect_same_report(run_logz(machine, request, self), run_logz(machine, request, world));
  // One chain: rank 1 holds none and still takes part.
  request.chains = 1;
  expect_same_report(run_logz(machine, request, self), run_logz(machine, request, world));
}

TEST(LogzMpi, RaiseAndTheLogzFileAreTheSameForOneRankAndMany) {
  const par::Communicator world, self(MPI_COMM_SELF);
  const rbm::BoltzmannMachine machine = four_partite(4, 1.0, 5);
  const std::string latents = shared_path(world, "latents.h5");
  if (world.is_root()) {
    const rbm::ChainBlock data = ExactSampler(machine).sample(1, 0, 30);
    io::OutputFile file = io::OutputFile::create(latents, self);
    io::write_rows(file, "latents", data.states.data(), data.count, data.units);
    file.commit();
  }
  world.barrier();
  LogzRequest request;
  request.method = Method::both;
  request.chains = 45;  // wraps around the 30 codes
  request.temperatures = 30;
  request.reverse_start = ReverseStart::data;
  request.latents_path = latents;
  request.seed = 8;
  // The one-rank run on rank 0 alone (its file calls are collective on `self`).
  LogzReport one;
  if (world.is_root()) one = run_logz(machine, request, self);
  const LogzReport two = run_logz(machine, request, world);
  LogzFileInfo info;
  info.rbm_path = "model.h5";
  const std::string path_two = shared_path(world, "two.h5"), path_one = shared_path(world, "one.h5");
  write_logz_file(path_two, two, request, info, io::Provenance{"test", 8, ""}, world);
  if (world.is_root()) {
    write_logz_file(path_one, one, request, info, io::Provenance{"test", 8, ""}, self);
    expect_same_report(one, two);
    ASSERT_TRUE(one.raise && two.raise);
    EXPECT_EQ(one.raise->mean_log_likelihood, two.raise->mean_log_likelihood);
    const io::File a = io::File::open_serial(path_one), b = io::File::open_serial(path_two);
    for (const char* name : {"log_weights_ais", "log_weights_rais", "schedule", "log_z", "ll_raise"})
      EXPECT_EQ(io::read_all<double>(a, name, 0), io::read_all<double>(b, name, 0)) << name;
    EXPECT_EQ(io::read_all<double>(b, "log_weights_rais", 0), two.rais->log_weights);
    std::remove(path_one.c_str());
    std::remove(path_two.c_str());
    std::remove(latents.c_str());
  }
  world.barrier();
}

}  // namespace
}  // namespace qvae::logz
