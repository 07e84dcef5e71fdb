// Configuration: INI files (repeatable, later wins) then --section.key=value
// overrides, validated against a schema of known keys.
//
// Keys are "section.key".  An unknown key, a value of the wrong type or a
// value outside its choices is a UsageError (exit 2) that names the key, where
// it came from and, for unknown keys, the closest known key.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace qvae::core {

enum class ValueType { string, integer, unsigned_integer, real, boolean };
const char* value_type_name(ValueType type) noexcept;

struct ConfigKey {
  std::string name;  ///< "section.key"
  ValueType type = ValueType::string;
  std::string default_value;  ///< as written in an INI file
  std::string help;
  std::vector<std::string> choices;  ///< allowed values (strings only); empty = any
};

/// The set of keys a program knows.  Modules add their keys; the CLI builds one
/// schema for all of them so every command accepts the same config files.
class ConfigSchema {
 public:
  /// Adds a key; a duplicate name or an invalid default is a programming error (std::logic_error).
  ConfigSchema& add(ConfigKey key);
  const ConfigKey* find(const std::string& name) const;
  /// The known key nearest to `name` (edit distance, also on the part after the dot).
  std::string closest(const std::string& name) const;
  const std::vector<ConfigKey>& keys() const { return keys_; }

 private:
  std::vector<ConfigKey> keys_;
};

struct ConfigOverride {
  std::string key;
  std::string value;
};

/// A resolved configuration: every schema key has a value and a source.
class Config {
 public:
  /// Reads `files` in order, then applies `overrides`; validates every value.
  static Config resolve(const ConfigSchema& schema, const std::vector<std::string>& files,
                        const std::vector<ConfigOverride>& overrides);

  const std::string& get_string(const std::string& key) const;
  std::int64_t get_int(const std::string& key) const;
  std::uint64_t get_uint(const std::string& key) const;
  double get_real(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  /// Whether the schema this config was resolved with has `key`.
  bool has(const std::string& key) const { return entries_.count(key) != 0; }
  /// The value as stored (normalised spelling, any type), e.g. to hand it back to an option parser.
  const std::string& text(const std::string& key) const;
  /// "default", the INI file path, or "command line".
  const std::string& source(const std::string& key) const;
  /// A value the program resolved itself (e.g. an `auto` setting fixed from
  /// the data), validated like any other; `source` says who set it.
  void set(const std::string& key, const std::string& value, const std::string& source);

  /// The resolved configuration as an INI file (sections sorted, keys in schema order).
  /// With `with_sources`, each non-default value is followed by a comment naming its source.
  std::string to_ini(bool with_sources = false) const;
  /// {"section": {"key": value}} with typed JSON values.
  nlohmann::json to_json() const;

 private:
  struct Entry {
    ConfigKey key;  // a copy: a Config outlives the schema it was resolved with
    std::string value;
    std::string source;
  };
  const Entry& entry(const std::string& key, ValueType expected) const;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> order_;
};

/// The "section.key = value" pairs of an INI text written by Config::to_ini(), e.g. the config stored in an
/// output file.  Unlike a config file, a value keeps everything after its '=' ('#' included: a stored
/// train.fault_injection may name a rank); only whole lines starting with '#' or ';' are comments.
std::vector<ConfigOverride> parse_ini_text(const std::string& ini);

/// Parses a value as `type`; throws UsageError mentioning `key` and `source` if it does not parse.
/// Returns the normalised spelling (booleans become "true"/"false").
std::string normalise_value(const ConfigKey& key, const std::string& value, const std::string& source);

/// The shortest decimal that reads back as `value` ("600", "0.1", "1e-07"): how reals are written as config text.
std::string real_text(double value);

/// Edit distance (insert, delete, substitute) between two strings.
std::size_t edit_distance(const std::string& a, const std::string& b);

}  // namespace qvae::core
