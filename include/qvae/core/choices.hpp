// Enum settings by name: one way for every module to turn a config value into
// its enum.  Each enum has a `to_string(Enum)` beside it (found by
// argument-dependent lookup), so a name is spelled once.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "qvae/core/error.hpp"

namespace qvae::core {

/// The names of `values`, e.g. for a config key's choices.
template <typename Enum>
std::vector<std::string> choice_names(std::initializer_list<Enum> values) {
  std::vector<std::string> names;
  for (Enum value : values) names.push_back(to_string(value));
  return names;
}

/// The value among `values` named `text`; a UsageError naming `key` and the choices otherwise.
template <typename Enum>
Enum parse_choice(const std::string& text, std::initializer_list<Enum> values, const std::string& key) {
  std::string names;
  for (Enum value : values) {
    if (text == to_string(value)) return value;
    names += (names.empty() ? "" : ", ") + std::string(to_string(value));
  }
  throw UsageError(describe("unknown value '" + text + "' of " + key, "", "use one of: " + names));
}

}  // namespace qvae::core
