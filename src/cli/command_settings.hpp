// A command's options as config keys.  Each option with a default value is the
// key [section].name (dashes become underscores): config files set it, the
// command line overrides it, and the value a command ran with is recorded in
// the resolved configuration (the provenance of its output files).  Options
// without a default name inputs and outputs, or override a module key their
// help names (e.g. --seed for run.seed), and stay on the command line.
#pragma once

#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "qvae/core/config.hpp"

namespace qvae::cli {

struct OptionSetting {
  std::string option;      ///< the long option name, e.g. "sweeps-per-temp"
  core::ConfigKey key;     ///< e.g. "logz.sweeps_per_temp"
  bool is_switch = false;  ///< a flag without a value (po::bool_switch)
};

/// The options of `options` that are settings, as keys of `section`.
std::vector<OptionSetting> option_settings(const std::string& section,
                                           const boost::program_options::options_description& options);

/// An option value as written in an INI file ("0.1", not "0.10000000000000001").
std::string setting_text(const boost::any& value);

/// Applies the configured settings to parsed options: an option not given on
/// the command line takes its key's value when a config file or override set
/// it; an option given on the command line is recorded in `config` with the
/// source "command line".  Notifies `values` again.
void apply_settings(const std::vector<OptionSetting>& settings,
                    const boost::program_options::options_description& options,
                    boost::program_options::variables_map& values, core::Config& config);

}  // namespace qvae::cli
