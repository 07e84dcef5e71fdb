#include "qvae/core/run_options.hpp"

#include "qvae/core/config_binder.hpp"
#include "qvae/core/error.hpp"

namespace qvae::core {

namespace {

const ConfigBinder<RunOptions>& run_keys() {
  static const ConfigBinder<RunOptions> keys = [] {
    ConfigBinder<RunOptions> k;
    k.value("run.seed", "Master seed; every random stream is keyed by (seed, work item)", &RunOptions::seed)
        .choice("run.log_level", "Least severe log level shown", log::kLevels, &RunOptions::log_level)
        .choice("run.progress", "Progress display: bar on a terminal, log lines otherwise (auto), or forced",
                kProgressModes, &RunOptions::progress)
        .value("run.progress_interval_s", "Seconds between progress log lines when not on a terminal",
               &RunOptions::progress_interval_s);
    return k;
  }();
  return keys;
}

}  // namespace

void add_run_keys(ConfigSchema& schema) { run_keys().add_keys(schema); }

RunOptions RunOptions::from(const Config& config) {
  const RunOptions options = run_keys().read(config);
  if (!(options.progress_interval_s > 0))
    throw UsageError(describe("run.progress_interval_s must be > 0", "", "set e.g. --run.progress_interval_s=5"));
  return options;
}

}  // namespace qvae::core
