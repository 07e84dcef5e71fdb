// HDF5 files: inputs opened read-only (collectively through MPI-IO, or by one
// process), outputs written atomically.
//
// OutputFile writes to "<path>.tmp-<pid of rank 0>" and renames it to <path>
// only on commit(); if it is destroyed without commit (an error), the
// temporary file is removed.  A half-written file never appears under the
// final name and an existing file there is only replaced by a complete one.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "qvae/io/h5.hpp"
#include "qvae/par/communicator.hpp"

namespace qvae::io {

class File {
 public:
  /// Collective over `comm`: opens `path` read-only through MPI-IO.
  /// A missing, unreadable or non-HDF5 file is a core::InputError (exit 3).
  static File open_parallel(const std::string& path, const par::Communicator& comm);
  /// Opens `path` read-only in this process alone.
  static File open_serial(const std::string& path);

  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept = default;
  /// Closes the file, except a parallel one while an exception unwinds the
  /// stack: closing is collective and the other ranks may never arrive, so
  /// the id is left to HDF5's shutdown and the error reaches par::run_main.
  virtual ~File();

  const std::string& path() const { return path_; }
  hid_t id() const { return handle_.get(); }
  bool is_parallel() const { return comm_.has_value(); }
  /// The communicator of a parallel file; nullptr for a serial one.
  const par::Communicator* comm() const { return comm_ ? &*comm_ : nullptr; }
  bool writable() const { return writable_; }
  /// True if a link `name` (dataset or group) exists at the root.
  bool has(const std::string& name) const;

 protected:
  File(std::string path, Handle handle, std::optional<par::Communicator> comm, bool writable)
      : path_(std::move(path)),
        handle_(std::move(handle)),
        comm_(std::move(comm)),
        writable_(writable),
        uncaught_at_creation_(std::uncaught_exceptions()) {}
  /// True while an exception thrown after this file was opened unwinds the stack.
  bool unwinding() const { return std::uncaught_exceptions() > uncaught_at_creation_; }
  /// Closes the file now (collective for parallel files).
  void close();

  std::string path_;
  Handle handle_;
  std::optional<par::Communicator> comm_;
  bool writable_ = false;
  int uncaught_at_creation_ = 0;
};

class OutputFile : public File {
 public:
  /// Collective over `comm`: creates the temporary file through MPI-IO.
  /// A missing output directory is a core::UsageError (exit 2).
  static OutputFile create(const std::string& path, const par::Communicator& comm);
  /// This process alone (e.g. a small report written by rank 0).
  static OutputFile create_serial(const std::string& path);

  OutputFile(OutputFile&& other) noexcept;
  OutputFile& operator=(OutputFile&&) = delete;
  ~OutputFile() override;

  /// Collective: flushes, closes and renames the temporary file to path().
  void commit();
  const std::string& temp_path() const { return temp_path_; }
  bool committed() const { return committed_; }

 private:
  OutputFile(std::string path, std::string temp_path, Handle handle, std::optional<par::Communicator> comm);
  std::string temp_path_;
  bool committed_ = false;
};

/// Refuses (UsageError) an output path that is the same file as one of `inputs`.
void refuse_overwriting_inputs(const std::string& output, const std::vector<std::string>& inputs);

}  // namespace qvae::io
