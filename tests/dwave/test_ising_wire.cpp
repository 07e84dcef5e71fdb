// Ising mapping (docs/rbm.md, docs/dwave.md), the SAPI wire format
// (docs/dwave.md) and the [dwave] settings — exact, no network.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "dwave_test_support.hpp"
#include "qvae/core/config.hpp"
#include "qvae/dwave/ising.hpp"
#include "qvae/dwave/sapi_client.hpp"
#include "qvae/dwave/sapi_wire.hpp"
#include "qvae/dwave/settings.hpp"
#include "qvae/graph/graph.hpp"

namespace qvae::dwave {
namespace {

using testing::pegasus_machine;
using testing::random_machine;

// --- Ising mapping -----------------------------------------------------------------------

TEST(IsingMapping, RbmEnergyEqualsIsingEnergyPlusOffsetOnEveryState) {
  const rbm::BoltzmannMachine machine = random_machine(3, 4, 0.7, 0.9, 0.6, 11);  // 12 nodes: 4096 states
  const std::int64_t n = machine.num_nodes();
  for (double beta : {1.0, 2.5}) {
    const IsingModel model = rbm_to_ising(machine, beta);
    ASSERT_EQ(static_cast<std::int64_t>(model.h.size()), n);
    ASSERT_EQ(static_cast<std::int64_t>(model.J.size()), machine.num_couplers());
    std::vector<std::uint8_t> z(static_cast<std::size_t>(n));
    std::vector<std::int8_t> s(static_cast<std::size_t>(n));
    for (std::uint64_t state = 0; state < (std::uint64_t{1} << n); ++state) {
      for (std::int64_t i = 0; i < n; ++i) {
        z[i] = (state >> i) & 1;
        s[i] = z[i] ? 1 : -1;
      }
      // E_RBM(z) = β·(E_I/β(s) + C/β).
      const double rbm_energy = machine.energy(z.data());
      EXPECT_NEAR(rbm_energy, beta * (ising_energy(machine, model, s.data()) + model.offset), 1e-12) << state;
      EXPECT_NEAR(ising_energy(machine, model, s.data()), ising_energy_of_bits(machine, model, z.data()), 1e-12);
    }
  }
}

TEST(IsingMapping, CoefficientsFollowTheSpec) {
  // One coupler by hand: W = 2, b = (1, −3): J = −1/2, h = (−1/2 − 1/2, 3/2 − 1/2), C = 1 − 1/2.
  graph::PartitionedGraph graph;
  graph.topology = "test";
  graph.partitions = 2;
  graph.partition = {0, 1};
  graph.couplers = {{0, 1}};
  rbm::BoltzmannMachine machine(graph);
  machine.biases()[0] = 1;
  machine.biases()[1] = -3;
  machine.weights()[0] = 2;
  const IsingModel model = rbm_to_ising(machine);
  EXPECT_DOUBLE_EQ(model.J[0], -0.5);
  EXPECT_DOUBLE_EQ(model.h[0], -1.0);
  EXPECT_DOUBLE_EQ(model.h[1], 1.0);
  EXPECT_DOUBLE_EQ(model.offset, 0.5);
  const IsingModel scaled = rbm_to_ising(machine, 4.0);
  EXPECT_DOUBLE_EQ(scaled.J[0], -0.125);
  EXPECT_DOUBLE_EQ(scaled.h[1], 0.25);
  EXPECT_THROW(rbm_to_ising(machine, 0.0), core::UsageError);
}

TEST(IsingMapping, BackToRbmParametersIsTheInverse) {
  const rbm::BoltzmannMachine machine = random_machine(4, 3, 0.6, 1.0, 1.0, 5);
  std::vector<double> b(static_cast<std::size_t>(machine.num_nodes())),
      w(static_cast<std::size_t>(machine.num_couplers()));
  ising_to_rbm_parameters(machine, rbm_to_ising(machine), b.data(), w.data());
  for (std::size_t i = 0; i < b.size(); ++i) EXPECT_NEAR(b[i], machine.biases()[i], 1e-12);
  for (std::size_t e = 0; e < w.size(); ++e) EXPECT_NEAR(w[e], machine.weights()[e], 1e-12);
}

TEST(IsingMapping, ClippingCountsTerms) {
  IsingModel model;
  model.h = {-5, 0.5, 4.0, 7};
  model.J = {-1.5, 0.2, 1.0, 3};
  Ranges ranges{-4, 4, -1, 1};
  const ClipCount count = clip_to_ranges(model, ranges);
  EXPECT_EQ(count.h, 2);
  EXPECT_EQ(count.J, 2);
  EXPECT_EQ(model.h, (std::vector<double>{-4, 0.5, 4, 4}));
  EXPECT_EQ(model.J, (std::vector<double>{-1, 0.2, 1, 1}));
  const rbm::BoltzmannMachine machine = random_machine(2, 3, 1.0, 3.0, 3.0, 2);
  const IsingModel programmed = program_ising(machine, 1.0, Ranges{-0.5, 0.5, -0.25, 0.25});
  for (double h : programmed.h) EXPECT_LE(std::fabs(h), 0.5);
  for (double j : programmed.J) EXPECT_LE(std::fabs(j), 0.25);
}

TEST(IsingMapping, FluxBiasesMatchDwaveSystemDefaults) {
  // dwave-system: Φ ≈ −4.2132e-4 Φ0 per unit h; h = 20 → −0.00843, h = 30 → −0.01264.
  EXPECT_NEAR(h_to_flux_bias(1.0), -4.2132e-4, 2e-8);
  EXPECT_NEAR(h_to_flux_bias(20.0), -0.00843, 1e-5);
  EXPECT_NEAR(h_to_flux_bias(30.0), -0.01264, 1e-5);
  EXPECT_NEAR(flux_bias_to_h(h_to_flux_bias(-7.5)), -7.5, 1e-12);

  const rbm::BoltzmannMachine machine = pegasus_machine(4, 4, 0.5, 1);
  const std::vector<std::int64_t>& p0 = machine.partition_nodes(0);
  std::vector<std::uint8_t> bits = {1, 0, 1, 1};
  const std::vector<double> flux = condition_flux_biases(machine, 288, bits.data(), 25.0);
  ASSERT_EQ(flux.size(), 288u);
  int nonzero = 0;
  for (double f : flux) nonzero += f != 0;
  EXPECT_EQ(nonzero, 4);
  for (std::size_t k = 0; k < p0.size(); ++k) {
    const double f = flux[static_cast<std::size_t>(machine.graph().qubits[static_cast<std::size_t>(p0[k])])];
    // bit 1 ↦ h_eq = −25 (pins s = +1) ↦ a positive flux bias.
    EXPECT_NEAR(f, h_to_flux_bias(bits[k] ? -25.0 : 25.0), 1e-15);
  }
}

// --- wire format -------------------------------------------------------------------------------

TEST(SapiWire, Base64Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    const std::string text(plain);
    EXPECT_EQ(base64_encode(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), encoded);
    const std::vector<std::uint8_t> decoded = base64_decode(encoded);
    EXPECT_EQ(std::string(decoded.begin(), decoded.end()), text);
  }
  EXPECT_THROW(base64_decode("Zm9v!"), ProtocolError);
  EXPECT_THROW(base64_decode("Z"), ProtocolError);
  EXPECT_THROW(decode_float64("Zm9v", "energies"), ProtocolError);  // 3 bytes: not float64s
}

TEST(SapiWire, GoldenFiveQubitCliqueAnswer) {
  // dwave-cloud-client's mock: one all −1 solution of the 5-clique (h = 1, J = −1),
  // energy −15, 100 occurrences; the fields built from the SAPI encoding rules (docs/dwave.md).
  const nlohmann::json answer = {{"format", "qp"},
                                 {"num_variables", 5},
                                 {"active_variables", "AAAAAAEAAAACAAAAAwAAAAQAAAA="},
                                 {"energies", "AAAAAAAALsA="},
                                 {"num_occurrences", "ZAAAAA=="},
                                 {"solutions", "AA=="}};
  const QpAnswer decoded = decode_qp_answer(answer);
  EXPECT_EQ(decoded.active_variables, (std::vector<std::int32_t>{0, 1, 2, 3, 4}));
  ASSERT_EQ(decoded.rows, 1);
  EXPECT_EQ(decoded.spins, std::vector<std::int8_t>(5, -1));
  EXPECT_EQ(decoded.energies, std::vector<double>{-15.0});
  EXPECT_EQ(decoded.num_occurrences, std::vector<std::int64_t>{100});
  double energy = 0;
  for (int i = 0; i < 5; ++i) energy += 1.0 * decoded.spins[i];
  for (int i = 0; i < 5; ++i)
    for (int j = i + 1; j < 5; ++j) energy += -1.0 * decoded.spins[i] * decoded.spins[j];
  EXPECT_EQ(energy, -15.0);
  // And back: the same bytes.
  const nlohmann::json encoded = encode_qp_answer(decoded, 5);
  for (const char* key : {"active_variables", "energies", "num_occurrences", "solutions"})
    EXPECT_EQ(encoded[key], answer[key]) << key;
}

TEST(SapiWire, SolutionsArePackedMsbFirst) {
  QpAnswer answer;
  answer.active_variables = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  answer.rows = 1;
  answer.spins = {1, -1, -1, -1, -1, -1, -1, 1, 1, -1};
  answer.energies = {0.5};
  answer.num_occurrences = {1};
  const nlohmann::json encoded = encode_qp_answer(answer, 16);
  EXPECT_EQ(encoded["solutions"], "gYA=");  // 0x81 0x80
  EXPECT_EQ(decode_qp_answer(encoded).spins, answer.spins);
}

TEST(SapiWire, InconsistentAnswersAreProtocolErrors) {
  QpAnswer answer;
  answer.active_variables = {0, 1, 2};
  answer.rows = 2;
  answer.spins = {1, -1, 1, -1, -1, 1};
  answer.energies = {1, 2};
  answer.num_occurrences = {1, 3};
  nlohmann::json good = encode_qp_answer(answer, 3);
  EXPECT_EQ(decode_qp_answer(good).num_occurrences, (std::vector<std::int64_t>{1, 3}));
  nlohmann::json short_energies = good;
  short_energies["energies"] = encode_float64({1.0});
  EXPECT_THROW(decode_qp_answer(short_energies), ProtocolError);
  nlohmann::json short_counts = good;
  short_counts["num_occurrences"] = encode_int32({1});
  EXPECT_THROW(decode_qp_answer(short_counts), ProtocolError);
  nlohmann::json no_solutions = good;
  no_solutions.erase("solutions");
  EXPECT_THROW(decode_qp_answer(no_solutions), ProtocolError);
  nlohmann::json other_format = good;
  other_format["format"] = "bq";
  EXPECT_THROW(decode_qp_answer(other_format), ProtocolError);
}

SolverInfo pegasus_solver(int m) {
  const graph::Graph g = graph::pegasus_graph(m);
  nlohmann::json couplers = nlohmann::json::array();
  for (const auto& [a, b] : g.edges()) couplers.push_back({a, b});
  const nlohmann::json definition = {{"identity", {{"name", "test_solver"}, {"version", {{"graph_id", "g1"}}}}},
                                     {"status", "ONLINE"},
                                     {"properties",
                                      {{"qubits", g.nodes()},
                                       {"couplers", couplers},
                                       {"num_qubits", 24 * m * (m - 1)},
                                       {"parameters", {{"num_reads", ""}, {"flux_biases", ""}}},
                                       {"h_range", {-4, 4}},
                                       {"j_range", {-1, 1}},
                                       {"num_reads_range", {1, 10000}},
                                       {"topology", {{"type", "pegasus"}, {"shape", {m}}}}}}};
  return parse_solver(definition);
}

TEST(SapiWire, SolverDefinitionIsParsed) {
  const SolverInfo solver = pegasus_solver(4);
  EXPECT_EQ(solver.name, "test_solver");
  EXPECT_EQ(solver.graph_id, "g1");
  EXPECT_EQ(solver.qubits.size(), 264u);
  EXPECT_EQ(solver.couplers.size(), 1604u);
  EXPECT_EQ(solver.num_qubits, 288);
  EXPECT_EQ(solver.ranges.h_max, 4);
  EXPECT_EQ(solver.ranges.j_min, -1);
  EXPECT_EQ(solver.max_reads, 10000);
  EXPECT_TRUE(solver.accepts_parameter("flux_biases"));
  EXPECT_TRUE(solver.accepts_parameter("x_anything"));
  EXPECT_FALSE(solver.accepts_parameter("annealing_time"));
  EXPECT_THROW(parse_solver(nlohmann::json{{"identity", {{"name", "x"}}}}), ProtocolError);
}

TEST(SapiWire, LinAndQuadFollowSolverOrder) {
  const SolverInfo solver = pegasus_solver(4);
  // Drop the machine's first coupler: its solver coupler joins two active qubits, so quad keeps it with 0.
  const rbm::BoltzmannMachine full = pegasus_machine(4, 8, 0.5, 3);
  graph::PartitionedGraph graph = full.graph();
  graph.couplers.erase(graph.couplers.begin());
  rbm::BoltzmannMachine machine(graph);
  for (std::int64_t i = 0; i < machine.num_nodes(); ++i) machine.biases()[i] = full.biases()[i];
  for (std::int64_t e = 0; e < machine.num_couplers(); ++e) machine.weights()[e] = full.weights()[e + 1];
  const IsingModel model = rbm_to_ising(machine, 2.0);
  const QpLayout layout(machine, solver);
  const std::vector<double> lin = decode_float64(layout.lin(model), "lin");
  const std::vector<double> quad = decode_float64(layout.quad(model), "quad");
  ASSERT_EQ(lin.size(), solver.qubits.size());
  std::size_t active = 0;
  for (std::size_t k = 0; k < lin.size(); ++k) {
    const std::int64_t node = layout.node_of_qubit(solver.qubits[k]);
    if (node < 0) {
      EXPECT_TRUE(std::isnan(lin[k]));
    } else {
      ++active;
      EXPECT_EQ(lin[k], model.h[static_cast<std::size_t>(node)]);
    }
  }
  EXPECT_EQ(active, 32u);
  ASSERT_EQ(static_cast<std::int64_t>(quad.size()), machine.num_couplers() + 1);
  std::size_t k = 0, zeros = 0;
  for (const auto& [qa, qb] : solver.couplers) {
    const std::int64_t a = layout.node_of_qubit(qa), b = layout.node_of_qubit(qb);
    if (a < 0 || b < 0) continue;
    bool found = false;
    for (std::int64_t e = 0; e < machine.num_couplers(); ++e)
      if (machine.couplers()[e] == std::make_pair(std::min(a, b), std::max(a, b))) {
        EXPECT_EQ(quad[k], model.J[e]);
        found = true;
      }
    if (!found) {
      EXPECT_EQ(quad[k], 0.0);
      ++zeros;
    }
    ++k;
  }
  EXPECT_EQ(zeros, 1u);
  // A qubit the solver lacks, and a model without qubits, are refused.
  SolverInfo holes = solver;
  holes.qubits.erase(std::find(holes.qubits.begin(), holes.qubits.end(), machine.graph().qubits[5]));
  EXPECT_THROW(QpLayout(machine, holes), core::InputError);
  EXPECT_THROW(QpLayout(random_machine(2, 2, 1, 1, 1, 1), solver), core::InputError);
  // A job body carries it all.
  const std::vector<double> flux(288, 0.0);
  const nlohmann::json job = make_job(solver, layout.lin(model), layout.quad(model), 10, &flux, "x @7");
  EXPECT_EQ(job["type"], "ising");
  EXPECT_EQ(job["solver"]["version"]["graph_id"], "g1");
  EXPECT_EQ(job["data"]["format"], "qp");
  EXPECT_EQ(job["params"]["num_reads"], 10);
  EXPECT_EQ(job["params"]["answer_mode"], "raw");
  EXPECT_EQ(job["params"]["auto_scale"], false);
  EXPECT_EQ(job["params"]["flux_biases"].size(), 288u);
  EXPECT_EQ(job["params"]["flux_drift_compensation"], false);
  EXPECT_EQ(job["label"], "x @7");
}

// --- retry policy pieces ----------------------------------------------------------------------------

TEST(SapiClientPolicy, BackoffDoublesWithJitterUpToTheCap) {
  EXPECT_DOUBLE_EQ(backoff_delay(0, 0.5, 60, 0.0), 0.25);
  EXPECT_DOUBLE_EQ(backoff_delay(0, 0.5, 60, 1.0), 0.5);
  EXPECT_DOUBLE_EQ(backoff_delay(3, 0.5, 60, 1.0), 4.0);
  EXPECT_DOUBLE_EQ(backoff_delay(20, 0.5, 60, 1.0), 60.0);
  EXPECT_DOUBLE_EQ(backoff_delay(20, 0.5, 60, 0.0), 30.0);
}

TEST(SapiClientPolicy, RetryAfterSecondsAndDates) {
  const auto now = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parse_retry_after("3", now), 3.0);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), 10.0);
  EXPECT_EQ(parse_retry_after("soon", now), -1.0);
  EXPECT_EQ(parse_retry_after("", now), -1.0);
}

