// Progress of long work, on rank 0 only.
//
// On an interactive terminal: a bar redrawn in place with rate and ETA.
// Otherwise (batch jobs, pipes): one log line every `interval_s` seconds, so
// Slurm output files stay readable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace qvae::core {

enum class ProgressMode { automatic, bar, lines, off };
/// "auto" | "bar" | "lines" | "off"; throws UsageError otherwise.
ProgressMode parse_progress_mode(const std::string& text);
const char* to_string(ProgressMode mode) noexcept;
inline constexpr ProgressMode kProgressModes[] = {ProgressMode::automatic, ProgressMode::bar, ProgressMode::lines,
                                                  ProgressMode::off};

class Progress {
 public:
  /// `total` items (0 = unknown), `unit` e.g. "showers".  `enabled` is false on
  /// ranks other than 0, so callers may call update() on every rank.
  Progress(std::string label, std::uint64_t total, std::string unit, bool enabled = true,
           ProgressMode mode = ProgressMode::automatic, double interval_s = 5.0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Sets the number of items done so far (monotone).
  void update(std::uint64_t done);
  void advance(std::uint64_t items = 1) { update(done_ + items); }
  /// Prints the final state once (also called by the destructor).
  void finish();

  double elapsed_s() const;
  /// The status text: "label: done/total unit (pct%) rate unit/s ETA mm:ss".
  std::string status() const;

 private:
  void render(bool final_line);
  std::string label_, unit_;
  std::uint64_t total_, done_ = 0;
  bool enabled_, finished_ = false, as_bar_ = false;
  double interval_s_;
  std::chrono::steady_clock::time_point start_, last_print_;
};

/// "mm:ss" or "h:mm:ss".
std::string format_duration(double seconds);

}  // namespace qvae::core
