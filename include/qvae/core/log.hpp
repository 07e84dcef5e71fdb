// Rank-prefixed logging to stderr.
//
//   [qvae 16:09:50 r1/2 info] message
//
// The rank is set once by par::Environment; before that (or without MPI) the
// prefix has no rank.  Messages below the current level are dropped cheaply.
#pragma once

#include <sstream>
#include <string>

namespace qvae::core::log {

enum class Level : int { trace = 0, debug = 1, info = 2, warn = 3, error = 4, off = 5 };

/// Parses "trace|debug|info|warn|error|off"; throws UsageError naming the choices.
Level parse_level(const std::string& name);
const char* to_string(Level level) noexcept;
/// Every level, least severe first.
inline constexpr Level kLevels[] = {Level::trace, Level::debug, Level::info, Level::warn, Level::error, Level::off};

void set_level(Level level) noexcept;
Level level() noexcept;
inline bool enabled(Level l) noexcept { return static_cast<int>(l) >= static_cast<int>(level()); }

/// Set by par::Environment: rank and rank count shown in the prefix.
void set_rank(int rank, int size) noexcept;
int rank() noexcept;
int size() noexcept;

/// Only rank 0 writes messages sent with the *_root functions.
void write(Level level, const std::string& message, bool root_only = false);

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}
}  // namespace detail

template <class... P>
void trace(const P&... p) {
  if (enabled(Level::trace)) write(Level::trace, detail::concat(p...));
}
template <class... P>
void debug(const P&... p) {
  if (enabled(Level::debug)) write(Level::debug, detail::concat(p...));
}
template <class... P>
void info(const P&... p) {
  if (enabled(Level::info)) write(Level::info, detail::concat(p...));
}
template <class... P>
void warn(const P&... p) {
  if (enabled(Level::warn)) write(Level::warn, detail::concat(p...));
}
template <class... P>
void error(const P&... p) {
  if (enabled(Level::error)) write(Level::error, detail::concat(p...));
}

/// Rank-0-only variants for messages every rank would repeat.
template <class... P>
void info_root(const P&... p) {
  if (enabled(Level::info)) write(Level::info, detail::concat(p...), true);
}
template <class... P>
void warn_root(const P&... p) {
  if (enabled(Level::warn)) write(Level::warn, detail::concat(p...), true);
}

}  // namespace qvae::core::log