TEST(SapiClientPolicy, RefusesPlainHttpOffLoopbackAndMissingToken) {
  ClientSettings settings;
  settings.token = "t";
  settings.endpoint = "http://example.com/sapi/";
  EXPECT_THROW(SapiClient{settings}, core::UsageError);
  settings.endpoint = "http://127.0.0.1:1/sapi/";
  EXPECT_NO_THROW(SapiClient{settings});
  settings.token.clear();
  EXPECT_THROW(SapiClient{settings}, core::UsageError);
}

// --- settings ------------------------------------------------------------------------------------------

TEST(DwaveSettings, KeyDefaultsEqualStructDefaults) {
  core::ConfigSchema schema;
  add_dwave_keys(schema);
  const DwaveSettings from_keys = dwave_settings_from(core::Config::resolve(schema, {}, {}));
  const DwaveSettings defaults;
  EXPECT_EQ(from_keys.qpu.client.endpoint, defaults.qpu.client.endpoint);
  EXPECT_EQ(from_keys.qpu.client.connect_timeout_s, defaults.qpu.client.connect_timeout_s);
  EXPECT_EQ(from_keys.qpu.client.request_timeout_s, defaults.qpu.client.request_timeout_s);
  EXPECT_EQ(from_keys.qpu.client.long_poll_s, defaults.qpu.client.long_poll_s);
  EXPECT_EQ(from_keys.qpu.client.max_retries, defaults.qpu.client.max_retries);
  EXPECT_EQ(from_keys.qpu.client.backoff_initial_s, defaults.qpu.client.backoff_initial_s);
  EXPECT_EQ(from_keys.qpu.client.backoff_max_s, defaults.qpu.client.backoff_max_s);
  EXPECT_EQ(from_keys.qpu.batch_size, defaults.qpu.batch_size);
  EXPECT_EQ(from_keys.qpu.max_in_flight, defaults.qpu.max_in_flight);
  EXPECT_EQ(from_keys.qpu.reads_per_problem, defaults.qpu.reads_per_problem);
  EXPECT_EQ(from_keys.qpu.job_timeout_s, defaults.qpu.job_timeout_s);
  EXPECT_EQ(from_keys.qpu.flux_threshold, defaults.qpu.flux_threshold);
  EXPECT_EQ(from_keys.qpu.label, defaults.qpu.label);
  EXPECT_EQ(from_keys.anneal.sweeps, defaults.anneal.sweeps);
  EXPECT_EQ(from_keys.anneal.beta_start, defaults.anneal.beta_start);
  EXPECT_EQ(from_keys.anneal.beta_end, defaults.anneal.beta_end);
  EXPECT_EQ(from_keys.gibbs.beta, defaults.gibbs.beta);
  EXPECT_EQ(from_keys.gibbs.sweeps, defaults.gibbs.sweeps);
  EXPECT_EQ(from_keys.beta.method, defaults.beta.method);
  EXPECT_EQ(from_keys.beta.beta_initial, defaults.beta.beta_initial);
  EXPECT_EQ(from_keys.beta.max_iterations, defaults.beta.max_iterations);
  EXPECT_EQ(from_keys.beta.reads, defaults.beta.reads);
  EXPECT_EQ(from_keys.beta.stop_constant, defaults.beta.stop_constant);
  EXPECT_EQ(from_keys.beta.rbm_chains, defaults.beta.rbm_chains);
  EXPECT_EQ(from_keys.beta.rbm_sweeps, defaults.beta.rbm_sweeps);
  // Overrides apply; bad values are usage errors; a schema without the keys gives defaults.
  const DwaveSettings overridden = dwave_settings_from(core::Config::resolve(
      schema, {}, {{"dwave.solver", "Advantage_system4.1"}, {"dwave.batch_size", "5"}, {"dwave.beta_method", "ml"}}));
  EXPECT_EQ(overridden.qpu.solver, "Advantage_system4.1");
  EXPECT_EQ(overridden.qpu.batch_size, 5);
  EXPECT_EQ(overridden.beta.method, BetaMethod::ml);
  EXPECT_THROW(dwave_settings_from(core::Config::resolve(schema, {}, {{"dwave.batch_size", "21"}})), core::UsageError);
  EXPECT_THROW(dwave_settings_from(core::Config::resolve(schema, {}, {{"dwave.long_poll_s", "31"}})), core::UsageError);
  const DwaveSettings without = dwave_settings_from(core::Config::resolve(core::ConfigSchema{}, {}, {}));
  EXPECT_EQ(without.qpu.batch_size, 20);
}

