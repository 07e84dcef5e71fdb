// Writes recipe files with the HDF5 C API directly: the project's io layer
// writes only what the project itself writes, while recipes need every type,
// rank and unwritten dataset a foreign file may hold.  Failures of single
// objects are expected (the recipe is random) and skipped.
#include "h5_recipe.hpp"

#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <limits>

#include "qvae/io/h5.hpp"

namespace qvae::fuzz {
namespace {

using io::Handle;

constexpr std::size_t kMaxOperations = 24;
constexpr std::uint64_t kMaxWrittenElements = 1 << 16;

const std::uint64_t kHugeDims[] = {std::uint64_t{1} << 31,
                                   (std::uint64_t{1} << 32) + 1,
                                   std::uint64_t{1} << 40,
                                   std::uint64_t{1} << 50,
                                   std::uint64_t{1} << 62,
                                   std::uint64_t{1} << 63,
                                   std::numeric_limits<std::uint64_t>::max() - 1,
                                   1000003};

std::string pick_name(Bytes& bytes, const RecipeVocabulary& v) {
  const std::uint8_t b = bytes.u8();
  if (b < 0xF0 && !v.names.empty()) return v.names[b % v.names.size()];
  return bytes.text(bytes.u8() % 24);
}

std::string pick_string(Bytes& bytes, const RecipeVocabulary& v) {
  const std::uint8_t b = bytes.u8();
  if (b < 0xC0 && !v.strings.empty()) return v.strings[b % v.strings.size()];
  return bytes.text(bytes.u8() % 64);
}

double pick_value(Bytes& bytes) {
  switch (bytes.u8() % 16) {
    case 0:
      return 0;
    case 1:
      return 1;
    case 2:
      return -1;
    case 3:
      return 0.5;
    case 4:
      return std::numeric_limits<double>::quiet_NaN();
    case 5:
      return std::numeric_limits<double>::infinity();
    case 6:
      return -std::numeric_limits<double>::infinity();
    case 7:
      return 1e308;
    case 8:
      return -1e308;
    case 9:
      return 5e-324;
    case 10:
      return 2;
    case 11:
      return 255;
    case 12:
      return 1e6;
    case 13:
      return static_cast<std::int16_t>(bytes.u16());
    case 14:
      return bytes.f64();
    default:
      return 1e19;
  }
}

std::uint64_t pick_dim(Bytes& bytes, const RecipeVocabulary& v) {
  const std::uint8_t b = bytes.u8();
  if (b < 64) return b;
  if (b < 0xE0) return v.dims.empty() ? b : v.dims[(b - 64) % v.dims.size()];
  return kHugeDims[(b - 0xE0) % (sizeof kHugeDims / sizeof kHugeDims[0])];
}

/// The HDF5 file type of TYPE code `t` (strings: vlen or fixed 8 bytes).
Handle file_type(int t) {
  static const hid_t numeric[] = {H5T_IEEE_F32LE, H5T_IEEE_F64LE, H5T_STD_I8LE,  H5T_STD_I32LE,
                                  H5T_STD_I64LE,  H5T_STD_U8LE,   H5T_STD_U64LE, H5T_STD_I64BE};
  Handle type(H5Tcopy(t < 8 ? numeric[t] : H5T_C_S1));
  if (t == 8) H5Tset_size(type.get(), H5T_VARIABLE);
  if (t == 9) H5Tset_size(type.get(), 8);
  return type;
}

Handle variable_string() {
  Handle type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), H5T_VARIABLE);
  return type;
}

