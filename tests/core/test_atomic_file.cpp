// core::write_file_atomically / commit_file: the final name holds the old
// file or the complete new one, never a temporary, even when writing fails.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "qvae/core/atomic_file.hpp"
#include "qvae/core/error.hpp"

namespace fs = std::filesystem;
using namespace qvae;

namespace {

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

fs::path fresh_directory(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("atomic-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

bool holds_temporary(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir))
    if (core::is_temporary_name(entry.path().filename().string())) return true;
  return false;
}

}  // namespace

TEST(AtomicFile, ReplacesTheOldFileWithTheCompleteNewOneAndLeavesNoTemporary) {
  const fs::path dir = fresh_directory("replace");
  const std::string path = (dir / "out.txt").string();
  core::write_file_atomically(path, "first\n", "test output");
  core::write_file_atomically(path, "second, longer\n", "test output");
  EXPECT_EQ(read(path), "second, longer\n");
  EXPECT_FALSE(holds_temporary(dir));
  fs::remove_all(dir);
}

TEST(AtomicFile, AFailedRenameKeepsTheOldFileAndRemovesTheTemporary) {
  const fs::path dir = fresh_directory("blocked");
  // A directory under the final name: the rename cannot replace it.
  const fs::path blocked = dir / "out.txt";
  fs::create_directories(blocked / "inside");
  try {
    core::write_file_atomically(blocked.string(), "text", "test output");
    FAIL() << "expected a RuntimeError";
  } catch (const core::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("test output"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_directory(blocked / "inside"));
  EXPECT_FALSE(holds_temporary(dir));
  fs::remove_all(dir);
}

TEST(AtomicFile, AMissingDirectoryIsARuntimeErrorWithNothingWritten) {
  const fs::path dir = fresh_directory("missing");
  EXPECT_THROW(core::write_file_atomically((dir / "no" / "out.txt").string(), "x", "test output"), core::RuntimeError);
  EXPECT_TRUE(fs::is_empty(dir));
  fs::remove_all(dir);
}

TEST(AtomicFile, TemporaryNamesAreRecognisedExactly) {
  EXPECT_TRUE(core::is_temporary_name(fs::path(core::temporary_path("/x/checkpoint-0001.h5")).filename().string()));
  EXPECT_TRUE(core::is_temporary_name("history.csv.tmp-12"));
  EXPECT_FALSE(core::is_temporary_name("checkpoint-0001.h5"));
  EXPECT_FALSE(core::is_temporary_name("notes.tmp-"));
  EXPECT_FALSE(core::is_temporary_name("notes.tmp-12a"));
  EXPECT_FALSE(core::is_temporary_name(".tmp-12"));
}
