// The SAPI client and the QPU sampler against tools/sapi-test-server on
// 127.0.0.1, with injected faults: 429 + Retry-After, 500, slow answers,
// malformed JSON, wrong lengths, failed problems; refusals and cancellation;
// submissions that fail after being accepted (adopted by label, never sent
// twice), capped Retry-After, redirects that are not followed.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <set>

#include "dwave_test_support.hpp"
#include "qvae/dwave/samplers.hpp"
#include "qvae/dwave/sapi_client.hpp"
#include "qvae/graph/graph.hpp"
#include "qvae/par/communicator.hpp"

namespace qvae::dwave {
namespace {

using testing::pegasus_machine;
using testing::SapiTestServer;

constexpr const char* kSolver = "Advantage_test_pegasus_4";

/// Settings for loopback tests: short timeouts and backoff.
ClientSettings test_client(const SapiTestServer& server) {
  ClientSettings settings;
  settings.endpoint = server.endpoint();
  settings.token = "test-token";
  settings.connect_timeout_s = 2;
  settings.request_timeout_s = 1.5;
  settings.long_poll_s = 1;
  settings.max_retries = 4;
  settings.backoff_initial_s = 0.05;
  settings.backoff_max_s = 0.2;
  settings.jitter_seed = 1;
  return settings;
}

QpuSettings test_qpu(const SapiTestServer& server) {
  QpuSettings settings;
  settings.client = test_client(server);
  settings.solver = kSolver;
  settings.job_timeout_s = 60;
  return settings;
}

TEST(SapiClientServer, SolverIsThePegasusGraphOfTheGraphModule) {
  SapiTestServer server({});
  SapiClient client(test_client(server));
  const std::vector<SolverInfo> solvers = client.list_solvers();
  ASSERT_EQ(solvers.size(), 1u);
  EXPECT_EQ(solvers[0].name, kSolver);
  const SolverInfo solver = client.get_solver(kSolver);
  const graph::Graph pegasus = graph::pegasus_graph(4);
  EXPECT_EQ(solver.qubits, pegasus.nodes());
  ASSERT_EQ(solver.couplers.size(), pegasus.edges().size());
  for (std::size_t k = 0; k < solver.couplers.size(); ++k) EXPECT_EQ(solver.couplers[k], pegasus.edges()[k]);
  EXPECT_EQ(solver.num_qubits, 288);
  EXPECT_EQ(solver.topology, "pegasus");
  EXPECT_EQ(client.retries(), 0);
  // 4xx other than 429: at once, with the server's message.
  try {
    client.get_solver("no_such_solver");
    ADD_FAILURE() << "unknown solver accepted";
  } catch (const core::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("404 Solver not found"), std::string::npos) << e.what();
  }
  EXPECT_EQ(client.retries(), 0);
}

TEST(SapiClientServer, SamplesMatchTheProgrammedProblemAndConditioning) {
  SapiTestServer server({"--beta", "1.0", "--sweeps", "20"});
  const par::Communicator comm;
  const rbm::BoltzmannMachine machine = pegasus_machine(4, 8, 0.5, 5);
  QpuSettings settings = test_qpu(server);
  settings.reads_per_problem = 7;
  const auto sampler = make_qpu_sampler(machine, settings, comm);
  EXPECT_EQ(sampler->ranges().h_max, 4.0);
  EXPECT_EQ(sampler->ranges().j_min, -1.0);
  const IsingModel programmed = program_ising(machine, 2.0, sampler->ranges());
  const std::vector<std::uint8_t> condition = {1, 0, 0, 1, 1, 1, 0, 1};
  const std::vector<SampleSet> sets =
      sampler->sample(programmed, {SampleRequest{0, 16, {}}, SampleRequest{16, 3, condition}});
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[0].rows, 16);
  EXPECT_EQ(sets[1].rows, 3);
  EXPECT_EQ(sets[1].pin_violations, 0);  // flux biases of ±25 pin partition 0
  for (const SampleSet& set : sets)
    for (std::int64_t r = 0; r < set.rows; ++r) {
      EXPECT_EQ(set.occurrences[r], 1);
      EXPECT_NEAR(set.energies[r], ising_energy_of_bits(machine, programmed, set.state(r)), 1e-9);
    }
  for (std::int64_t r = 0; r < 3; ++r)
    for (std::size_t k = 0; k < condition.size(); ++k)
      EXPECT_EQ(sets[1].state(r)[machine.partition_nodes(0)[k]], condition[k]);
  // Answers are keyed by read, not by problem: the same reads split differently agree.
  const std::vector<SampleSet> again = sampler->sample(programmed, {SampleRequest{0, 5, {}}, SampleRequest{5, 11, {}}});
  std::vector<std::uint8_t> joined(again[0].states);
  joined.insert(joined.end(), again[1].states.begin(), again[1].states.end());
  EXPECT_EQ(joined, sets[0].states);
}