void write_dataset(hid_t file, Bytes& bytes, const RecipeVocabulary& v) {
  const std::string name = pick_name(bytes, v);
  const int t = bytes.u8() % 10;
  const int rank = bytes.u8() % 4;
  std::vector<hsize_t> dims;
  std::uint64_t elements = 1;
  bool small = true;
  for (int i = 0; i < rank; ++i) {
    dims.push_back(pick_dim(bytes, v));
    if (dims.back() != 0 && elements > kMaxWrittenElements / dims.back()) small = false;
    elements *= dims.back();  // meaningful only while small
  }
  const int fill = bytes.u8() % 4;
  Handle space(rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims.data(), nullptr));
  if (!space.valid()) return;
  Handle type = file_type(t);
  Handle dataset(H5Dcreate2(file, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!dataset.valid() || fill == 0 || !small || elements == 0) return;
  const double first = pick_value(bytes);
  if (t < 8) {
    std::vector<double> values(elements, first);
    for (std::uint64_t i = 0; i < elements; ++i) {
      if (fill == 2 && i > 0) values[i] = pick_value(bytes);
      if (fill == 3) values[i] = first * static_cast<double>(i);
    }
    H5Dwrite(dataset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  } else {
    std::vector<std::string> texts(elements);
    for (auto& text : texts) text = fill == 2 ? pick_string(bytes, v) : (v.strings.empty() ? "" : v.strings[0]);
    if (t == 8) {
      std::vector<const char*> pointers;
      for (const auto& text : texts) pointers.push_back(text.c_str());
      Handle memory = variable_string();
      H5Dwrite(dataset.get(), memory.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data());
    } else {
      std::vector<char> fixed(8 * elements, '\0');
      for (std::size_t i = 0; i < texts.size(); ++i) texts[i].copy(fixed.data() + 8 * i, 8);
      H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, fixed.data());
    }
  }
}

void write_attribute(hid_t file, const std::string& object, Bytes& bytes, const RecipeVocabulary& v) {
  const std::string name = pick_name(bytes, v);
  const int kind = bytes.u8() % 8;
  auto create = [&](hid_t type, hid_t space) {
    return Handle(
        H5Acreate_by_name(file, object.c_str(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  };
  Handle scalar(H5Screate(H5S_SCALAR));
  if (kind == 0 || kind == 7) {
    const std::string text = pick_string(bytes, v);
    if (kind == 0) {
      Handle type = variable_string();
      Handle attr = create(type.get(), scalar.get());
      const char* pointer = text.c_str();
      if (attr.valid()) H5Awrite(attr.get(), type.get(), &pointer);
    } else {
      Handle type(H5Tcopy(H5T_C_S1));
      H5Tset_size(type.get(), text.empty() ? 1 : text.size());
      Handle attr = create(type.get(), scalar.get());
      if (attr.valid()) H5Awrite(attr.get(), type.get(), text.empty() ? "" : text.data());
    }
  } else if (kind == 6) {
    const std::string a = pick_string(bytes, v), b = pick_string(bytes, v);
    const hsize_t two = 2;
    Handle space(H5Screate_simple(1, &two, nullptr));
    Handle type = variable_string();
    Handle attr = create(type.get(), space.get());
    const char* pointers[] = {a.c_str(), b.c_str()};
    if (attr.valid()) H5Awrite(attr.get(), type.get(), pointers);
  } else {
    const bool array = kind == 4 || kind == 5;
    const hsize_t n = array ? bytes.u8() % 8 : 1;
    std::vector<double> values(n);
    for (auto& value : values) value = pick_value(bytes);
    static const hid_t types[] = {H5T_STD_I64LE, H5T_STD_U64LE, H5T_IEEE_F64LE, H5T_IEEE_F64LE, H5T_STD_I64LE};
    Handle space(array ? H5Screate_simple(1, &n, nullptr) : H5Screate(H5S_SCALAR));
    Handle attr = create(types[kind - 1], space.get());
    if (attr.valid() && n > 0) H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, values.data());
  }
}

}  // namespace

void write_recipe_file(const std::string& path, Bytes& bytes, const RecipeVocabulary& vocabulary) {
  io::detail::ensure_library();  // silences HDF5's error printing: refused objects are expected here
  std::remove(path.c_str());
  Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  if (!file.valid()) {
    std::fprintf(stderr, "qvae-fuzz: cannot create %s\n", path.c_str());
    std::abort();
  }
  for (std::size_t op = 0; op < kMaxOperations && !bytes.empty(); ++op) {
    switch (bytes.u8() % 4) {
      case 0:
        write_dataset(file.get(), bytes, vocabulary);
        break;
      case 1:
        write_attribute(file.get(), "/", bytes, vocabulary);
        break;
      case 2: {
        const std::string object = pick_name(bytes, vocabulary);
        write_attribute(file.get(), object, bytes, vocabulary);
        break;
      }
      default: {
        const std::string name = pick_name(bytes, vocabulary);
        Handle group(H5Gcreate2(file.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
        break;
      }
    }
  }
  if (H5Fclose(file.release()) < 0) {
    std::fprintf(stderr, "qvae-fuzz: cannot close %s\n", path.c_str());
    std::abort();
  }
}

}  // namespace qvae::fuzz
