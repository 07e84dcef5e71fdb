// The SAPI wire format (docs/dwave.md): solver definitions, `qp` problem data
// and answers.  Pure functions — no network — so every byte is unit-tested.
//
//  * lin: base64 of little-endian float64, one per entry of properties.qubits
//    in that order: h, 0 for an active qubit without a bias, NaN if inactive.
//  * quad: LE float64 over properties.couplers in order, keeping only couplers
//    with both ends active: J, or 0.
//  * answers: active_variables LE int32, energies LE float64, num_occurrences
//    LE int32, solutions ⌈n_active/8⌉ bytes per row, MSB first, bit 1 ↦ +1.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "qvae/core/error.hpp"
#include "qvae/dwave/ising.hpp"

namespace qvae::dwave {

/// A malformed or inconsistent SAPI payload (bad base64, wrong lengths,
/// missing fields).  The client treats it as transient and fetches again;
/// when it persists it becomes a core::RuntimeError.
class ProtocolError : public core::RuntimeError {
 public:
  using core::RuntimeError::RuntimeError;
};

std::string base64_encode(const std::uint8_t* data, std::size_t size);
std::string base64_encode(const std::vector<std::uint8_t>& data);
/// Strict RFC 4648 decoding (padding optional); anything else is a ProtocolError naming `what`.
std::vector<std::uint8_t> base64_decode(const std::string& text, const std::string& what = "base64 field");

std::string encode_float64(const std::vector<double>& values);
std::string encode_int32(const std::vector<std::int32_t>& values);
std::vector<double> decode_float64(const std::string& text, const std::string& what);
std::vector<std::int32_t> decode_int32(const std::string& text, const std::string& what);

/// What the client uses of a solver definition (v3).
struct SolverInfo {
  std::string name;
  std::string graph_id;
  std::string status;                                           ///< "ONLINE", ...
  std::vector<std::int64_t> qubits;                             ///< working qubits; order defines lin
  std::vector<std::pair<std::int64_t, std::int64_t>> couplers;  ///< order defines quad
  std::int64_t num_qubits = 0;                                  ///< total, the length of flux_biases
  std::set<std::string> parameters;
  std::vector<std::string> problem_types;
  Ranges ranges;               ///< h_range, j_range
  std::int64_t max_reads = 0;  ///< num_reads_range upper bound (0: not given)
  std::string topology;        ///< topology.type
  std::vector<int> shape;      ///< topology.shape

  /// Whether a job may carry `parameter` (listed, or x_*).
  bool accepts_parameter(const std::string& parameter) const;
};

/// Parses one solver definition; missing or ill-typed fields are a ProtocolError.
SolverInfo parse_solver(const nlohmann::json& definition);

/// A machine placed on a solver: every node's qubit must be a working qubit and
/// every coupler a solver coupler, else a core::InputError naming the first
/// that is not and what to do.  Holds the positions lin and quad need.
class QpLayout {
 public:
  QpLayout(const rbm::BoltzmannMachine& machine, const SolverInfo& solver);

  /// lin over solver.qubits (NaN where inactive) and quad over the active
  /// couplers of `model` (h, J in the machine's node / coupler order).
  std::string lin(const IsingModel& model) const;
  std::string quad(const IsingModel& model) const;
  std::int64_t active_couplers() const { return static_cast<std::int64_t>(quad_source_.size()); }
  /// Node of a qubit, or −1 when the machine has none there.
  std::int64_t node_of_qubit(std::int64_t qubit) const;

 private:
  std::size_t qubit_count_ = 0;
  std::vector<std::int64_t> lin_node_;     ///< per solver qubit: machine node or −1
  std::vector<std::int64_t> quad_source_;  ///< per active solver coupler: machine coupler or −1
  std::map<std::int64_t, std::int64_t> node_of_qubit_;
};

/// One decoded `qp` answer: rows of spins (±1) over active_variables.
struct QpAnswer {
  std::vector<std::int32_t> active_variables;
  std::int64_t rows = 0;
  std::vector<std::int8_t> spins;             ///< rows × active_variables.size()
  std::vector<double> energies;               ///< per row
  std::vector<std::int64_t> num_occurrences;  ///< per row (1 each when absent)
};

/// Decodes an answer object; wrong lengths, unknown format or bad base64 are a ProtocolError.
QpAnswer decode_qp_answer(const nlohmann::json& answer);
/// The inverse (used by tests and golden vectors): spins rows × n_active.
nlohmann::json encode_qp_answer(const QpAnswer& answer, std::int64_t num_variables);

/// The job body of one problem (docs/dwave.md, "SAPI client").
nlohmann::json make_job(const SolverInfo& solver, const std::string& lin, const std::string& quad,
                        std::int64_t num_reads, const std::vector<double>* flux_biases, const std::string& label);

}  // namespace qvae::dwave
