// qvae-samples files: the format check, resuming chains from `samples`
// (rbm::read_chains) and clamp values (rbm::read_clamp_values) read from
// `values` or `samples` for a fixed 2-partition machine of 4 units.
#include "fuzz_support.hpp"
#include "h5_recipe.hpp"
#include "qvae/io/attributes.hpp"
#include "qvae/rbm/sampling.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  qvae::fuzz::start_runtime();
  return 0;
}

namespace {
const qvae::rbm::BoltzmannMachine& small_machine() {
  static const qvae::rbm::BoltzmannMachine machine = [] {
    qvae::graph::PartitionedGraph graph;
    graph.topology = "test";
    graph.partitions = 2;
    graph.partition = {0, 0, 1, 1};
    graph.couplers = {{0, 2}, {0, 3}, {1, 2}, {1, 3}};
    return qvae::rbm::BoltzmannMachine(graph);
  }();
  return machine;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace qvae;
  static const fuzz::RecipeVocabulary vocabulary{
      {"format", "format_version", "samples", "energies", "chain_sweeps", "chain_seed", "values", "beta", "rbm"},
      {rbm::kSamplesFormat, rbm::kRbmFormat, ""},
      {2, 4, 3, 5}};
  fuzz::Bytes bytes(data, size);
  const std::uint8_t options = bytes.u8();
  const std::int64_t units = options % 6;
  const std::int64_t total_chains = (options >> 3) % 6;
  const std::vector<int> clamped = options & 0x40 ? std::vector<int>{0} : std::vector<int>{1, 0};
  const std::string path = fuzz::scratch_dir() + "/samples.h5";
  fuzz::write_recipe_file(path, bytes, vocabulary);
  fuzz::expect_clean("fuzz_samples_file", [&] {
    io::require_format(io::File::open_parallel(path, fuzz::world()), rbm::kSamplesFormat, rbm::kSamplesFormatVersion);
  });
  fuzz::expect_clean("fuzz_samples_file", [&] { rbm::read_chains(path, fuzz::world(), units); });
  fuzz::expect_clean("fuzz_samples_file",
                     [&] { rbm::read_clamp_values(path, fuzz::world(), small_machine(), clamped, total_chains); });
  return 0;
}