TEST(SapiClientServer, TransientFaultsAreRetried) {
  // 429 (Retry-After 1 s) on a submission, 500s and malformed JSON on polls, a slow
  // solver GET (past the 1.5 s request timeout), a wrong-length answer; answers only
  // through GET problems/ID/.
  SapiTestServer server({"--fault", "slow:1@solvers", "--fault", "429:1@submit", "--fault", "500:2@poll", "--fault",
                         "malformed:1@poll", "--fault", "wrong-length:1@problem", "--slow-seconds", "3",
                         "--poll-answers", "no", "--sweeps", "5"});
  SapiTestServer reference({"--sweeps", "5"});
  const par::Communicator comm;
  const rbm::BoltzmannMachine machine = pegasus_machine(4, 8, 0.5, 5);
  const auto started = std::chrono::steady_clock::now();
  const auto faulty = make_qpu_sampler(machine, test_qpu(server), comm);
  const auto clean = make_qpu_sampler(machine, test_qpu(reference), comm);
  const IsingModel programmed = program_ising(machine, 1.0, faulty->ranges());
  const std::vector<SampleRequest> requests = {SampleRequest{0, 4, {}}, SampleRequest{4, 4, {}}};
  const std::vector<SampleSet> got = faulty->sample(programmed, requests);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_GE(seconds, 1.5 + 1.0);  // the timeout and Retry-After were honoured
  const std::vector<SampleSet> expected = clean->sample(programmed, requests);
  ASSERT_EQ(got.size(), 2u);
  for (std::size_t k = 0; k < 2; ++k) EXPECT_EQ(got[k].states, expected[k].states);
}

TEST(SapiClientServer, PersistentFailuresEndWithOneClearError) {
  SapiTestServer server({"--fault", "500:*@submit"});
  const par::Communicator comm;
  const rbm::BoltzmannMachine machine = pegasus_machine(4, 8, 0.5, 5);
  QpuSettings settings = test_qpu(server);
  settings.client.max_retries = 2;
  const auto sampler = make_qpu_sampler(machine, settings, comm);
  try {
    sampler->sample(rbm_to_ising(machine, 1.0), {SampleRequest{0, 2, {}}});
    ADD_FAILURE() << "persistent 500s succeeded";
  } catch (const core::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("failed after 3 attempts (last: HTTP 500)"), std::string::npos) << e.what();
  }
}

TEST(SapiClientServer, FailedProblemsAndBadTokensFailAtOnce) {
  SapiTestServer server({"--fault", "fail:1", "--token", "right-token"});
  const par::Communicator comm;
  const rbm::BoltzmannMachine machine = pegasus_machine(4, 8, 0.5, 5);
  QpuSettings settings = test_qpu(server);
  settings.client.token = "wrong-token-xyz";
  try {
    make_qpu_sampler(machine, settings, comm);
    ADD_FAILURE() << "a wrong token was accepted";
  } catch (const core::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("HTTP 401 Invalid token"), std::string::npos) << message;
    EXPECT_NE(message.find("check the token"), std::string::npos) << message;
    EXPECT_EQ(message.find("wrong-token-xyz"), std::string::npos);
  }
  settings.client.token = "right-token";
  const auto sampler = make_qpu_sampler(machine, settings, comm);
  try {
    sampler->sample(rbm_to_ising(machine, 1.0), {SampleRequest{0, 2, {}}});
    ADD_FAILURE() << "a FAILED problem succeeded";
  } catch (const core::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("the problem failed: injected failure"), std::string::npos) << e.what();
  }
}

