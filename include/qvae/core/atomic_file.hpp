// Outputs that are either complete or absent under their final name.
//
// A file is written under "<path>.tmp-<pid>", made durable (fsync), renamed
// over <path> (atomic on POSIX file systems), and the rename itself is made
// durable by syncing the directory.  A process killed at any point leaves
// either the old file or the complete new one under <path>, plus at worst a
// stray temporary file, which readers never mistake for an output.
#pragma once

#include <string>

namespace qvae::core {

/// The temporary name for `path` ("<path>.tmp-<pid>"): this process's pid, or
/// the pid of the process that names a file shared by several (rank 0's).
std::string temporary_path(const std::string& path, long pid);
std::string temporary_path(const std::string& path);

/// fsyncs the closed file `temporary`, renames it to `path`, fsyncs the
/// directory.  On failure removes `temporary` and throws RuntimeError naming
/// `what` (exit 4).
void commit_file(const std::string& temporary, const std::string& path, const std::string& what);

/// Writes `text` to `path` through a temporary file and commit_file().
void write_file_atomically(const std::string& path, const std::string& text, const std::string& what);

/// True for a name made by temporary_path() ("NAME.tmp-DIGITS").
bool is_temporary_name(const std::string& file_name);

}  // namespace qvae::core
