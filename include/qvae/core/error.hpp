// Error types of qvae-hpc and the exit codes they map to.
//
// Every failure a user can cause reaches them as one line
//   qvae: error: <what>, <where>, <what to do>
// on stderr and a documented exit code (see ExitCode).
#pragma once

#include <stdexcept>
#include <string>

namespace qvae::core {

/// Process exit codes; documented in README.md ("Exit codes").
enum class ExitCode : int {
  ok = 0,
  usage = 2,      ///< bad command line, unknown or invalid config key, command not built yet
  bad_input = 3,  ///< input data missing, unreadable, of the wrong shape/type, or with bad values
  runtime = 4,    ///< failure while running: I/O on outputs, MPI, remote services
};

/// Base class: a message (one line) and the exit code it maps to.
class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message);
  ExitCode code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

/// Bad command line or configuration (exit 2).
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& message) : Error(ExitCode::usage, message) {}
};

/// Bad input data (exit 3).
class InputError : public Error {
 public:
  explicit InputError(const std::string& message) : Error(ExitCode::bad_input, message) {}
};

/// Failure while running: output I/O, MPI, a remote service (exit 4).
class RuntimeError : public Error {
 public:
  explicit RuntimeError(const std::string& message) : Error(ExitCode::runtime, message) {}
};

/// Joins the three parts of an error message: "<what>, <where>, <what to do>".
/// Empty parts are skipped.
std::string describe(const std::string& what, const std::string& where = {}, const std::string& remedy = {});

/// Folds any message onto one line (newlines and tabs become "; " / " ").
std::string one_line(const std::string& message);

/// The exact line printed for an error: "qvae: error: <message>".
std::string error_line(const std::string& message);

/// Throws the Error subclass that matches `code` (UsageError, InputError, RuntimeError).
[[noreturn]] void throw_error(ExitCode code, const std::string& message);

/// Exit code for any exception: Error's own code, otherwise runtime (4).
ExitCode exit_code_of(const std::exception& e) noexcept;

}  // namespace qvae::core
