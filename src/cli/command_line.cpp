#include <iostream>

#include "cli.hpp"
#include "qvae/core/error.hpp"
#include "qvae/par/collective_error.hpp"

namespace qvae::cli {

CommandLine::CommandLine(std::string command, std::string usage, std::string description)
    : command_(std::move(command)), usage_(std::move(usage)), description_(std::move(description)),
      options_("Options of qvae " + command_) {}

void CommandLine::print_help() const {
  std::cout << "usage: " << usage_ << "\n\n" << description_ << "\n\n" << options_ << "\n"
            << "Common options:\n"
            << "  --config FILE          INI file (repeatable; later files win)\n"
            << "  --SECTION.KEY=VALUE    override one config key (see `qvae config show`)\n"
            << "  --json                 print one JSON summary object on stdout\n"
            << "  -h [ --help ]          show this help\n";
}

namespace {

/// The option names a user could have meant: this command's and the common ones.
std::string closest_option(const po::options_description& options, const std::string& given) {
  std::vector<std::string> names{"config", "json", "help"};
  for (const auto& option : options.options()) names.push_back(option->long_name());
  std::string best;
  std::size_t best_distance = std::string::npos;
  for (const auto& name : names) {
    const std::size_t d = core::edit_distance(given, name);
    if (d < best_distance) best_distance = d, best = name;
  }
  return best;
}

}  // namespace

bool CommandLine::parse(Context& context) {
  bool help = false;
  par::run_agreed(context.world, [&] {
    po::options_description common;
    common.add_options()("config", po::value<std::vector<std::string>>()->composing(), "")(
        "json", po::bool_switch(&json_), "")("help,h", po::bool_switch(&help), "");
    po::options_description all;
    all.add(options_).add(common);

    po::parsed_options parsed(&all);
    try {
      parsed = po::command_line_parser(context.args).options(all).positional(positional_).allow_unregistered().run();
    } catch (const po::error& e) {
      throw core::UsageError(core::describe(e.what(), "qvae " + command_, "see `qvae " + command_ + " --help`"));
    }
    std::vector<core::ConfigOverride> overrides;
    for (const auto& option : parsed.options) {
      if (!option.unregistered) continue;
      const std::string& key = option.string_key;
      const std::string token = option.original_tokens.empty() ? key : option.original_tokens.front();
      if (key.find('.') != std::string::npos) {
        if (option.value.size() != 1)
          throw core::UsageError(core::describe("config override '" + token + "' has no value", "qvae " + command_,
                                                "write --" + key + "=VALUE"));
        overrides.push_back({key, option.value.front()});
      } else if (token.rfind("-", 0) == 0) {
        throw core::UsageError(core::describe("unknown option '" + token + "'", "qvae " + command_,
                                              "did you mean --" + closest_option(options_, key) + "?"));
      } else {
        throw core::UsageError(core::describe("unexpected argument '" + token + "'", "qvae " + command_,
                                              "see `qvae " + command_ + " --help`"));
      }
    }
    try {
      po::store(parsed, values_);
      po::notify(values_);
    } catch (const po::error& e) {
      throw core::UsageError(core::describe(e.what(), "qvae " + command_, "see `qvae " + command_ + " --help`"));
    }
    if (help) return;
    std::vector<std::string> files;
    if (values_.count("config")) files = values_["config"].as<std::vector<std::string>>();
    config_ = core::Config::resolve(schema(), files, overrides);
    run_ = core::RunOptions::from(config_);
    core::log::set_level(run_.log_level);
  });
  if (help) {
    if (context.world.is_root()) print_help();
    return false;
  }
  return true;
}

}  // namespace qvae::cli
