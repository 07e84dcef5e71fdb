// One table per settings struct: each config key is declared once, with its
// help and the member it fills.  The struct's own default values become the
// schema's defaults, so the two cannot disagree, and reading a resolved config
// back into the struct is the same table walked the other way.
//
//   ConfigBinder<TrainConfig> keys;
//   keys.value("train.lr", "Adam learning rate", &TrainConfig::lr)
//       .choice("train.split", "how events are split", {SplitKind::shuffled, ...}, &TrainConfig::split)
//       .value("rbm.lr", "...", &ModelConfig::rbm, &RbmSettings::lr);  // a member path into a nested struct
//   keys.add_keys(schema);                 // at start-up
//   TrainConfig t = keys.read(config);     // after Config::resolve
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "qvae/core/choices.hpp"
#include "qvae/core/config.hpp"
#include "qvae/core/error.hpp"

namespace qvae::core {

namespace detail {

/// How a member type is stored as a config key.
template <class T, class = void>
struct ConfigValue;

template <>
struct ConfigValue<std::string> {
  static constexpr ValueType type = ValueType::string;
  static std::string text(const std::string& value) { return value; }
  static std::string read(const Config& config, const std::string& key) { return config.get_string(key); }
};

template <>
struct ConfigValue<bool> {
  static constexpr ValueType type = ValueType::boolean;
  static std::string text(bool value) { return value ? "true" : "false"; }
  static bool read(const Config& config, const std::string& key) { return config.get_bool(key); }
};

template <>
struct ConfigValue<double> {
  static constexpr ValueType type = ValueType::real;
  static std::string text(double value) { return real_text(value); }
  static double read(const Config& config, const std::string& key) { return config.get_real(key); }
};

/// Integers of any width: the config holds 64 bits, a narrower member refuses what it cannot hold.
template <class T>
struct ConfigValue<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>> {
  static constexpr ValueType type = std::is_signed_v<T> ? ValueType::integer : ValueType::unsigned_integer;
  static std::string text(T value) { return std::to_string(value); }
  static T read(const Config& config, const std::string& key) {
    if constexpr (std::is_signed_v<T>) {
      const std::int64_t value = config.get_int(key);
      if (value < std::numeric_limits<T>::min() || value > std::numeric_limits<T>::max()) out_of_range(key, config);
      return static_cast<T>(value);
    } else {
      const std::uint64_t value = config.get_uint(key);
      if (value > std::numeric_limits<T>::max()) out_of_range(key, config);
      return static_cast<T>(value);
    }
  }
  [[noreturn]] static void out_of_range(const std::string& key, const Config& config) {
    throw UsageError(describe(key + " = " + config.text(key) + " is out of range", config.source(key),
                              "use a value in [" + std::to_string(std::numeric_limits<T>::min()) + ", " +
                                  std::to_string(std::numeric_limits<T>::max()) + "]"));
  }
};

/// The member a path of member pointers reaches: settings.*a.*b...
template <class Settings, class... Path>
decltype(auto) member(Settings& settings, Path... path) {
  return (settings.*....*path);
}

}  // namespace detail

template <class Settings>
class ConfigBinder {
 public:
  /// A string, boolean, real or integer member, reached from Settings by `path`.
  template <class... Path>
  ConfigBinder& value(std::string name, std::string help, Path... path) {
    using Field = std::remove_reference_t<decltype(detail::member(std::declval<Settings&>(), path...))>;
    using Value = detail::ConfigValue<Field>;
    bind(
        ConfigKey{name, Value::type, "", std::move(help), {}},
        [=](Settings& s) { return Value::text(detail::member(s, path...)); },
        [=](const Config& config, Settings& s) { detail::member(s, path...) = Value::read(config, name); });
    return *this;
  }

  /// An enum member: the key's choices are the names of `values` (their to_string), a braced list or an array.
  template <class Enum, class... Path>
  ConfigBinder& choice(std::string name, std::string help, std::initializer_list<Enum> values, Path... path) {
    return choice_among(std::move(name), std::move(help), std::vector<Enum>(values), path...);
  }
  template <class Enum, std::size_t N, class... Path>
  ConfigBinder& choice(std::string name, std::string help, const Enum (&values)[N], Path... path) {
    return choice_among(std::move(name), std::move(help), std::vector<Enum>(values, values + N), path...);
  }

  /// A member the key spells its own way (a list, "auto" or a number): `format(const Settings&)` writes the
  /// default's text, `parse(Settings&, text)` reads a value (and throws UsageError naming the key).
  template <class Format, class Parse>
  ConfigBinder& text(std::string name, std::string help, Format format, Parse parse) {
    bind(
        ConfigKey{name, ValueType::string, "", std::move(help), {}},
        [format](Settings& s) { return std::string(format(static_cast<const Settings&>(s))); },
        [=](const Config& config, Settings& s) { parse(s, config.get_string(name)); });
    return *this;
  }

  /// Restricts the key bound last (a string) to these values.
  ConfigBinder& among(std::vector<std::string> choices) {
    bindings_.back().key.choices = std::move(choices);
    return *this;
  }

  /// Adds every key, with the default-constructed Settings' values as defaults.
  void add_keys(ConfigSchema& schema) const {
    Settings defaults{};
    for (const Binding& binding : bindings_) {
      ConfigKey key = binding.key;
      key.default_value = binding.format(defaults);
      schema.add(std::move(key));
    }
  }

  /// Fills `settings` from `config`; a key the config's schema lacks keeps the member's value.
  void read(const Config& config, Settings& settings) const {
    for (const Binding& binding : bindings_)
      if (config.has(binding.key.name)) binding.read(config, settings);
  }
  Settings read(const Config& config) const {
    Settings settings{};
    read(config, settings);
    return settings;
  }

 private:
  template <class Enum, class... Path>
  ConfigBinder& choice_among(std::string name, std::string help, std::vector<Enum> values, Path... path) {
    bind(
        ConfigKey{name, ValueType::string, "", std::move(help), choice_names(values)},
        [=](Settings& s) { return std::string(to_string(detail::member(s, path...))); },
        [=](const Config& config, Settings& s) {
          detail::member(s, path...) = parse_choice(config.get_string(name), values, name);
        });
    return *this;
  }

  struct Binding {
    ConfigKey key;
    std::function<std::string(Settings&)> format;
    std::function<void(const Config&, Settings&)> read;
  };
  void bind(ConfigKey key, std::function<std::string(Settings&)> format,
            std::function<void(const Config&, Settings&)> read) {
    bindings_.push_back(Binding{std::move(key), std::move(format), std::move(read)});
  }
  std::vector<Binding> bindings_;
};

}  // namespace qvae::core