TEST(DwaveSettings, TokenFromFileOrEnvironmentNeverInMessages) {
  const std::string path = "/tmp/qvae-dwave-token-" + std::to_string(::getpid());
  {
    std::ofstream out(path);
    out << "  secret-token-123\n";
  }
  ::chmod(path.c_str(), 0644);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(read_token(path), "secret-token-123");  // read, with a warning
  const std::string warning = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(warning.find("readable by group or others"), std::string::npos) << warning;
  EXPECT_NE(warning.find("chmod 600"), std::string::npos) << warning;
  EXPECT_EQ(warning.find("secret-token"), std::string::npos) << warning;
  ::chmod(path.c_str(), 0600);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(read_token(path), "secret-token-123");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");  // mode 600: no warning
  std::remove(path.c_str());
  EXPECT_THROW(read_token(path), core::UsageError);  // missing file
  ::setenv("DWAVE_API_TOKEN", " env-token ", 1);
  EXPECT_EQ(read_token(""), "env-token");
  ::setenv("DWAVE_API_TOKEN", "", 1);
  EXPECT_THROW(read_token(""), core::UsageError);
  ::unsetenv("DWAVE_API_TOKEN");
  EXPECT_THROW(read_token(""), core::UsageError);
}

}  // namespace
}  // namespace qvae::dwave
