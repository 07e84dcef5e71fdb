// Structure-aware inputs for the HDF5 readers: the fuzz bytes are a recipe
// (which datasets, attributes and groups exist, their names, ranks, shapes,
// types and values) from which a VALID HDF5 file is written.  The readers are
// then fed files libhdf5 parses without trouble, so the fuzzer explores our
// validation instead of libhdf5's own parser.
//
// Recipe grammar (tests/fuzz/make_seeds.py writes seeds in it), one operation
// after another until the input ends (at most 24):
//   op % 4: 0 dataset, 1 root attribute, 2 attribute on a dataset, 3 group
//   dataset:   NAME TYPE RANK DIM*rank FILL [values]
//   attribute: [NAME of the dataset, op 2] NAME KIND [values]
//   NAME  byte < 0xF0: vocabulary name; else LEN%24 raw bytes
//   TYPE  %10: f32 f64 i8 i32 i64 u8 u64 i64-big-endian vlen-string fixed-string
//   RANK  %4 (0 = scalar);  DIM < 64: itself, < 0xE0: vocabulary size, else huge
//   FILL  %4: 0 nothing written (the dataset reads as fill values), 1 one VALUE
//         everywhere, 2 one VALUE per element, 3 VALUE * element index
//   VALUE %16: 0 1 -1 0.5 NaN +inf -inf 1e308 -1e308 5e-324 2 255 1e6
//         13: int16 from 2 bytes, 14: float64 from 8 bytes, 15: 1e19
//   KIND  %8: string, int64, uint64, float64, float64[LEN%8], int64[LEN%8],
//         two strings, fixed-length string;  a string is STR:
//   STR   byte < 0xC0: vocabulary string; else LEN%64 raw bytes
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.hpp"

namespace qvae::fuzz {

/// What the reader under test looks for, so recipes reach it quickly.
struct RecipeVocabulary {
  std::vector<std::string> names;    ///< dataset, group and attribute names
  std::vector<std::string> strings;  ///< string values (formats, geometry names, INI text)
  std::vector<std::uint64_t> dims;   ///< sizes that matter (voxel counts, node counts)
};

/// Writes the file the recipe in `bytes` describes to `path` (replacing it).
/// Objects HDF5 refuses to create (a clashing name, an impossible size) are
/// skipped; the result is always a well-formed HDF5 file.
void write_recipe_file(const std::string& path, Bytes& bytes, const RecipeVocabulary& vocabulary);

}  // namespace qvae::fuzz
