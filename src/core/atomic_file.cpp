#include "qvae/core/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "qvae/core/error.hpp"

namespace qvae::core {

namespace {

/// fsync of an existing file or directory; the reason on failure, "" on success.
std::string sync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) return std::strerror(errno);
  std::string reason;
  // EINVAL/ENOTSUP: the file system cannot sync this kind of file (some
  // pseudo and network file systems); the rename is still atomic there.
  if (::fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP) reason = std::strerror(errno);
  if (::close(fd) != 0 && reason.empty()) reason = std::strerror(errno);
  return reason;
}

std::string parent_of(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

}  // namespace

std::string temporary_path(const std::string& path, long pid) { return path + ".tmp-" + std::to_string(pid); }

std::string temporary_path(const std::string& path) { return temporary_path(path, static_cast<long>(::getpid())); }

void commit_file(const std::string& temporary, const std::string& path, const std::string& what) {
  auto fail = [&](const std::string& action, const std::string& reason) {
    std::remove(temporary.c_str());
    throw RuntimeError(
        describe("cannot " + action + ": " + reason, what, "check free space and permissions of the output directory"));
  };
  if (const std::string reason = sync_path(temporary, false); !reason.empty()) fail("sync '" + temporary + "'", reason);
  if (std::rename(temporary.c_str(), path.c_str()) != 0)
    fail("rename '" + temporary + "' to '" + path + "'", std::strerror(errno));
  // The new name is complete; a failed directory sync only weakens durability
  // against a crash of the machine, which the caller cannot repair: say so.
  if (const std::string reason = sync_path(parent_of(path), true); !reason.empty())
    throw RuntimeError(describe("wrote '" + path + "' but cannot sync its directory: " + reason, what,
                                "check the output file system"));
}

void write_file_atomically(const std::string& path, const std::string& text, const std::string& what) {
  const std::string temporary = temporary_path(path);
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out)
      throw RuntimeError(describe("cannot create '" + temporary + "': " + std::strerror(errno), what,
                                  "check that the directory exists and is writable"));
    out << text;
    out.flush();
    if (!out) {
      std::remove(temporary.c_str());
      throw RuntimeError(describe("cannot write '" + temporary + "'", what, "check free disk space"));
    }
  }
  commit_file(temporary, path, what);
}

bool is_temporary_name(const std::string& file_name) {
  const auto at = file_name.rfind(".tmp-");
  if (at == std::string::npos || at == 0 || at + 5 == file_name.size()) return false;
  for (std::size_t i = at + 5; i < file_name.size(); ++i)
    if (file_name[i] < '0' || file_name[i] > '9') return false;
  return true;
}

}  // namespace qvae::core
