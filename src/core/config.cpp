#include "qvae/core/config.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "qvae/core/error.hpp"
#include "qvae/core/lists.hpp"

namespace po = boost::program_options;

namespace qvae::core {

const char* value_type_name(ValueType type) noexcept {
  switch (type) {
    case ValueType::string:
      return "string";
    case ValueType::integer:
      return "integer";
    case ValueType::unsigned_integer:
      return "non-negative integer";
    case ValueType::real:
      return "real number";
    case ValueType::boolean:
      return "boolean (true/false)";
  }
  return "?";
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0u : 1u)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

namespace {

bool parse_bool(const std::string& text, bool& out) {
  static const std::set<std::string> yes{"true", "1", "yes", "on"}, no{"false", "0", "no", "off"};
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (yes.count(lower)) return out = true, true;
  if (no.count(lower)) return out = false, true;
  return false;
}

bool valid_utf8(const std::string& text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (length == 0 || i + length > text.size()) return false;
    std::uint32_t code = length == 1 ? c : c & (0x7F >> length);
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next >> 6) != 0x2) return false;
      code = (code << 6) | (next & 0x3F);
    }
    // Overlong forms, surrogates and values beyond U+10FFFF are not UTF-8.
    static const std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < smallest[length] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) return false;
    i += length;
  }
  return true;
}

std::string quote_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

std::string normalise_value(const ConfigKey& key, const std::string& value, const std::string& source) {
  auto fail = [&](const std::string& expected) -> UsageError {
    return UsageError(
        describe("config key '" + key.name + "' has value '" + value + "'", "from " + source, "expected " + expected));
  };
  const char* begin = value.c_str();
  char* end = nullptr;
  errno = 0;
  switch (key.type) {
    case ValueType::string:
      // Values reach JSON output (--json, config show), which holds UTF-8 only.
      if (!valid_utf8(value)) throw fail("UTF-8 text");
      if (!key.choices.empty() && std::find(key.choices.begin(), key.choices.end(), value) == key.choices.end())
        throw fail("one of " + quote_list(key.choices));
      return value;
    case ValueType::integer:
      std::strtoll(begin, &end, 10);
      if (value.empty() || *end != '\0' || errno == ERANGE) throw fail("an integer");
      return value;
    case ValueType::unsigned_integer:
      if (value.empty() || value[0] == '-') throw fail("a non-negative integer");
      std::strtoull(begin, &end, 10);
      if (*end != '\0' || errno == ERANGE) throw fail("a non-negative integer");
      return value;
    case ValueType::real: {
      const double v = std::strtod(begin, &end);
      if (value.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v)) throw fail("a finite real number");
      return value;
    }
    case ValueType::boolean: {
      bool b = false;
      if (!parse_bool(value, b)) throw fail("true or false");
      return b ? "true" : "false";
    }
  }
  throw fail("a valid value");
}

ConfigSchema& ConfigSchema::add(ConfigKey key) {
  if (key.name.find('.') == std::string::npos)
    throw std::logic_error("qvae::core::ConfigSchema::add: key '" + key.name + "' has no section");
  if (find(key.name)) throw std::logic_error("qvae::core::ConfigSchema::add: duplicate key '" + key.name + "'");
  try {
    normalise_value(key, key.default_value, "the built-in default");
  } catch (const UsageError& e) {
    throw std::logic_error(std::string("qvae::core::ConfigSchema::add: bad default: ") + e.what());  // a bug
  }
  keys_.push_back(std::move(key));
  return *this;
}

const ConfigKey* ConfigSchema::find(const std::string& name) const {
  for (const auto& key : keys_)
    if (key.name == name) return &key;
  return nullptr;
}

std::string ConfigSchema::closest(const std::string& name) const {
  std::string best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  const bool has_section = name.find('.') != std::string::npos;
  for (const auto& key : keys_) {
    std::size_t d = edit_distance(name, key.name);
    if (!has_section) d = std::min(d, edit_distance(name, key.name.substr(key.name.find('.') + 1)));
    if (d < best_distance) best_distance = d, best = key.name;
  }
  return best;
}

namespace {

po::options_description describe_schema(const ConfigSchema& schema) {
  po::options_description desc;
  for (const auto& key : schema.keys()) desc.add_options()(key.name.c_str(), po::value<std::string>());
  return desc;
}

UsageError unknown_key(const ConfigSchema& schema, const std::string& name, const std::string& source) {
  const std::string hint = schema.keys().empty()
                               ? std::string("no config keys are defined")
                               : "did you mean '" + schema.closest(name) + "'? (`qvae config show` lists every key)";
  return UsageError(describe("unknown config key '" + name + "'", "from " + source, hint));
}

}  // namespace

