#include "qvae/io/attributes.hpp"

#include "qvae/build_info.hpp"

namespace qvae::io {
namespace {

std::string attribute_where(const File& file, const std::string& object, const std::string& name) {
  return where_text(file.path(), object) + ", attribute '" + name + "'";
}

/// Creates (replacing any old one) and writes an attribute of `type` and `space`.
void write_attribute(File& file, const std::string& object, const std::string& name, hid_t file_type, hid_t memory_type,
                     const Handle& space, const void* data) {
  const Where where{attribute_where(file, object, name), core::ExitCode::runtime};
  if (!file.writable()) throw std::logic_error("qvae::io::set_attribute: read-only " + where.text);
  const char* obj = object.empty() ? "/" : object.c_str();
  if (H5Aexists_by_name(file.id(), obj, name.c_str(), H5P_DEFAULT) > 0)
    check(H5Adelete_by_name(file.id(), obj, name.c_str(), H5P_DEFAULT), "H5Adelete_by_name", where);
  Handle attr = check_id(
      H5Acreate_by_name(file.id(), obj, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      "H5Acreate_by_name", where);
  check(H5Awrite(attr.get(), memory_type, data), "H5Awrite", where);
}

Handle scalar_space(const Where& where) { return check_id(H5Screate(H5S_SCALAR), "H5Screate", where); }
Handle vector_space(std::size_t n, const Where& where) {
  const hsize_t dims[1] = {static_cast<hsize_t>(n)};
  return check_id(H5Screate_simple(1, dims, nullptr), "H5Screate_simple", where);
}
Handle string_type(const Where& where) {
  Handle type = check_id(H5Tcopy(H5T_C_S1), "H5Tcopy", where);
  check(H5Tset_size(type.get(), H5T_VARIABLE), "H5Tset_size", where);
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset", where);
  return type;
}

struct OpenedAttribute {
  Handle attr, type, space;
  Where where;
};

OpenedAttribute open_attribute(const File& file, const std::string& object, const std::string& name) {
  Where where{attribute_where(file, object, name), core::ExitCode::bad_input};
  const char* obj = object.empty() ? "/" : object.c_str();
  if (object != "/" && !object.empty() && !file.has(object))
    throw core::InputError(core::describe("object is missing", where.text));
  if (H5Aexists_by_name(file.id(), obj, name.c_str(), H5P_DEFAULT) <= 0)
    throw core::InputError(core::describe("attribute is missing", where.text, "is this the right file?"));
  Handle attr =
      check_id(H5Aopen_by_name(file.id(), obj, name.c_str(), H5P_DEFAULT, H5P_DEFAULT), "H5Aopen_by_name", where);
  Handle type = check_id(H5Aget_type(attr.get()), "H5Aget_type", where);
  Handle space = check_id(H5Aget_space(attr.get()), "H5Aget_space", where);
  return {std::move(attr), std::move(type), std::move(space), where};
}

template <class T>
std::vector<T> read_numbers(const File& file, const std::string& object, const std::string& name, bool scalar) {
  OpenedAttribute a = open_attribute(file, object, name);
  const H5T_class_t cls = H5Tget_class(a.type.get());
  const bool ok_class =
      std::is_floating_point<T>::value ? (cls == H5T_FLOAT || cls == H5T_INTEGER) : cls == H5T_INTEGER;
  if (!ok_class)
    throw core::InputError(core::describe(
        std::string("attribute is not ") + (std::is_floating_point<T>::value ? "a number" : "an integer"),
        a.where.text));
  const hssize_t n = H5Sget_simple_extent_npoints(a.space.get());
  if (n < 0) check(static_cast<herr_t>(n), "H5Sget_simple_extent_npoints", a.where);
  if (scalar && n != 1)
    throw core::InputError(
        core::describe("attribute holds " + std::to_string(n) + " values, expected one", a.where.text));
  std::vector<T> values(static_cast<std::size_t>(n));
  if (n > 0) check(H5Aread(a.attr.get(), native_type<T>(), values.data()), "H5Aread", a.where);
  return values;
}

}  // namespace

void set_attribute(File& file, const std::string& object, const std::string& name, const std::string& value) {
  const Where where{attribute_where(file, object, name), core::ExitCode::runtime};
  Handle type = string_type(where);
  const char* text = value.c_str();
  write_attribute(file, object, name, type.get(), type.get(), scalar_space(where), &text);
}

void set_attribute(File& file, const std::string& object, const std::string& name, double value) {
  const Where where{attribute_where(file, object, name), core::ExitCode::runtime};
  write_attribute(file, object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, scalar_space(where), &value);
}

void set_attribute(File& file, const std::string& object, const std::string& name, std::int64_t value) {
  const Where where{attribute_where(file, object, name), core::ExitCode::runtime};
  write_attribute(file, object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, scalar_space(where), &value);
}

void set_attribute(File& file, const std::string& object, const std::string& name, std::uint64_t value) {
  const Where where{attribute_where(file, object, name), core::ExitCode::runtime};
  write_attribute(file, object, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, scalar_space(where), &value);
}

void set_attribute(File& file, const std::string& object, const std::string& name, const std::vector<double>& values) {
  const Where where{attribute_where(file, object, name), core::ExitCode::runtime};
  write_attribute(file, object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, vector_space(values.size(), where),
                  values.data());
}

void set_attribute(File& file, const std::string& object, const std::string& name,
                   const std::vector<std::int64_t>& values) {
  const Where where{attribute_where(file, object, name), core::ExitCode::runtime};
  write_attribute(file, object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, vector_space(values.size(), where),
                  values.data());
}

bool has_attribute(const File& file, const std::string& object, const std::string& name) {
  const char* obj = object.empty() ? "/" : object.c_str();
  if (object != "/" && !object.empty() && !file.has(object)) return false;
  return H5Aexists_by_name(file.id(), obj, name.c_str(), H5P_DEFAULT) > 0;
}

std::string get_string_attribute(const File& file, const std::string& object, const std::string& name) {
  OpenedAttribute a = open_attribute(file, object, name);
  if (H5Tget_class(a.type.get()) != H5T_STRING)
    throw core::InputError(core::describe("attribute is not a string", a.where.text));
  // H5Aread fills the whole dataspace: an array of strings would overrun the one value read here.
  const hssize_t n = H5Sget_simple_extent_npoints(a.space.get());
  if (n != 1)
    throw core::InputError(
        core::describe("attribute holds " + std::to_string(n) + " strings, expected one", a.where.text));
  const htri_t variable = H5Tis_variable_str(a.type.get());
  check(variable, "H5Tis_variable_str", a.where);
  if (variable > 0) {
    Handle memory_type = string_type(a.where);
    char* text = nullptr;
    check(H5Aread(a.attr.get(), memory_type.get(), &text), "H5Aread", a.where);
    std::string value = text ? text : "";
    H5free_memory(text);
    return value;
  }
  const std::size_t size = H5Tget_size(a.type.get());
  std::string value(size, '\0');
  Handle memory_type = check_id(H5Tcopy(a.type.get()), "H5Tcopy", a.where);
  check(H5Aread(a.attr.get(), memory_type.get(), value.data()), "H5Aread", a.where);
  value.resize(std::min(value.find('\0'), value.size()));
  return value;
}

double get_double_attribute(const File& file, const std::string& object, const std::string& name) {
  return read_numbers<double>(file, object, name, true).front();
}
std::int64_t get_int_attribute(const File& file, const std::string& object, const std::string& name) {
  return read_numbers<std::int64_t>(file, object, name, true).front();
}
std::uint64_t get_uint_attribute(const File& file, const std::string& object, const std::string& name) {
  return read_numbers<std::uint64_t>(file, object, name, true).front();
}
std::vector<double> get_double_array_attribute(const File& file, const std::string& object, const std::string& name) {
  return read_numbers<double>(file, object, name, false);
}
std::vector<std::int64_t> get_int_array_attribute(const File& file, const std::string& object,
                                                  const std::string& name) {
  return read_numbers<std::int64_t>(file, object, name, false);
}

void write_provenance(File& file, const Provenance& provenance) {
  set_attribute(file, "/", "qvae_version", std::string(build::version));
  set_attribute(file, "/", "created_by", provenance.command_line);
  set_attribute(file, "/", "seed", provenance.seed);
  set_attribute(file, "/", "config", provenance.config_ini);
}

void set_format(File& file, const std::string& format, std::int64_t version) {
  set_attribute(file, "/", "format", format);
  set_attribute(file, "/", "format_version", version);
}

std::int64_t require_format(const File& file, const std::string& format, std::int64_t max_version) {
  if (!has_attribute(file, "/", "format"))
    throw core::InputError(core::describe("file has no 'format' attribute, expected a " + format + " file",
                                          where_text(file.path()), "pass a file written by qvae"));
  const std::string found = get_string_attribute(file, "/", "format");
  if (found != format)
    throw core::InputError(
        core::describe("file is a '" + found + "' file, expected '" + format + "'", where_text(file.path())));
  const std::int64_t version = get_int_attribute(file, "/", "format_version");
  if (version < 1 || version > max_version)
    throw core::InputError(core::describe(format + " format_version " + std::to_string(version) +
                                              " is not supported (this build reads 1.." + std::to_string(max_version) +
                                              ")",
                                          where_text(file.path()), "use a newer qvae"));
  return version;
}

}  // namespace qvae::io
