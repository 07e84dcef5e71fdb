// Hardware yield: the qubits and couplers a real device lacks.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace qvae::graph {

struct Yield {
  std::vector<std::int64_t> missing_qubits;
  std::vector<std::pair<std::int64_t, std::int64_t>> missing_couplers;
};

/// Reads a yield file: one missing qubit ("q") or missing coupler ("u v") per
/// line, linear indices; '#' starts a comment, blank lines are skipped.
/// core::InputError (naming file and line) when it cannot be read or parsed.
Yield read_yield_file(const std::string& path);

}  // namespace qvae::graph
