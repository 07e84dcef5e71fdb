#include "qvae/core/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <sstream>

#include "qvae/core/choices.hpp"
#include "qvae/core/error.hpp"
#include "qvae/core/log.hpp"

namespace qvae::core {

const char* to_string(ProgressMode mode) noexcept {
  switch (mode) {
    case ProgressMode::automatic:
      return "auto";
    case ProgressMode::bar:
      return "bar";
    case ProgressMode::lines:
      return "lines";
    case ProgressMode::off:
      return "off";
  }
  return "?";
}

ProgressMode parse_progress_mode(const std::string& text) { return parse_choice(text, kProgressModes, "run.progress"); }

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  return buf;
}

Progress::Progress(std::string label, std::uint64_t total, std::string unit, bool enabled, ProgressMode mode,
                   double interval_s)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      enabled_(enabled && mode != ProgressMode::off),
      interval_s_(interval_s),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {
  as_bar_ = mode == ProgressMode::bar || (mode == ProgressMode::automatic && isatty(STDERR_FILENO));
}

Progress::~Progress() { finish(); }

double Progress::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::status() const {
  const double elapsed = elapsed_s();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  std::ostringstream os;
  os << label_ << ": " << done_;
  if (total_ > 0) os << "/" << total_;
  os << " " << unit_;
  if (total_ > 0) os << " (" << (100 * done_ / total_) << "%)";
  char rate_text[32];
  std::snprintf(rate_text, sizeof rate_text, "%.4g", rate);
  os << ", " << rate_text << " " << unit_ << "/s";
  if (total_ > 0 && done_ < total_ && rate > 0)
    os << ", ETA " << format_duration(static_cast<double>(total_ - done_) / rate);
  else
    os << ", elapsed " << format_duration(elapsed);
  return os.str();
}

void Progress::render(bool final_line) {
  if (as_bar_) {
    constexpr int kWidth = 30;
    const int filled = total_ > 0 ? static_cast<int>(kWidth * std::min<std::uint64_t>(done_, total_) / total_) : 0;
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r[%s] %s\033[K%s", bar.c_str(), status().c_str(), final_line ? "\n" : "");
    std::fflush(stderr);
  } else {
    log::info(status());
  }
}

void Progress::update(std::uint64_t done) {
  if (done > done_) done_ = done;
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  // A bar redraws often (cheap, in place); lines only every interval_s.
  if (since >= (as_bar_ ? 0.2 : interval_s_)) {
    last_print_ = now;
    render(false);
  }
}

void Progress::finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  render(true);
}

}  // namespace qvae::core
