#include "qvae/io/h5.hpp"

#include <mutex>
#include <vector>

namespace qvae::io {

Handle::Handle(const Handle& other) noexcept : id_(other.id_) {
  if (id_ >= 0 && H5Iinc_ref(id_) < 0) id_ = H5I_INVALID_HID;
}

void Handle::reset() noexcept {
  if (id_ >= 0) {
    // Never throws: a failed close leaves nothing the caller could act on.
    H5Idec_ref(id_);
    id_ = H5I_INVALID_HID;
  }
}

namespace detail {

void ensure_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    H5open();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  });
}

namespace {
herr_t collect(unsigned /*n*/, const H5E_error2_t* entry, void* client) {
  auto* lines = static_cast<std::vector<std::string>*>(client);
  std::string line = entry->func_name ? std::string(entry->func_name) + "(): " : std::string();
  line += entry->desc ? entry->desc : "?";
  lines->push_back(line);
  return 0;
}
}  // namespace

std::string error_stack() {
  std::vector<std::string> lines;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect, &lines);
  // Walking downward lists the API call first and the root cause last; the
  // user needs the API call and the root cause.
  if (lines.empty()) return "no HDF5 error details";
  if (lines.size() == 1) return lines.front();
  return lines.front() + " <- " + lines.back();
}

void fail(core::ExitCode code, const std::string& what, const std::string& where, const std::string& remedy) {
  core::throw_error(code, core::describe(what, where, remedy));
}

}  // namespace detail

std::string where_text(const std::string& path, const std::string& object) {
  std::string text = "file '" + path + "'";
  if (!object.empty() && object != "/") text += ", dataset '" + object + "'";
  return text;
}

Handle check_id(hid_t id, const char* call, const Where& where) {
  if (id < 0) detail::fail(where.code, std::string(call) + " failed (" + detail::error_stack() + ")", where.text);
  return Handle(id);
}

herr_t check(herr_t status, const char* call, const Where& where) {
  if (status < 0) detail::fail(where.code, std::string(call) + " failed (" + detail::error_stack() + ")", where.text);
  return status;
}

template <>
const char* type_name<float>() {
  return "float32";
}
template <>
const char* type_name<double>() {
  return "float64";
}
template <>
const char* type_name<std::int32_t>() {
  return "int32";
}
template <>
const char* type_name<std::int64_t>() {
  return "int64";
}
template <>
const char* type_name<std::uint8_t>() {
  return "uint8";
}

Hdf5Library hdf5_library() {
  unsigned major = 0, minor = 0, release = 0;
  check(H5get_libversion(&major, &minor, &release), "H5get_libversion", Where{"the HDF5 library"});
  Hdf5Library library;
  library.version = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
#ifdef H5_HAVE_PARALLEL
  library.parallel = true;
#endif
  return library;
}

}  // namespace qvae::io
