#include "command_settings.hpp"

#include <cstdint>
#include <stdexcept>

#include "qvae/core/error.hpp"

namespace qvae::cli {

namespace po = boost::program_options;

namespace {

template <class T>
bool holds(const po::value_semantic* semantic) {
  return dynamic_cast<const po::typed_value<T>*>(semantic) != nullptr;
}

/// The config type of an option's value; false for types a key cannot hold (lists).
bool value_type(const po::value_semantic* semantic, core::ValueType& type) {
  if (holds<std::string>(semantic))
    type = core::ValueType::string;
  else if (holds<int>(semantic) || holds<std::int64_t>(semantic))
    type = core::ValueType::integer;
  else if (holds<std::uint64_t>(semantic))
    type = core::ValueType::unsigned_integer;
  else if (holds<double>(semantic))
    type = core::ValueType::real;
  else if (holds<bool>(semantic))
    type = core::ValueType::boolean;
  else
    return false;
  return true;
}

}  // namespace

std::string setting_text(const boost::any& value) {
  if (const auto* v = boost::any_cast<std::string>(&value)) return *v;
  if (const auto* v = boost::any_cast<int>(&value)) return std::to_string(*v);
  if (const auto* v = boost::any_cast<std::int64_t>(&value)) return std::to_string(*v);
  if (const auto* v = boost::any_cast<std::uint64_t>(&value)) return std::to_string(*v);
  if (const auto* v = boost::any_cast<double>(&value)) return core::real_text(*v);
  if (const auto* v = boost::any_cast<bool>(&value)) return *v ? "true" : "false";
  throw std::logic_error("qvae::cli::setting_text: an option type a config key cannot hold");
}

std::vector<OptionSetting> option_settings(const std::string& section, const po::options_description& options) {
  std::vector<OptionSetting> settings;
  for (const auto& option : options.options()) {
    const po::value_semantic* semantic = option->semantic().get();
    boost::any default_value;
    core::ValueType type;
    if (!value_type(semantic, type) || !semantic->apply_default(default_value)) continue;
    OptionSetting setting;
    setting.option = option->long_name();
    std::string key = setting.option;
    for (char& c : key)
      if (c == '-') c = '_';
    setting.key.name = section + "." + key;
    setting.key.type = type;
    setting.key.default_value = setting_text(default_value);
    setting.key.help = option->description() + " (qvae " + section + " --" + setting.option + ")";
    setting.is_switch = semantic->max_tokens() == 0;
    settings.push_back(std::move(setting));
  }
  return settings;
}

void apply_settings(const std::vector<OptionSetting>& settings, const po::options_description& options,
                    po::variables_map& values, core::Config& config) {
  std::vector<std::string> tokens;
  for (const OptionSetting& setting : settings) {
    const std::string& name = setting.key.name;
    const bool given = values.count(setting.option) && !values[setting.option].defaulted();
    if (given) {
      config.set(name, setting_text(values[setting.option].value()), "command line");
    } else if (config.source(name) != "default") {
      const std::string& text = config.text(name);
      if (!setting.is_switch)
        tokens.push_back("--" + setting.option + "=" + text);
      else if (text == "true")
        tokens.push_back("--" + setting.option);
    }
  }
  if (tokens.empty()) return;
  try {  // the values were validated against their keys' types already
    po::store(po::command_line_parser(tokens).options(options).run(), values);
    po::notify(values);
  } catch (const po::error& e) {
    throw core::UsageError(
        core::describe(e.what(), "applying the config keys of this command", "see `qvae config show --sources`"));
  }
}

}  // namespace qvae::cli
