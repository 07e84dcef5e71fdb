// The thin, checked layer over the HDF5 C API that everything else uses.
//
// * Handle owns one reference to an HDF5 id (copy = H5Iinc_ref, destructor =
//   H5Idec_ref, never throws), so no id leaks on an exception path.
// * check()/check_id() turn a failed call into a core::Error carrying the call,
//   the object it was about and HDF5's own error stack (HDF5's printing to
//   stderr is switched off: the message reaches the user once, in our format).
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>

#include "qvae/core/error.hpp"

namespace qvae::io {

class Handle {
 public:
  Handle() = default;
  /// Takes ownership of `id` (must be valid or H5I_INVALID_HID).
  explicit Handle(hid_t id) noexcept : id_(id) {}
  Handle(const Handle& other) noexcept;
  Handle(Handle&& other) noexcept : id_(other.id_) { other.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle other) noexcept {
    std::swap(id_, other.id_);
    return *this;
  }
  ~Handle() { reset(); }

  hid_t get() const noexcept { return id_; }
  bool valid() const noexcept { return id_ >= 0; }
  /// Drops our reference now (closes the object if it was the last).
  void reset() noexcept;
  /// Gives up ownership without closing.
  hid_t release() noexcept {
    const hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

namespace detail {
/// Initialises HDF5 once and turns off its automatic error printing.
void ensure_library();
/// The current HDF5 error stack, innermost messages first, on one line.
std::string error_stack();
/// Throws core::Error(code) with "<what> (<HDF5 stack>), <where>, <remedy>".
[[noreturn]] void fail(core::ExitCode code, const std::string& what, const std::string& where,
                       const std::string& remedy = {});
}  // namespace detail

/// Context for checks: what object a call was about and which exit code a failure maps to.
struct Where {
  std::string text;  ///< e.g. "file 'x.h5', dataset 'showers'"
  core::ExitCode code = core::ExitCode::runtime;
};

/// Returns `id` as a Handle, or throws naming `call` and `where`.
Handle check_id(hid_t id, const char* call, const Where& where);
/// Returns a non-negative status, or throws naming `call` and `where`.
herr_t check(herr_t status, const char* call, const Where& where);

/// The HDF5 library this process runs on (`qvae version`).
struct Hdf5Library {
  std::string version;    ///< "major.minor.release"
  bool parallel = false;  ///< built with MPI-IO
};
Hdf5Library hdf5_library();

/// "file 'path'" / "file 'path', dataset 'name'" for messages.
std::string where_text(const std::string& path, const std::string& object = {});

/// HDF5 type for a native C++ type (float, double, int32, int64, uint8).
template <class T>
hid_t native_type();
template <>
inline hid_t native_type<float>() {
  return H5T_NATIVE_FLOAT;
}
template <>
inline hid_t native_type<double>() {
  return H5T_NATIVE_DOUBLE;
}
template <>
inline hid_t native_type<std::int32_t>() {
  return H5T_NATIVE_INT32;
}
template <>
inline hid_t native_type<std::int64_t>() {
  return H5T_NATIVE_INT64;
}
template <>
inline hid_t native_type<std::uint8_t>() {
  return H5T_NATIVE_UINT8;
}
template <>
inline hid_t native_type<std::uint64_t>() {
  return H5T_NATIVE_UINT64;
}
/// A readable name of a native type ("float32", "int64", ...).
template <class T>
const char* type_name();

}  // namespace qvae::io