TEST(SapiClientServer, UnreachableServiceFailsAtOnce) {
  int port = 0;
  {
    SapiTestServer server({});
    port = server.port();
  }  // stopped: nothing listens on the port now
  ClientSettings settings;
  settings.endpoint = "http://127.0.0.1:" + std::to_string(port) + "/sapi/";
  settings.token = "t";
  settings.connect_timeout_s = 2;
  SapiClient client(settings);
  try {
    client.list_solvers();
    ADD_FAILURE() << "an unreachable service answered";
  } catch (const core::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot reach the SAPI service"), std::string::npos) << e.what();
    EXPECT_EQ(core::exit_code_of(e), core::ExitCode::runtime);
  }
  EXPECT_EQ(client.retries(), 0);
}

TEST(SapiClientServer, CancelAndJobTimeout) {
  SapiTestServer server({"--solve-delay", "4"});
  const par::Communicator comm;
  const rbm::BoltzmannMachine machine = pegasus_machine(4, 8, 0.5, 5);
  SapiClient client(test_client(server));
  const SolverInfo solver = client.get_solver(kSolver);
  const QpLayout layout(machine, solver);
  const IsingModel model = rbm_to_ising(machine, 1.0);
  const std::vector<SubmitResult> submitted =
      client.submit({make_job(solver, layout.lin(model), layout.quad(model), 1, nullptr, "a @0"),
                     make_job(solver, layout.lin(model), layout.quad(model), 1, nullptr, "b @1")});
  ASSERT_EQ(submitted.size(), 2u);
  ASSERT_TRUE(submitted[0].ok && submitted[1].ok);
  const std::vector<SubmitResult> cancelled = client.cancel({submitted[0].status.id, submitted[1].status.id});
  ASSERT_EQ(cancelled.size(), 2u);
  for (const SubmitResult& result : cancelled) EXPECT_EQ(result.status.status, "CANCELLED");
  EXPECT_EQ(client.get_problem(submitted[0].status.id).status, "CANCELLED");
  // A submission error element names the server's message.
  nlohmann::json bad = make_job(solver, layout.lin(model), "", 1, nullptr, "bad");
  const std::vector<SubmitResult> rejected = client.submit({bad});
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_FALSE(rejected[0].ok);
  EXPECT_EQ(rejected[0].error_code, 400);
  // Problems not answered within job_timeout_s are cancelled and reported.
  QpuSettings settings = test_qpu(server);
  settings.job_timeout_s = 0.5;
  const auto sampler = make_qpu_sampler(machine, settings, comm);
  try {
    sampler->sample(model, {SampleRequest{0, 1, {}}});
    ADD_FAILURE() << "the job timeout did not fire";
  } catch (const core::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("unanswered"), std::string::npos) << e.what();
  }
}

/// Jobs of one small problem with the given labels.
std::vector<nlohmann::json> labelled_jobs(SapiClient& client, const rbm::BoltzmannMachine& machine,
                                          const std::vector<std::string>& labels) {
  const SolverInfo solver = client.get_solver(kSolver);
  const QpLayout layout(machine, solver);
  const IsingModel model = rbm_to_ising(machine, 1.0);
  std::vector<nlohmann::json> jobs;
  for (const std::string& label : labels)
    jobs.push_back(make_job(solver, layout.lin(model), layout.quad(model), 2, nullptr, label));
  return jobs;
}

/// Every label accepted exactly once, and `total` jobs accepted in all.
void expect_one_job_per_label(const nlohmann::json& stats, std::size_t total) {
  EXPECT_EQ(stats["accepted"].get<std::size_t>(), total) << stats.dump();
  EXPECT_EQ(stats["accepted_per_label"].size(), total) << stats.dump();
  for (const auto& item : stats["accepted_per_label"].items()) EXPECT_EQ(item.value().get<int>(), 1) << item.key();
}

