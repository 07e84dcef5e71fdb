// CaloChallenge shower files (data::CaloReader): a recipe file is opened with
// no, a matching or a mismatching geometry and its first rows are read and
// checked as training reads them.  Only core::Error may come out.
#include <algorithm>

#include "fuzz_support.hpp"
#include "h5_recipe.hpp"
#include "qvae/data/calo_file.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  qvae::fuzz::start_runtime();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace qvae;
  static const fuzz::RecipeVocabulary vocabulary{
      {data::kIncidentEnergies, data::kShowers, "geometry", "qvae_version", "seed"},
      {"ds1-photons", "ds1-pions", "ds2", "ds3", "ds9", ""},
      {368, 533, 6480, 40500, 1, 367}};
  fuzz::Bytes bytes(data, size);
  const std::uint8_t geometry_choice = bytes.u8();
  const std::string path = fuzz::scratch_dir() + "/calo.h5";
  fuzz::write_recipe_file(path, bytes, vocabulary);
  fuzz::expect_clean("fuzz_calo_file", [&] {
    static const char* geometries[] = {"", "ds1-photons", "ds1-pions", "ds2"};
    data::CaloReader reader(path, fuzz::world(), geometries[geometry_choice % 4]);
    // Training reads bounded batches; the first few rows exercise every check.
    const par::Block rows{0, std::min<std::int64_t>(reader.events(), 16)};
    reader.read_checked(rows);
  });
  return 0;
}
