// Findings that are not fatal but must not be missed (e.g. an inverted log Z
// bracket): one line "qvae: warning: <message>" on stderr, printed by rank 0
// alone and whatever the log level (it is not a log message, so
// --log-level=error does not hide it).  Defined in log.cpp.
#pragma once

#include <string>

namespace qvae::core {

/// "qvae: warning: <message>", folded onto one line.
std::string warning_line(const std::string& message);

/// Writes warning_line(message) to stderr on rank 0 (core::log::rank()).
void alert_root(const std::string& message);

}  // namespace qvae::core