TEST(SapiClientServer, AmbiguousSubmissionsAreAdoptedNeverResubmitted) {
  // Each fault accepts the POST's jobs and then fails: a 500, a dropped connection, a
  // reply slower than the 1.5 s request timeout.  The client must find the jobs by
  // label and adopt them; the server must have accepted each job exactly once.
  SapiTestServer server({"--fault", "accept-500:1@submit", "--fault", "accept-drop:1@submit", "--fault",
                         "accept-slow:1@submit", "--slow-seconds", "3", "--sweeps", "5"});
  const rbm::BoltzmannMachine machine = pegasus_machine(4, 8, 0.5, 5);
  SapiClient client(test_client(server));
  std::vector<std::string> ids;
  for (int post = 0; post < 3; ++post) {
    const std::vector<nlohmann::json> jobs =
        labelled_jobs(client, machine, {"t" + std::to_string(post) + "a @0", "t" + std::to_string(post) + "b @2"});
    const std::vector<SubmitResult> results = client.submit(jobs);
    ASSERT_EQ(results.size(), 2u);
    for (std::size_t k = 0; k < 2; ++k) {
      ASSERT_TRUE(results[k].ok) << results[k].error_msg;
      EXPECT_EQ(results[k].status.label, jobs[k]["label"].get<std::string>());
      ids.push_back(results[k].status.id);
    }
  }
  EXPECT_EQ(client.adopted(), 6);
  expect_one_job_per_label(server.stats(), 6);
  // The adopted ids are the jobs the server runs: they complete with their answers.
  for (const std::string& id : ids) {
    ProblemStatus status;
    for (int k = 0; k < 100 && !status.done(); ++k) status = client.get_problem(id);
    EXPECT_EQ(status.status, "COMPLETED") << id;
  }
}

TEST(SapiClientServer, SamplerAnswersAreRightThroughAmbiguousSubmissions) {
  SapiTestServer server({"--fault", "accept-500:1@submit", "--fault", "accept-drop:1@submit", "--sweeps", "5"});
  SapiTestServer reference({"--sweeps", "5"});
  const par::Communicator comm;
  const rbm::BoltzmannMachine machine = pegasus_machine(4, 8, 0.5, 5);
  QpuSettings settings = test_qpu(server);
  settings.batch_size = 2;
  settings.reads_per_problem = 3;
  const auto faulty = make_qpu_sampler(machine, settings, comm);
  const auto clean = make_qpu_sampler(machine, test_qpu(reference), comm);
  const IsingModel programmed = program_ising(machine, 1.0, faulty->ranges());
  const std::vector<SampleRequest> requests = {SampleRequest{0, 6, {}}, SampleRequest{6, 5, {}}};
  const std::vector<SampleSet> got = faulty->sample(programmed, requests);
  const std::vector<SampleSet> expected = clean->sample(programmed, requests);
  ASSERT_EQ(got.size(), 2u);
  for (std::size_t k = 0; k < 2; ++k) EXPECT_EQ(got[k].states, expected[k].states);
  expect_one_job_per_label(server.stats(), 4);  // 4 problems of ≤ 3 reads
}

TEST(SapiClientServer, SubmissionsRefusedWithoutAJobAreRetried) {
  // 429 and 503 create no job: the POST is simply sent again, nothing is adopted.
  SapiTestServer server({"--fault", "429:1@submit", "--fault", "503:1@submit", "--retry-after", "0"});
  const rbm::BoltzmannMachine machine = pegasus_machine(4, 8, 0.5, 5);
  SapiClient client(test_client(server));
  const std::vector<SubmitResult> results = client.submit(labelled_jobs(client, machine, {"r @0", "r @2"}));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].ok && results[1].ok);
  EXPECT_EQ(client.retries(), 2);
  EXPECT_EQ(client.adopted(), 0);
  expect_one_job_per_label(server.stats(), 2);
}

TEST(SapiClientServer, JobsTheListingDoesNotShowAreSubmittedAgain) {
  // A 500 that accepted nothing: the listing proves the job absent, so it is resubmitted once.
  SapiTestServer server({"--fault", "500:1@submit"});
  const rbm::BoltzmannMachine machine = pegasus_machine(4, 8, 0.5, 5);
  SapiClient client(test_client(server));
  const std::vector<SubmitResult> results = client.submit(labelled_jobs(client, machine, {"x @0"}));
  ASSERT_TRUE(results.at(0).ok);
  EXPECT_EQ(client.adopted(), 0);
  expect_one_job_per_label(server.stats(), 1);
  // Jobs without a unique label cannot be found again: refused before anything is sent.
  EXPECT_THROW(client.submit(labelled_jobs(client, machine, {"same", "same"})), std::logic_error);
  EXPECT_THROW(client.submit(labelled_jobs(client, machine, {""})), std::logic_error);
}

