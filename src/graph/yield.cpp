// Reading a hardware yield list (missing qubits and couplers).
#include "qvae/graph/yield.hpp"

#include <fstream>
#include <sstream>

#include "qvae/core/error.hpp"

namespace qvae::graph {

Yield read_yield_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw core::InputError(core::describe("cannot read yield file '" + path + "'", "--missing-qubits",
                                          "give an existing text file with one qubit or one 'u v' coupler per line"));
  Yield yield;
  std::string line;
  for (int line_number = 1; std::getline(in, line); ++line_number) {
    const std::string text = line.substr(0, line.find('#'));
    std::istringstream fields(text);
    std::vector<std::int64_t> labels;
    std::string token;
    while (fields >> token) {
      std::size_t used = 0;
      long long value = -1;
      try {
        value = std::stoll(token, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != token.size() || value < 0)
        throw core::InputError(core::describe("'" + token + "' is not a qubit index",
                                              path + ":" + std::to_string(line_number),
                                              "write non-negative linear indices"));
      labels.push_back(value);
    }
    if (labels.size() == 1)
      yield.missing_qubits.push_back(labels[0]);
    else if (labels.size() == 2)
      yield.missing_couplers.emplace_back(labels[0], labels[1]);
    else if (!labels.empty())
      throw core::InputError(core::describe("a line holds " + std::to_string(labels.size()) + " numbers",
                                            path + ":" + std::to_string(line_number),
                                            "write one qubit 'q' or one coupler 'u v' per line"));
  }
  return yield;
}

}  // namespace qvae::graph
