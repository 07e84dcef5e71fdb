// Comma-separated lists in settings and options ("32,64,128", "1e3, 1e4"):
// one splitter and one number parser for every module.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace qvae::core {

/// `text` without leading and trailing blanks (spaces, tabs, CR, LF).
std::string trim(const std::string& text);

/// The comma-separated items of `text`, each trimmed; "" gives no item, an
/// inner empty item ("a,,b") is kept as "", a trailing comma adds nothing.
std::vector<std::string> split_list(const std::string& text);

/// `text` as one whole number of type T (int, std::int64_t, std::uint64_t or
/// double; a double must be finite, an integer must fit T); nullopt otherwise.
template <typename T>
std::optional<T> to_number(const std::string& text);

/// The items of `text` as numbers (int, std::int64_t or double; doubles must be
/// finite).  An item that is not one whole number is a UsageError naming the
/// item, `what` (e.g. "qvae evaluate --energy-edges") and `remedy`.
template <typename T>
std::vector<T> parse_list(const std::string& text, const std::string& what, const std::string& remedy);

}  // namespace qvae::core
