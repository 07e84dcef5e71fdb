#include "qvae/core/lists.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <type_traits>

#include "qvae/core/error.hpp"

namespace qvae::core {

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) items.push_back(trim(item));
  return items;
}

template <typename T>
std::optional<T> to_number(const std::string& text) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text.front()))) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  if constexpr (std::is_floating_point_v<T>) {
    const double value = std::strtod(text.c_str(), &end);
    if (*end != '\0' || errno == ERANGE || !std::isfinite(value)) return std::nullopt;
    return value;
  } else if constexpr (std::is_unsigned_v<T>) {
    if (text.front() == '-') return std::nullopt;  // strtoull would wrap it around
    const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
    if (*end != '\0' || errno == ERANGE || value > std::numeric_limits<T>::max()) return std::nullopt;
    return static_cast<T>(value);
  } else {
    const long long value = std::strtoll(text.c_str(), &end, 10);
    if (*end != '\0' || errno == ERANGE || value < std::numeric_limits<T>::min() ||
        value > std::numeric_limits<T>::max())
      return std::nullopt;
    return static_cast<T>(value);
  }
}

template std::optional<int> to_number<int>(const std::string&);
template std::optional<std::int64_t> to_number<std::int64_t>(const std::string&);
template std::optional<std::uint64_t> to_number<std::uint64_t>(const std::string&);
template std::optional<double> to_number<double>(const std::string&);

template <typename T>
std::vector<T> parse_list(const std::string& text, const std::string& what, const std::string& remedy) {
  std::vector<T> values;
  for (const std::string& item : split_list(text)) {
    const std::optional<T> value = to_number<T>(item);
    if (!value) throw UsageError(describe("'" + item + "' in '" + text + "' is not a number", what, remedy));
    values.push_back(*value);
  }
  return values;
}

template std::vector<int> parse_list<int>(const std::string&, const std::string&, const std::string&);
template std::vector<std::int64_t> parse_list<std::int64_t>(const std::string&, const std::string&, const std::string&);
template std::vector<double> parse_list<double>(const std::string&, const std::string&, const std::string&);

}  // namespace qvae::core