TEST(SapiClientServer, RetryAfterIsCappedAndTheTotalWaitBounded) {
  SapiTestServer server({"--fault", "429:1@solvers", "--fault", "503:*@poll", "--retry-after", "1000"});
  ClientSettings settings = test_client(server);
  settings.retry_after_max_s = 0.25;
  settings.retry_wait_max_s = 1.0;
  settings.max_retries = 100;
  SapiClient client(settings);
  std::vector<double> waits;
  client.sleep = [&](double seconds) { waits.push_back(seconds); };
  client.get_solver(kSolver);
  ASSERT_EQ(waits.size(), 1u);
  EXPECT_EQ(waits[0], 0.25);  // 1000 s asked, capped
  waits.clear();
  try {
    client.poll({"no-such-id"}, false);
    ADD_FAILURE() << "endless 503s succeeded";
  } catch (const core::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("dwave.retry_wait_max_s"), std::string::npos) << e.what();
  }
  EXPECT_EQ(waits.size(), 4u);  // 4 × 0.25 s fill the 1 s budget; the fifth wait would pass it
}

TEST(SapiClientServer, RedirectsAreNotFollowedAndTheTokenStaysHere) {
  SapiTestServer trap({});
  SapiTestServer server({"--fault", "redirect:1@solvers", "--fault", "redirect:1@submit", "--redirect-to",
                         "http://127.0.0.1:" + std::to_string(trap.port()) + "/"});
  const rbm::BoltzmannMachine machine = pegasus_machine(4, 8, 0.5, 5);
  ClientSettings settings = test_client(server);
  settings.token = "secret-token-4711";
  SapiClient client(settings);
  for (int k = 0; k < 2; ++k) {
    try {
      if (k == 0)
        client.get_solver(kSolver);
      else
        client.submit(labelled_jobs(client, machine, {"redirected @0"}));
      ADD_FAILURE() << "a redirect was followed";
    } catch (const core::RuntimeError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("redirected (HTTP 307) to http://127.0.0.1"), std::string::npos) << message;
      EXPECT_EQ(message.find("secret-token-4711"), std::string::npos) << message;
      EXPECT_EQ(core::exit_code_of(e), core::ExitCode::runtime);
    }
  }
  EXPECT_EQ(trap.stats()["requests"].get<int>(), 0);
  EXPECT_EQ(server.stats()["accepted"].get<int>(), 0);
  EXPECT_EQ(client.redact("a secret-token-4711 b secret-token-4711"), "a <token> b <token>");
}

TEST(SapiClientServer, BatchingDoesNotChangeAnswers) {
  SapiTestServer server({"--sweeps", "5"});
  const par::Communicator comm;
  const rbm::BoltzmannMachine machine = pegasus_machine(4, 8, 0.5, 5);
  std::vector<SampleRequest> requests;
  for (int k = 0; k < 9; ++k) requests.push_back(SampleRequest{3 * k, 3, {}});
  QpuSettings wide = test_qpu(server);
  QpuSettings narrow = test_qpu(server);
  narrow.batch_size = 2;
  narrow.max_in_flight = 3;
  narrow.reads_per_problem = 2;  // 18 problems of ≤ 2 reads
  const auto a = make_qpu_sampler(machine, wide, comm);
  const auto b = make_qpu_sampler(machine, narrow, comm);
  const IsingModel programmed = program_ising(machine, 1.0, a->ranges());
  const std::vector<SampleSet> x = a->sample(programmed, requests);
  const std::vector<SampleSet> y = b->sample(programmed, requests);
  ASSERT_EQ(x.size(), y.size());
  for (std::size_t k = 0; k < x.size(); ++k) EXPECT_EQ(x[k].states, y[k].states) << k;
}

}  // namespace
}  // namespace qvae::dwave
