#include "qvae/io/file.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>

#include "qvae/core/atomic_file.hpp"

namespace fs = std::filesystem;

namespace qvae::io {
namespace {

Handle mpio_access(const par::Communicator& comm, const Where& where) {
  Handle fapl = check_id(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate(FILE_ACCESS)", where);
  check(H5Pset_fapl_mpio(fapl.get(), comm.get(), MPI_INFO_NULL), "H5Pset_fapl_mpio", where);
  // Metadata reads by one rank and broadcast: fewer small reads on parallel file systems.
  check(H5Pset_all_coll_metadata_ops(fapl.get(), true), "H5Pset_all_coll_metadata_ops", where);
  check(H5Pset_coll_metadata_write(fapl.get(), true), "H5Pset_coll_metadata_write", where);
  return fapl;
}

Handle open_readonly(const std::string& path, hid_t fapl) {
  const Where where{where_text(path), core::ExitCode::bad_input};
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw core::InputError(core::describe("input file does not exist", where.text, "check the path"));
  if (fs::is_directory(path, ec))
    throw core::InputError(core::describe("input is a directory, not an HDF5 file", where.text));
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw core::InputError(
        core::describe("not an HDF5 file (unreadable, truncated or another format)", where.text, "pass an HDF5 file"));
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  if (id < 0)
    detail::fail(core::ExitCode::bad_input, "cannot open HDF5 file (" + detail::error_stack() + ")", where.text,
                 "check that the file is complete and readable");
  return Handle(id);
}

void check_output_directory(const std::string& path) {
  const fs::path parent = fs::absolute(path).parent_path();
  std::error_code ec;
  if (!fs::is_directory(parent, ec))
    throw core::UsageError(core::describe("output directory '" + parent.string() + "' does not exist",
                                          "output '" + path + "'", "create it first"));
  if (fs::is_directory(path, ec))
    throw core::UsageError(core::describe("output path is a directory", "output '" + path + "'", "name a file"));
}

}  // namespace

File File::open_parallel(const std::string& path, const par::Communicator& comm) {
  detail::ensure_library();
  Handle fapl = mpio_access(comm, Where{where_text(path), core::ExitCode::runtime});
  return File(path, open_readonly(path, fapl.get()), comm, false);
}

File File::open_serial(const std::string& path) {
  detail::ensure_library();
  return File(path, open_readonly(path, H5P_DEFAULT), std::nullopt, false);
}

bool File::has(const std::string& name) const {
  const htri_t exists = H5Lexists(id(), name.c_str(), H5P_DEFAULT);
  return exists > 0 && H5Oexists_by_name(id(), name.c_str(), H5P_DEFAULT) > 0;
}

File::~File() {
  if (handle_.valid() && comm_ && comm_->size() > 1 && unwinding()) handle_.release();
}

void File::close() {
  if (!handle_.valid()) return;
  const hid_t id = handle_.release();
  check(H5Fclose(id), "H5Fclose", Where{where_text(path_), core::ExitCode::runtime});
}

OutputFile::OutputFile(std::string path, std::string temp_path, Handle handle, std::optional<par::Communicator> comm)
    : File(std::move(path), std::move(handle), std::move(comm), true), temp_path_(std::move(temp_path)) {}

OutputFile::OutputFile(OutputFile&& other) noexcept
    : File(std::move(other)), temp_path_(std::move(other.temp_path_)), committed_(other.committed_) {
  other.committed_ = true;  // the moved-from object owns nothing to clean up
}

OutputFile OutputFile::create(const std::string& path, const par::Communicator& comm) {
  detail::ensure_library();
  // Every rank must name the same temporary file: use rank 0's pid.
  const long pid = comm.broadcast_value(static_cast<long>(getpid()));
  const std::string temp = core::temporary_path(path, pid);
  const Where where{where_text(temp), core::ExitCode::runtime};
  check_output_directory(path);
  Handle fapl = mpio_access(comm, where);
  Handle file = check_id(H5Fcreate(temp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), "H5Fcreate", where);
  return OutputFile(path, temp, std::move(file), comm);
}

OutputFile OutputFile::create_serial(const std::string& path) {
  detail::ensure_library();
  const std::string temp = core::temporary_path(path);
  check_output_directory(path);
  const Where where{where_text(temp), core::ExitCode::runtime};
  Handle file = check_id(H5Fcreate(temp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "H5Fcreate", where);
  return OutputFile(path, temp, std::move(file), std::nullopt);
}

void OutputFile::commit() {
  if (committed_) return;
  const Where where{where_text(temp_path_), core::ExitCode::runtime};
  check(H5Fflush(id(), H5F_SCOPE_GLOBAL), "H5Fflush", where);
  close();
  // Closing synchronised every rank's writes; rank 0 makes the file durable
  // and gives it its final name (core::commit_file).
  int renamed = 1;
  std::string reason;
  if (!comm_ || comm_->is_root()) {
    try {
      core::commit_file(temp_path_, path_, "output '" + path_ + "'");
    } catch (const core::Error& e) {
      renamed = 0;
      reason = e.what();
    }
  }
  if (comm_) {
    renamed = comm_->broadcast_value(renamed);
    comm_->broadcast(reason);
  }
  committed_ = true;
  if (!renamed) throw core::RuntimeError(reason);
}

OutputFile::~OutputFile() {
  if (committed_) return;
  const bool unwinding = File::unwinding();
  if (handle_.valid()) {
    if (comm_ && comm_->size() > 1 && unwinding) {
      // Closing an MPI-IO file is collective; on an error path the other
      // ranks may never arrive.  Leave the id to HDF5's shutdown and just
      // remove the temporary file below.
      handle_.release();
    } else {
      H5Fclose(handle_.release());
    }
  }
  if (!comm_ || comm_->is_root() || unwinding) std::remove(temp_path_.c_str());
}

void refuse_overwriting_inputs(const std::string& output, const std::vector<std::string>& inputs) {
  std::error_code ec;
  for (const auto& input : inputs) {
    if (fs::exists(output, ec) && fs::exists(input, ec) && fs::equivalent(output, input, ec))
      throw core::UsageError(core::describe("output '" + output + "' is the input file '" + input + "'", "",
                                            "choose another output path; inputs are never overwritten"));
  }
}

}  // namespace qvae::io