Config Config::resolve(const ConfigSchema& schema, const std::vector<std::string>& files,
                       const std::vector<ConfigOverride>& overrides) {
  Config config;
  for (const auto& key : schema.keys()) {
    config.entries_[key.name] = Entry{key, normalise_value(key, key.default_value, "the built-in default"), "default"};
    config.order_.push_back(key.name);
  }
  auto set = [&](const std::string& name, const std::string& value, const std::string& source) {
    const ConfigKey* key = schema.find(name);
    if (!key) throw unknown_key(schema, name, source);
    config.entries_[name] = Entry{*key, normalise_value(*key, value, source), source};
  };

  const po::options_description desc = describe_schema(schema);
  for (const auto& path : files) {
    std::ifstream in(path);
    if (!in) throw UsageError(describe("cannot read config file '" + path + "'", "--config", "check the path"));
    po::parsed_options parsed(&desc);
    try {
      parsed = po::parse_config_file(in, desc, /*allow_unregistered=*/true);
    } catch (const po::error& e) {
      throw UsageError(describe("config file '" + path + "' is not valid INI: " + e.what(), "",
                                "write 'key = value' lines under [section] headers"));
    }
    for (const auto& option : parsed.options) {
      if (option.value.size() != 1)
        throw UsageError(describe("config key '" + option.string_key + "' has no single value", "in " + path));
      set(option.string_key, option.value.front(), path);
    }
  }
  for (const auto& o : overrides) set(o.key, o.value, "command line");
  return config;
}

void Config::set(const std::string& key, const std::string& value, const std::string& source) {
  const auto it = entries_.find(key);
  if (it == entries_.end()) throw std::logic_error("qvae::core::Config::set: key '" + key + "' is not in the schema");
  it->second.value = normalise_value(it->second.key, value, source);
  it->second.source = source;
}

const Config::Entry& Config::entry(const std::string& key, ValueType expected) const {
  const auto it = entries_.find(key);
  if (it == entries_.end()) throw std::logic_error("qvae::core::Config: key '" + key + "' is not in the schema");
  if (it->second.key.type != expected)
    throw std::logic_error("qvae::core::Config: key '" + key + "' is a " + value_type_name(it->second.key.type) +
                           ", read as " + value_type_name(expected));
  return it->second;
}

const std::string& Config::get_string(const std::string& key) const { return entry(key, ValueType::string).value; }
std::int64_t Config::get_int(const std::string& key) const {
  return std::strtoll(entry(key, ValueType::integer).value.c_str(), nullptr, 10);
}
std::uint64_t Config::get_uint(const std::string& key) const {
  return std::strtoull(entry(key, ValueType::unsigned_integer).value.c_str(), nullptr, 10);
}
double Config::get_real(const std::string& key) const {
  return std::strtod(entry(key, ValueType::real).value.c_str(), nullptr);
}
bool Config::get_bool(const std::string& key) const { return entry(key, ValueType::boolean).value == "true"; }

const std::string& Config::text(const std::string& key) const {
  const auto it = entries_.find(key);
  if (it == entries_.end()) throw std::logic_error("qvae::core::Config: key '" + key + "' is not in the schema");
  return it->second.value;
}

const std::string& Config::source(const std::string& key) const {
  const auto it = entries_.find(key);
  if (it == entries_.end()) throw std::logic_error("qvae::core::Config: key '" + key + "' is not in the schema");
  return it->second.source;
}

std::string Config::to_ini(bool with_sources) const {
  std::map<std::string, std::vector<const Entry*>> sections;
  for (const auto& name : order_) sections[name.substr(0, name.find('.'))].push_back(&entries_.at(name));
  std::string out;
  for (const auto& [section, list] : sections) {
    if (!out.empty()) out += '\n';
    out += "[" + section + "]\n";
    for (const Entry* e : list) {
      out += e->key.name.substr(section.size() + 1) + " = " + e->value;
      if (with_sources && e->source != "default") out += "  # " + e->source;
      out += '\n';
    }
  }
  return out;
}

nlohmann::json Config::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& name : order_) {
    const Entry& e = entries_.at(name);
    const std::string section = name.substr(0, name.find('.'));
    const std::string key = name.substr(section.size() + 1);
    nlohmann::json& slot = out[section][key];
    switch (e.key.type) {
      case ValueType::string:
        slot = e.value;
        break;
      case ValueType::integer:
        slot = get_int(name);
        break;
      case ValueType::unsigned_integer:
        slot = get_uint(name);
        break;
      case ValueType::real:
        slot = get_real(name);
        break;
      case ValueType::boolean:
        slot = get_bool(name);
        break;
    }
  }
  return out;
}

std::vector<ConfigOverride> parse_ini_text(const std::string& ini) {
  std::vector<ConfigOverride> pairs;
  std::istringstream in(ini);
  std::string line, section;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    const auto equals = line.find('=');
    if (equals == std::string::npos) continue;
    pairs.push_back({section + "." + trim(line.substr(0, equals)), trim(line.substr(equals + 1))});
  }
  return pairs;
}

std::string real_text(double value) {
  char text[32];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {  // "600", not "6e+02"
    std::snprintf(text, sizeof text, "%.0f", value);
    return text;
  }
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, value);
    if (std::strtod(text, nullptr) == value) break;
  }
  return text;
}

}  // namespace qvae::core
