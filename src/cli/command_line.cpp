#include <iostream>

#include "cli.hpp"
#include "command_settings.hpp"
#include "qvae/core/error.hpp"
#include "qvae/par/collective_error.hpp"

namespace qvae::cli {

CommandLine::CommandLine(std::string command, std::string usage, std::string description)
    : command_(std::move(command)),
      usage_(std::move(usage)),
      description_(std::move(description)),
      options_("Options of qvae " + command_) {}

void CommandLine::print_help() const {
  std::cout << "usage: " << usage_ << "\n\n"
            << description_ << "\n\n"
            << options_ << "\n"
            << "Common options:\n"
            << "  --config FILE          INI file (repeatable; later files win)\n"
            << "  --SECTION.KEY=VALUE    override one config key (see `qvae config show`)\n"

            << "  --json                 print one JSON summary object on stdout\n"
            << "  -h [ --help ]          show this help\n";
  if (const Command* command = find_command(command_); command && command->declare_options)
    std::cout << "\nEach option with a default is also the config key " << command->section()
              << ".NAME (dashes as\nunderscores), which --config files may set; the command line wins.\n";
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
    if (const Command* command = find_command(command_); command && command->declare_options)
      apply_settings(option_settings(command->section(), options_), options_, values_, config_);
    run_ = core::RunOptions::from(config_);
    core::log::set_level(run_.log_level);
  });
  if (help) {
    if (context.world.is_root()) print_help();
    return false;
  }
  return true;
}

PhaseProgress::PhaseProgress(const CommandLine& cli, const par::Communicator& comm, std::string label, std::string unit)
    : cli_(cli), is_root_(comm.is_root()), label_(std::move(label)), unit_(std::move(unit)) {}

void PhaseProgress::operator()(const std::string& phase, std::int64_t done, std::int64_t total) {
  if (!bar_ || phase != phase_) {
    finish();
    phase_ = phase;
    bar_ = std::make_unique<core::Progress>(phase.empty() ? label_ : label_ + " " + phase,
                                            static_cast<std::uint64_t>(total), unit_, is_root_, cli_.run().progress,
                                            cli_.run().progress_interval_s);
  }
  bar_->update(static_cast<std::uint64_t>(done));
}

void PhaseProgress::finish() {
  if (bar_) bar_->finish();
}

}  // namespace qvae::cli
