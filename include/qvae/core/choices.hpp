// Enum settings by name: one way for every module to turn a config value into
// its enum.  Each enum has a `to_string(Enum)` beside it (found by
// argument-dependent lookup), so a name is spelled once.
#pragma once

#include <initializer_list>
#include <iterator>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "qvae/core/error.hpp"

namespace qvae::core {

/// The enum type a range of values holds.
template <typename Values>
using ChoiceOf = std::decay_t<decltype(*std::begin(std::declval<const Values&>()))>;

/// The names of `values` (an array, a vector or a braced list), e.g. for a config key's choices.
template <typename Values>
std::vector<std::string> choice_names(const Values& values) {
  std::vector<std::string> names;
  for (const auto& value : values) names.push_back(to_string(value));
  return names;
}
template <typename Enum>
std::vector<std::string> choice_names(std::initializer_list<Enum> values) {
  return choice_names<std::initializer_list<Enum>>(values);
}

/// The value among `values` named `text`; a UsageError naming `key` and the choices otherwise.
template <typename Values>
ChoiceOf<Values> parse_choice(const std::string& text, const Values& values, const std::string& key) {
  std::string names;
  for (const auto& value : values) {
    if (text == to_string(value)) return value;
    names += (names.empty() ? "" : ", ") + std::string(to_string(value));
  }
  throw UsageError(describe("unknown value '" + text + "' of " + key, "", "use one of: " + names));
}
template <typename Enum>
Enum parse_choice(const std::string& text, std::initializer_list<Enum> values, const std::string& key) {
  return parse_choice<std::initializer_list<Enum>>(text, values, key);
}

}  // namespace qvae::core
