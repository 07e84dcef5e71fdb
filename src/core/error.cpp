#include "qvae/core/error.hpp"

namespace qvae::core {

Error::Error(ExitCode code, const std::string& message) : std::runtime_error(one_line(message)), code_(code) {}

std::string describe(const std::string& what, const std::string& where, const std::string& remedy) {
  std::string out = what;
  for (const std::string* part : {&where, &remedy}) {
    if (part->empty()) continue;
    if (!out.empty()) out += ", ";
    out += *part;
  }
  return out;
}

std::string one_line(const std::string& message) {
  std::string out;
  out.reserve(message.size());
  for (std::size_t i = 0; i < message.size(); ++i) {
    const char c = message[i];
    if (c == '\n' || c == '\r') {
      // Collapse a run of line breaks (and trailing ones) into one separator.
      while (i + 1 < message.size() && (message[i + 1] == '\n' || message[i + 1] == '\r')) ++i;
      if (i + 1 < message.size()) out += "; ";
    } else if (c == '\t') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string error_line(const std::string& message) { return "qvae: error: " + one_line(message); }

void throw_error(ExitCode code, const std::string& message) {
  switch (code) {
    case ExitCode::usage:
      throw UsageError(message);
    case ExitCode::bad_input:
      throw InputError(message);
    default:
      throw RuntimeError(message);
  }
}

ExitCode exit_code_of(const std::exception& e) noexcept {
  if (const auto* err = dynamic_cast<const Error*>(&e)) return err->code();
  return ExitCode::runtime;
}

}  // namespace qvae::core
