// β_eff of the loopback SAPI test server (a Gibbs "QPU" at a known β) by every
// method of beta_estimation.hpp, through the whole device path: QpuSampler,
// SapiClient, the wire format and rank-0 batching.  Bounds are z-scores on the
// uncertainty each method reports, with a cap on that uncertainty so a useless
// estimate cannot pass.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <tuple>
#include <vector>

#include "dwave_test_support.hpp"
#include "qvae/dwave/beta_estimation.hpp"
#include "qvae/dwave/samplers.hpp"
#include "qvae/dwave/stein.hpp"
#include "qvae/par/communicator.hpp"

namespace qvae::dwave {
namespace {

using testing::pegasus_machine;
using testing::SapiTestServer;

QpuSettings server_qpu(const SapiTestServer& server) {
  QpuSettings settings;
  settings.client.endpoint = server.endpoint();
  settings.client.token = "test-token";
  settings.client.request_timeout_s = 30;
  settings.client.long_poll_s = 1;
  settings.client.jitter_seed = 1;
  settings.solver = "Advantage_test_pegasus_4";
  settings.job_timeout_s = 300;
  settings.reads_per_problem = 250;
  return settings;
}

BetaSettings beta_settings(BetaMethod method, std::int64_t reads) {
  BetaSettings settings;
  settings.method = method;
  settings.beta_initial = 3.0;
  settings.max_iterations = 15;
  settings.reads = reads;
  settings.rbm_chains = reads;
  settings.rbm_sweeps = 100;
  settings.seed = 4;
  return settings;
}

/// |β̂ − β| ≤ 4 reported standard errors, and the error itself below `precision`·β.
void expect_recovered(const BetaEstimate& estimate, double beta, const std::string& what, double precision = 0.15) {
  EXPECT_TRUE(estimate.converged) << what;
  EXPECT_GT(estimate.uncertainty, 0) << what;
  EXPECT_LT(estimate.uncertainty, precision * beta) << what;
  EXPECT_LT(std::fabs(estimate.beta_eff - beta), 4 * estimate.uncertainty)
      << what << ": beta_eff " << estimate.beta_eff << " +- " << estimate.uncertainty << ", true " << beta;
}

class BetaThroughSapi : public ::testing::TestWithParam<BetaMethod> {};

TEST_P(BetaThroughSapi, RecoversTheServersBeta) {
  constexpr double kBeta = 2.0;
  SapiTestServer server({"--sweeps", "40"}, kBeta);
  const par::Communicator comm;
  const rbm::BoltzmannMachine machine = pegasus_machine(4, 8, 0.3, 11);
  const auto device = make_qpu_sampler(machine, server_qpu(server), comm);
  // Variance matching needs many reads (the SE of a variance is ~ σ²·√(2/N)).
  const std::int64_t reads = GetParam() == BetaMethod::variance ? 4000 : 800;
  const BetaEstimate estimate = estimate_beta(machine, *device, beta_settings(GetParam(), reads), comm);
  // Variance matching resolves β poorly on this weakly coupled model (κ₃ of the energy is
  // small): 4000 reads give about ±50%, so only a looser precision is asked of it.
  expect_recovered(estimate, kBeta, to_string(GetParam()), GetParam() == BetaMethod::variance ? 0.75 : 0.15);
}

INSTANTIATE_TEST_SUITE_P(AllMethods, BetaThroughSapi,
                         ::testing::Values(BetaMethod::ml, BetaMethod::linear, BetaMethod::multiplicative,
                                           BetaMethod::variance, BetaMethod::pseudolikelihood, BetaMethod::stein),
                         [](const ::testing::TestParamInfo<BetaMethod>& method) {
                           return std::string(to_string(method.param));
                         });

class SteinThroughSapi : public ::testing::TestWithParam<double> {};

TEST_P(SteinThroughSapi, RecoversBetaOnTheReportedModel) {
  // The case of the report: 4 × 30 nodes on Pegasus P4, biases and weights N(0, 0.3²).
  const double beta = GetParam();
  SapiTestServer server({"--sweeps", "40"}, beta);
  const par::Communicator comm;
  const rbm::BoltzmannMachine machine = pegasus_machine(4, 30, 0.3, 7);
  const auto device = make_qpu_sampler(machine, server_qpu(server), comm);
  const BetaEstimate estimate = estimate_beta(machine, *device, beta_settings(BetaMethod::stein, 600), comm);
  expect_recovered(estimate, beta, "stein at beta " + std::to_string(beta));
}

INSTANTIATE_TEST_SUITE_P(Betas, SteinThroughSapi, ::testing::Values(1.0, 2.0, 4.0));

// The reported command line's settings exactly (server defaults, 1000 reads in one
// problem, beta0 4); slow (about two minutes per beta), so run by hand with
// --gtest_also_run_disabled_tests --gtest_filter='*ReportedCase*' (QVAE_REPORTED_BETA=b
// for one beta).  Last run: β 1 and 2 recovered; β 4 ends in "minimum on the edge of
// the search range" (exit 4) — at β = 4 the heavy-tailed scores leave no resolved well.
TEST(SteinThroughSapi, DISABLED_ReportedCaseWithCommandDefaults) {
  std::vector<double> betas = {1.0, 2.0, 4.0};
  if (const char* one = std::getenv("QVAE_REPORTED_BETA")) betas = {std::atof(one)};  // a single beta by hand
  for (const double beta : betas) {
    SapiTestServer server({}, beta);
    const par::Communicator comm;
    const rbm::BoltzmannMachine machine = pegasus_machine(4, 30, 0.3, 7);
    QpuSettings qpu = server_qpu(server);
    qpu.reads_per_problem = QpuSettings{}.reads_per_problem;
    qpu.job_timeout_s = QpuSettings{}.job_timeout_s;
    const auto device = make_qpu_sampler(machine, qpu, comm);
    BetaSettings settings;
    settings.method = BetaMethod::stein;
    const BetaEstimate estimate = estimate_beta(machine, *device, settings, comm);
    std::printf("stein, server beta %g: beta_eff %.4f +- %.4f (%d KDSD evaluations)\n", beta, estimate.beta_eff,
                estimate.uncertainty, static_cast<int>(estimate.history.size()));
    expect_recovered(estimate, beta, "reported case at beta " + std::to_string(beta));
  }
}

// Diagnosis by hand: the same 1000 reads' KDSD at the true β from the server and from the
// in-process Gibbs stand-in, with the largest single-flip ratio p(¬x)/p(x) among the reads.
TEST(SteinThroughSapi, DISABLED_ServerAndStandInAtTheTrueBeta) {
  const double beta = 2.0;
  const par::Communicator comm;
  const rbm::BoltzmannMachine machine = pegasus_machine(4, 30, 0.3, 7);
  const std::vector<SampleRequest> requests = split_reads(0, 1000, 250);
  SapiTestServer server({"--sweeps", std::getenv("QVAE_SWEEPS") ? std::getenv("QVAE_SWEEPS") : "64"}, beta);
  const auto remote = make_qpu_sampler(machine, server_qpu(server), comm);
  GibbsQpuSettings gibbs;
  gibbs.beta = beta;
  const auto local = make_gibbs_sampler(machine, gibbs, 5);
  const IsingModel programmed = program_ising(machine, 1.0, remote->ranges());
  for (IsingSampler* device : {static_cast<IsingSampler*>(local.get()), remote.get()}) {
    SampleSet all;
    all.units = machine.num_nodes();
    for (const SampleSet& set : device->sample(programmed, requests)) {
      all.rows += set.rows;
      all.states.insert(all.states.end(), set.states.begin(), set.states.end());
      all.occurrences.insert(all.occurrences.end(), set.occurrences.begin(), set.occurrences.end());
    }
    double largest = 0, mean_energy = 0;
    for (std::int64_t r = 0; r < all.rows; ++r) {
      const std::uint8_t* x = all.state(r);
      std::vector<double> field(machine.biases(), machine.biases() + machine.num_nodes());
      for (std::int64_t e = 0; e < machine.num_couplers(); ++e) {
        const auto [i, j] = machine.couplers()[static_cast<std::size_t>(e)];
        if (x[j]) field[static_cast<std::size_t>(i)] += machine.weights()[e];
        if (x[i]) field[static_cast<std::size_t>(j)] += machine.weights()[e];
      }
      for (std::int64_t i = 0; i < machine.num_nodes(); ++i)
        largest =
            std::max(largest, beta * (x[i] ? -field[static_cast<std::size_t>(i)] : field[static_cast<std::size_t>(i)]));
      mean_energy += ising_energy_of_bits(machine, rbm_to_ising(machine, 1.0), x) / static_cast<double>(all.rows);
    }
    for (const double b : {0.5, 1.0, 2.0, 4.0}) {
      const KdsdTest test = kdsd_test(machine, all, b, 0, 0, comm);
      std::printf("%s beta %.1f: KDSD %.4g +- %.3g\n", device->name().c_str(), b, test.statistic, test.std_error);
    }
    std::printf("%s: <E_I> %.4f, largest -beta dE %.3f\n", device->name().c_str(), mean_energy, largest);
  }
}

TEST(SteinThroughSapi, TooFewReadsEndWithAReasonNotABoundaryValue) {
  SapiTestServer server({"--sweeps", "20"}, 2.0);
  const par::Communicator comm;
  const rbm::BoltzmannMachine machine = pegasus_machine(4, 8, 0.3, 11);
  const auto device = make_qpu_sampler(machine, server_qpu(server), comm);
  // 3 reads once gave "beta_eff 0.0267 +- 0.0014, converged": the KDSD of a few reads
  // shrinks toward β → 0 where all its terms do.
  for (const std::int64_t reads : {3, 40}) {
    try {
      const BetaEstimate estimate = estimate_beta(machine, *device, beta_settings(BetaMethod::stein, reads), comm);
      ADD_FAILURE() << reads << " reads gave beta_eff " << estimate.beta_eff << " +- " << estimate.uncertainty;
    } catch (const core::RuntimeError& e) {
      EXPECT_EQ(core::exit_code_of(e), core::ExitCode::runtime);
      EXPECT_NE(std::string(e.what()).find("needs at least 100 device reads"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace qvae::dwave
