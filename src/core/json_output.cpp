#include "qvae/core/json_output.hpp"

#include <iostream>

namespace qvae::core {

void print_json_summary(const nlohmann::json& summary, bool is_root) {
  print_json_summary(summary, std::cout, is_root);
}

void print_json_summary(const nlohmann::json& summary, std::ostream& out, bool is_root) {
  if (!is_root) return;
  // nlohmann writes NaN/inf as null; replace invalid UTF-8 instead of throwing.
  out << summary.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  out.flush();
}

}  // namespace qvae::core
