#include "qvae/core/run_options.hpp"

#include "qvae/core/error.hpp"

namespace qvae::core {

void add_run_keys(ConfigSchema& schema) {
  schema.add({"run.seed",
              ValueType::unsigned_integer,
              "12345",
              "Master seed; every random stream is keyed by (seed, work item)",
              {}});
  schema.add({"run.log_level",
              ValueType::string,
              "info",
              "Least severe log level shown",
              {"trace", "debug", "info", "warn", "error", "off"}});
  schema.add({"run.progress",
              ValueType::string,
              "auto",
              "Progress display: bar on a terminal, log lines otherwise (auto), or forced",
              {"auto", "bar", "lines", "off"}});
  schema.add({"run.progress_interval_s",
              ValueType::real,
              "5",
              "Seconds between progress log lines when not on a terminal",
              {}});
}

RunOptions RunOptions::from(const Config& config) {
  RunOptions options;
  options.seed = config.get_uint("run.seed");
  options.log_level = log::parse_level(config.get_string("run.log_level"));
  options.progress = parse_progress_mode(config.get_string("run.progress"));
  options.progress_interval_s = config.get_real("run.progress_interval_s");
  if (!(options.progress_interval_s > 0))
    throw UsageError(describe("run.progress_interval_s must be > 0", "", "set e.g. --run.progress_interval_s=5"));
  return options;
}

}  // namespace qvae::core
