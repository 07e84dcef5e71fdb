#include "qvae/core/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "qvae/core/alert.hpp"
#include "qvae/core/choices.hpp"
#include "qvae/core/error.hpp"

namespace qvae::core::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<int> g_rank{-1};
std::atomic<int> g_size{1};
std::mutex g_write_mutex;
constexpr const char* kNames[] = {"trace", "debug", "info", "warn", "error", "off"};
}  // namespace

Level parse_level(const std::string& name) { return parse_choice(name, kLevels, "run.log_level"); }

const char* to_string(Level level) noexcept { return kNames[static_cast<int>(level)]; }
void set_level(Level level) noexcept { g_level = static_cast<int>(level); }
Level level() noexcept { return static_cast<Level>(g_level.load()); }
void set_rank(int rank_, int size_) noexcept {
  g_rank = rank_;
  g_size = size_;
}
int rank() noexcept { return g_rank.load() < 0 ? 0 : g_rank.load(); }
int size() noexcept { return g_size.load(); }

void write(Level level_, const std::string& message, bool root_only) {
  if (root_only && rank() != 0) return;
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[16];
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", &local);
  std::string line = "[qvae ";
  line += stamp;
  if (g_rank.load() >= 0 && g_size.load() > 1)
    line += " r" + std::to_string(g_rank.load()) + "/" + std::to_string(g_size.load());
  line += ' ';
  line += to_string(level_);
  line += "] ";
  line += message;
  line += '\n';
  std::lock_guard<std::mutex> lock(g_write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace qvae::core::log

namespace qvae::core {

std::string warning_line(const std::string& message) { return "qvae: warning: " + one_line(message); }

void alert_root(const std::string& message) {
  if (log::rank() != 0) return;
  const std::string line = warning_line(message) + '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace qvae::core
