#include "qvae/core/lists.hpp"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "qvae/core/error.hpp"

namespace qvae::core {

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) items.push_back(trim(item));
  return items;
}

namespace {

bool parse_item(const std::string& item, double& out) {
  char* end = nullptr;
  errno = 0;
  out = std::strtod(item.c_str(), &end);
  return !item.empty() && *end == '\0' && errno != ERANGE && std::isfinite(out);
}

template <typename Integer>
bool parse_item(const std::string& item, Integer& out) {
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(item.c_str(), &end, 10);
  if (item.empty() || *end != '\0' || errno == ERANGE || value < std::numeric_limits<Integer>::min() ||
      value > std::numeric_limits<Integer>::max())
    return false;
  out = static_cast<Integer>(value);
  return true;
}

}  // namespace

template <typename T>
std::vector<T> parse_list(const std::string& text, const std::string& what, const std::string& remedy) {
  std::vector<T> values;
  for (const std::string& item : split_list(text)) {
    T value{};
    if (!parse_item(item, value))
      throw UsageError(describe("'" + item + "' in '" + text + "' is not a number", what, remedy));
    values.push_back(value);
  }
  return values;
}

template std::vector<int> parse_list<int>(const std::string&, const std::string&, const std::string&);
template std::vector<std::int64_t> parse_list<std::int64_t>(const std::string&, const std::string&, const std::string&);
template std::vector<double> parse_list<double>(const std::string&, const std::string&, const std::string&);

}  // namespace qvae::core
