// SAPI payloads as the client receives them: JSON text parsed like the
// client does, then a solver definition (parse_solver), a `qp` answer
// (decode_qp_answer) and base64 fields (decode_float64/int32).  A decoded
// answer is also checked the way the QPU sampler maps it onto a machine's
// nodes (QpLayout::node_of_qubit, row sizes).  Only core::Error may come out.
#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "qvae/dwave/sapi_wire.hpp"

namespace {

/// A 4-node, 2-partition machine on qubits 0..3 of a solver with qubits 0..4.
const qvae::dwave::QpLayout& layout() {
  static const qvae::dwave::QpLayout placed = [] {
    qvae::graph::PartitionedGraph graph;
    graph.topology = "test";
    graph.partitions = 2;
    graph.partition = {0, 0, 1, 1};
    graph.qubits = {0, 1, 2, 3};
    graph.couplers = {{0, 2}, {1, 3}};
    static const qvae::rbm::BoltzmannMachine machine(graph);
    qvae::dwave::SolverInfo solver;
    solver.name = "fuzz";
    solver.qubits = {0, 1, 2, 3, 4};
    solver.couplers = {{0, 2}, {1, 3}, {2, 4}};
    solver.num_qubits = 5;
    return qvae::dwave::QpLayout(machine, solver);
  }();
  return placed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace qvae;
  const std::string text(reinterpret_cast<const char*>(data), size);
  // The client turns a parse failure into a ProtocolError; here it just ends the input.
  const nlohmann::json body = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return 0;
  fuzz::expect_clean("fuzz_sapi_json", [&] { dwave::parse_solver(body); });
  fuzz::expect_clean("fuzz_sapi_json", [&] {
    const nlohmann::json& answer = body.is_object() && body.contains("answer") ? body.at("answer") : body;
    const dwave::QpAnswer decoded = dwave::decode_qp_answer(answer);
    std::int64_t found = 0;
    for (std::int32_t qubit : decoded.active_variables) found += layout().node_of_qubit(qubit) >= 0;
    if (decoded.spins.size() != decoded.active_variables.size() * static_cast<std::size_t>(decoded.rows) ||
        decoded.num_occurrences.size() != static_cast<std::size_t>(decoded.rows)) {
      std::fprintf(stderr, "fuzz_sapi_json: FINDING: decoded answer sizes disagree\n");
      std::abort();
    }
    (void)found;
  });
  if (body.is_object())
    for (const auto& item : body.items())
      if (item.value().is_string()) {
        fuzz::expect_clean("fuzz_sapi_json",
                           [&] { dwave::decode_float64(item.value().get<std::string>(), item.key()); });
        fuzz::expect_clean("fuzz_sapi_json", [&] { dwave::decode_int32(item.value().get<std::string>(), item.key()); });
      }
  return 0;
}
