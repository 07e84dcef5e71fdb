// The [run] section every command shares: seed, logging, progress display.
#pragma once

#include <cstdint>

#include "qvae/core/config.hpp"
#include "qvae/core/log.hpp"
#include "qvae/core/progress.hpp"

namespace qvae::core {

/// Adds run.seed, run.log_level, run.progress, run.progress_interval_s.
void add_run_keys(ConfigSchema& schema);

struct RunOptions {
  std::uint64_t seed = 12345;
  log::Level log_level = log::Level::info;
  ProgressMode progress = ProgressMode::automatic;
  double progress_interval_s = 5.0;

  static RunOptions from(const Config& config);
};

}  // namespace qvae::core
