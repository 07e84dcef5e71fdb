// β_eff of the loopback SAPI test server (a Gibbs "QPU" at a known β) by every
// method of beta_estimation.hpp, through the whole device path: QpuSampler,
// SapiClient, the wire format and rank-0 batching.  Bounds are z-scores on the
// uncertainty each method reports, with a cap on that uncertainty so a useless
// estimate cannot pass.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "dwave_test_support.hpp"
#include "qvae/dwave/beta_estimation.hpp"
#include "qvae/dwave/samplers.hpp"
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

/// |β̂ − β| ≤ 4 reported standard errors, and the error itself below 15% of β.
void expect_recovered(const BetaEstimate& estimate, double beta, const std::string& what) {
  EXPECT_TRUE(estimate.converged) << what;
  EXPECT_GT(estimate.uncertainty, 0) << what;
  EXPECT_LT(estimate.uncertainty, 0.15 * beta) << what;
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
  expect_recovered(estimate, kBeta, to_string(GetParam()));
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

TEST(SteinThroughSapi, TooFewReadsEndWithAReasonNotABoundaryValue) {
  SapiTestServer server({"--sweeps", "20"}, 2.0);
  const par::Communicator comm;
  const rbm::BoltzmannMachine machine = pegasus_machine(4, 8, 0.3, 11);
  const auto device = make_qpu_sampler(machine, server_qpu(server), comm);
  try {
    const BetaEstimate estimate = estimate_beta(machine, *device, beta_settings(BetaMethod::stein, 3), comm);
    ADD_FAILURE() << "3 reads gave beta_eff " << estimate.beta_eff << " +- " << estimate.uncertainty;
  } catch (const core::RuntimeError& e) {
    EXPECT_EQ(core::exit_code_of(e), core::ExitCode::runtime);
    EXPECT_NE(std::string(e.what()).find("stein"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qvae::dwave
