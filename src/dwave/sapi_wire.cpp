#include "qvae/dwave/sapi_wire.hpp"

#include <cmath>
#include <cstring>
#include <limits>

namespace qvae::dwave {

// --- base64 (RFC 4648) -------------------------------------------------------------------

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

std::string base64_encode(const std::uint8_t* data, std::size_t size) {
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  for (std::size_t i = 0; i < size; i += 3) {
    const std::uint32_t a = data[i];
    const std::uint32_t b = i + 1 < size ? data[i + 1] : 0;
    const std::uint32_t c = i + 2 < size ? data[i + 2] : 0;
    const std::uint32_t triple = (a << 16) | (b << 8) | c;
    out.push_back(kAlphabet[(triple >> 18) & 63]);
    out.push_back(kAlphabet[(triple >> 12) & 63]);
    out.push_back(i + 1 < size ? kAlphabet[(triple >> 6) & 63] : '=');
    out.push_back(i + 2 < size ? kAlphabet[triple & 63] : '=');
  }
  return out;
}

std::string base64_encode(const std::vector<std::uint8_t>& data) { return base64_encode(data.data(), data.size()); }

std::vector<std::uint8_t> base64_decode(const std::string& text, const std::string& what) {
  std::size_t length = text.size();
  while (length > 0 && text[length - 1] == '=' && text.size() - length < 2) --length;
  if (length % 4 == 1)
    throw ProtocolError(
        core::describe(what + " is not valid base64 (length " + std::to_string(text.size()) + ")", "SAPI answer"));
  std::vector<std::uint8_t> out;
  out.reserve(length / 4 * 3 + 2);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < length; ++i) {
    const int v = sextet(text[i]);
    if (v < 0)
      throw ProtocolError(
          core::describe(what + " is not valid base64 (character " + std::to_string(i) + ")", "SAPI answer"));
    buffer = (buffer << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

namespace {
template <class T>
std::string encode_le(const std::vector<T>& values) {
  // The project targets little-endian hosts (x86-64, aarch64); bytes go out as stored.
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "4- or 8-byte values");
  std::vector<std::uint8_t> bytes(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return base64_encode(bytes);
}
template <class T>
std::vector<T> decode_le(const std::string& text, const std::string& what) {
  const std::vector<std::uint8_t> bytes = base64_decode(text, what);
  if (bytes.size() % sizeof(T) != 0)
    throw ProtocolError(core::describe(
        what + " has " + std::to_string(bytes.size()) + " bytes, not a multiple of " + std::to_string(sizeof(T)),
        "SAPI answer"));
  std::vector<T> values(bytes.size() / sizeof(T));
  if (!values.empty()) std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}
}  // namespace

std::string encode_float64(const std::vector<double>& values) { return encode_le(values); }
std::string encode_int32(const std::vector<std::int32_t>& values) { return encode_le(values); }
std::vector<double> decode_float64(const std::string& text, const std::string& what) {
  return decode_le<double>(text, what);
}
std::vector<std::int32_t> decode_int32(const std::string& text, const std::string& what) {
  return decode_le<std::int32_t>(text, what);
}

// --- solver definitions ----------------------------------------------------------------------

bool SolverInfo::accepts_parameter(const std::string& parameter) const {
  return parameters.count(parameter) > 0 || parameter.rfind("x_", 0) == 0;
}

namespace {
const nlohmann::json& member(const nlohmann::json& object, const char* key, const std::string& where) {
  if (!object.is_object() || !object.contains(key))
    throw ProtocolError(core::describe("solver definition lacks '" + std::string(key) + "'", where));
  return object.at(key);
}
/// json's get<int64_t>() of a float casts it (UB when out of range): integer fields must be integers.
std::int64_t integer_of(const nlohmann::json& value, const std::string& where) {
  if (!value.is_number_integer())
    throw ProtocolError(core::describe("solver field " + value.dump() + " is not an integer", where));
  return value.get<std::int64_t>();
}

Ranges ranges_from(const nlohmann::json& properties, const std::string& where) {
  Ranges ranges;
  auto pair = [&](const char* key, double& lo, double& hi) {
    if (!properties.contains(key)) return;
    const nlohmann::json& value = properties.at(key);
    if (!value.is_array() || value.size() != 2 || !value[0].is_number() || !value[1].is_number())
      throw ProtocolError(core::describe("solver property '" + std::string(key) + "' is not [lo, hi]", where));
    lo = value[0].get<double>();
    hi = value[1].get<double>();
  };
  pair("h_range", ranges.h_min, ranges.h_max);
  pair("j_range", ranges.j_min, ranges.j_max);
  return ranges;
}
}  // namespace

SolverInfo parse_solver(const nlohmann::json& definition) {
  SolverInfo info;
  try {
    const nlohmann::json& identity = member(definition, "identity", "SAPI solver definition");
    info.name = member(identity, "name", "SAPI solver definition").get<std::string>();
    const std::string where = "SAPI solver '" + info.name + "'";
    if (identity.contains("version") && identity["version"].is_object() && identity["version"].contains("graph_id"))
      info.graph_id = identity["version"]["graph_id"].get<std::string>();
    if (definition.contains("status")) info.status = definition["status"].get<std::string>();
    const nlohmann::json& properties = member(definition, "properties", where);
    for (const auto& q : member(properties, "qubits", where)) info.qubits.push_back(integer_of(q, where));
    for (const auto& c : member(properties, "couplers", where)) {
      if (!c.is_array() || c.size() != 2) throw ProtocolError(core::describe("a coupler is not a pair", where));
      info.couplers.emplace_back(integer_of(c[0], where), integer_of(c[1], where));
    }
    info.num_qubits = integer_of(member(properties, "num_qubits", where), where);
    if (properties.contains("parameters")) {
      const nlohmann::json& parameters = properties["parameters"];
      if (parameters.is_object())
        for (const auto& item : parameters.items()) info.parameters.insert(item.key());
      else
        for (const auto& p : parameters) info.parameters.insert(p.get<std::string>());
    }
    if (properties.contains("supported_problem_types"))
      info.problem_types = properties["supported_problem_types"].get<std::vector<std::string>>();
    info.ranges = ranges_from(properties, where);
    if (properties.contains("num_reads_range") && properties["num_reads_range"].is_array() &&
        properties["num_reads_range"].size() == 2)
      info.max_reads = integer_of(properties["num_reads_range"][1], where);
    if (properties.contains("topology") && properties["topology"].is_object()) {
      const nlohmann::json& topology = properties["topology"];
      if (topology.contains("type")) info.topology = topology["type"].get<std::string>();
      if (topology.contains("shape"))
        for (const auto& size : topology["shape"]) {
          const std::int64_t n = integer_of(size, where);
          if (n < 0 || n > 1 << 20) throw ProtocolError(core::describe("topology shape " + std::to_string(n), where));
          info.shape.push_back(static_cast<int>(n));
        }
    }
    for (std::int64_t q : info.qubits)
      if (q < 0 || q >= info.num_qubits)
        throw ProtocolError(core::describe(
            "qubit " + std::to_string(q) + " is outside num_qubits " + std::to_string(info.num_qubits), where));
  } catch (const nlohmann::json::exception& e) {
    throw ProtocolError(core::describe(std::string("solver definition has a field of the wrong type: ") + e.what(),
                                       "SAPI solver '" + info.name + "'"));
  }
  return info;
}

// --- placing a machine on a solver ---------------------------------------------------------------

QpLayout::QpLayout(const rbm::BoltzmannMachine& machine, const SolverInfo& solver)
    : qubit_count_(solver.qubits.size()) {
  const std::string where = "model on solver '" + solver.name + "'";
  const auto& qubits = machine.graph().qubits;
  if (qubits.empty())
    throw core::InputError(
        core::describe("the model has no hardware qubits", where, "create it on a hardware graph with qvae rbm init"));
  std::map<std::int64_t, std::size_t> position;  // solver qubit -> position in lin
  for (std::size_t k = 0; k < solver.qubits.size(); ++k) position[solver.qubits[k]] = k;
  lin_node_.assign(solver.qubits.size(), -1);
  for (std::size_t node = 0; node < qubits.size(); ++node) {
    const auto it = position.find(qubits[node]);
    if (it == position.end())
      throw core::InputError(core::describe("qubit " + std::to_string(qubits[node]) + " of node " +
                                                std::to_string(node) + " is not a working qubit of the solver",
                                            where, "select the model's nodes on the solver's graph (its yield)"));
    lin_node_[it->second] = static_cast<std::int64_t>(node);
    node_of_qubit_[qubits[node]] = static_cast<std::int64_t>(node);
  }
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> coupler_of;  // (qubit, qubit) sorted -> machine coupler
  for (std::size_t e = 0; e < machine.couplers().size(); ++e) {
    std::int64_t a = qubits[static_cast<std::size_t>(machine.couplers()[e].first)];
    std::int64_t b = qubits[static_cast<std::size_t>(machine.couplers()[e].second)];
    if (a > b) std::swap(a, b);
    coupler_of[{a, b}] = static_cast<std::int64_t>(e);
  }
  std::size_t found = 0;
  for (const auto& [qa, qb] : solver.couplers) {
    if (!node_of_qubit_.count(qa) || !node_of_qubit_.count(qb)) continue;  // not both ends active
    const auto it = coupler_of.find({std::min(qa, qb), std::max(qa, qb)});
    if (it != coupler_of.end()) ++found;
    quad_source_.push_back(it == coupler_of.end() ? -1 : it->second);
  }
  if (found != coupler_of.size()) {
    std::set<std::pair<std::int64_t, std::int64_t>> on_solver;
    for (const auto& [qa, qb] : solver.couplers) on_solver.insert({std::min(qa, qb), std::max(qa, qb)});
    for (const auto& [pair, e] : coupler_of)
      if (!on_solver.count(pair))
        throw core::InputError(core::describe("coupler (" + std::to_string(pair.first) + ", " +
                                                  std::to_string(pair.second) +
                                                  ") of the model is not a solver coupler",
                                              where, "select the model's couplers on the solver's graph (its yield)"));
  }
}

std::string QpLayout::lin(const IsingModel& model) const {
  std::vector<double> values(qubit_count_, std::numeric_limits<double>::quiet_NaN());
  for (std::size_t k = 0; k < qubit_count_; ++k)
    if (lin_node_[k] >= 0) values[k] = model.h[static_cast<std::size_t>(lin_node_[k])];
  return encode_float64(values);
}

std::string QpLayout::quad(const IsingModel& model) const {
  std::vector<double> values(quad_source_.size(), 0.0);
  for (std::size_t k = 0; k < quad_source_.size(); ++k)
    if (quad_source_[k] >= 0) values[k] = model.J[static_cast<std::size_t>(quad_source_[k])];
  return encode_float64(values);
}

std::int64_t QpLayout::node_of_qubit(std::int64_t qubit) const {
  const auto it = node_of_qubit_.find(qubit);
  return it == node_of_qubit_.end() ? -1 : it->second;
}

// --- answers -------------------------------------------------------------------------------------

QpAnswer decode_qp_answer(const nlohmann::json& answer) {
  const std::string where = "SAPI answer";
  if (!answer.is_object()) throw ProtocolError(core::describe("the answer is not a JSON object", where));
  auto text = [&](const char* key) -> std::string {
    if (!answer.contains(key) || !answer[key].is_string())
      throw ProtocolError(core::describe("the answer lacks '" + std::string(key) + "'", where));
    return answer[key].get<std::string>();
  };
  // value() would throw json's own type_error for a non-string format.
  const std::string format =
      answer.contains("format") && answer["format"].is_string() ? answer["format"].get<std::string>() : std::string();
  if (format != "qp") throw ProtocolError(core::describe("answer format '" + format + "' is not qp", where));
  QpAnswer out;
  out.active_variables = decode_int32(text("active_variables"), "active_variables");
  out.energies = decode_float64(text("energies"), "energies");
  out.rows = static_cast<std::int64_t>(out.energies.size());
  const std::vector<std::uint8_t> packed = base64_decode(text("solutions"), "solutions");
  const std::size_t n_active = out.active_variables.size();
  const std::size_t row_bytes = (n_active + 7) / 8;
  if (packed.size() != row_bytes * out.energies.size())
    throw ProtocolError(core::describe("solutions hold " + std::to_string(packed.size()) + " bytes, expected " +
                                           std::to_string(row_bytes) + " per row for " +
                                           std::to_string(out.energies.size()) + " energies",
                                       where, "the answer is truncated or inconsistent"));
  if (answer.contains("num_occurrences") && !answer["num_occurrences"].is_null()) {
    const std::vector<std::int32_t> counts = decode_int32(text("num_occurrences"), "num_occurrences");
    if (counts.size() != out.energies.size())
      throw ProtocolError(core::describe(
          std::to_string(counts.size()) + " num_occurrences for " + std::to_string(out.energies.size()) + " energies",
          where));
    for (std::int32_t c : counts) {
      if (c < 0) throw ProtocolError(core::describe("a negative num_occurrences", where));
      out.num_occurrences.push_back(c);
    }
  } else {
    out.num_occurrences.assign(out.energies.size(), 1);
  }
  if (answer.contains("num_variables") && answer["num_variables"].is_number_integer()) {
    const std::int64_t total = answer["num_variables"].get<std::int64_t>();
    for (std::int32_t v : out.active_variables)
      if (v < 0 || v >= total)
        throw ProtocolError(core::describe(
            "active variable " + std::to_string(v) + " outside num_variables " + std::to_string(total), where));
  }
  out.spins.resize(n_active * out.energies.size());
  for (std::size_t r = 0; r < out.energies.size(); ++r)
    for (std::size_t k = 0; k < n_active; ++k) {
      const std::uint8_t byte = packed[r * row_bytes + k / 8];
      out.spins[r * n_active + k] = (byte & (0x80 >> (k % 8))) ? 1 : -1;  // MSB first
    }
  return out;
}

nlohmann::json encode_qp_answer(const QpAnswer& answer, std::int64_t num_variables) {
  const std::size_t n_active = answer.active_variables.size();
  const std::size_t row_bytes = (n_active + 7) / 8;
  std::vector<std::uint8_t> packed(row_bytes * static_cast<std::size_t>(answer.rows), 0);
  for (std::size_t r = 0; r < static_cast<std::size_t>(answer.rows); ++r)
    for (std::size_t k = 0; k < n_active; ++k)
      if (answer.spins[r * n_active + k] > 0)
        packed[r * row_bytes + k / 8] = static_cast<std::uint8_t>(packed[r * row_bytes + k / 8] | (0x80 >> (k % 8)));
  std::vector<std::int32_t> counts;
  for (std::int64_t c : answer.num_occurrences) counts.push_back(static_cast<std::int32_t>(c));
  return {{"format", "qp"},
          {"num_variables", num_variables},
          {"active_variables", encode_int32(answer.active_variables)},
          {"energies", encode_float64(answer.energies)},
          {"num_occurrences", encode_int32(counts)},
          {"solutions", base64_encode(packed)}};
}

nlohmann::json make_job(const SolverInfo& solver, const std::string& lin, const std::string& quad,
                        std::int64_t num_reads, const std::vector<double>* flux_biases, const std::string& label) {
  nlohmann::json solver_ref = {{"name", solver.name}};
  if (!solver.graph_id.empty()) solver_ref["version"] = {{"graph_id", solver.graph_id}};
  nlohmann::json params = {{"num_reads", num_reads}, {"answer_mode", "raw"}, {"auto_scale", false}};
  if (flux_biases) {
    params["flux_biases"] = *flux_biases;
    params["flux_drift_compensation"] = false;
  }
  return {{"solver", solver_ref},
          {"type", "ising"},
          {"data", {{"format", "qp"}, {"lin", lin}, {"quad", quad}, {"offset", 0.0}}},
          {"params", params},
          {"label", label}};
}

}  // namespace qvae::dwave
