// Attributes on the root group ("/") or on a dataset of a File.
//
// Writes on a parallel file are collective and every rank must pass the same
// value (HDF5's rule for metadata).  Strings are variable-length UTF-8 (h5py
// reads them as str).  Readers refuse a missing attribute or one of another
// type with an InputError naming file, object and attribute.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qvae/io/file.hpp"

namespace qvae::io {

void set_attribute(File& file, const std::string& object, const std::string& name, const std::string& value);
inline void set_attribute(File& file, const std::string& object, const std::string& name, const char* value) {
  set_attribute(file, object, name, std::string(value));
}
void set_attribute(File& file, const std::string& object, const std::string& name, double value);
void set_attribute(File& file, const std::string& object, const std::string& name, std::int64_t value);
void set_attribute(File& file, const std::string& object, const std::string& name, std::uint64_t value);
void set_attribute(File& file, const std::string& object, const std::string& name, const std::vector<double>& values);
void set_attribute(File& file, const std::string& object, const std::string& name,
                   const std::vector<std::int64_t>& values);

bool has_attribute(const File& file, const std::string& object, const std::string& name);
std::string get_string_attribute(const File& file, const std::string& object, const std::string& name);
double get_double_attribute(const File& file, const std::string& object, const std::string& name);
std::int64_t get_int_attribute(const File& file, const std::string& object, const std::string& name);
std::uint64_t get_uint_attribute(const File& file, const std::string& object, const std::string& name);
std::vector<double> get_double_array_attribute(const File& file, const std::string& object, const std::string& name);
std::vector<std::int64_t> get_int_array_attribute(const File& file, const std::string& object, const std::string& name);

/// What every file the project writes records at its root: `qvae_version`,
/// `created_by` (the command line), `seed` and `config` (the resolved INI).
struct Provenance {
  std::string command_line;
  std::uint64_t seed = 0;
  std::string config_ini;
};
void write_provenance(File& file, const Provenance& provenance);

/// For project formats: writes root attributes `format` and `format_version`.
void set_format(File& file, const std::string& format, std::int64_t version);
/// Refuses (InputError) a file whose `format` is not `format` or whose
/// `format_version` is newer than `max_version`; returns the version.
std::int64_t require_format(const File& file, const std::string& format, std::int64_t max_version);

}  // namespace qvae::io
